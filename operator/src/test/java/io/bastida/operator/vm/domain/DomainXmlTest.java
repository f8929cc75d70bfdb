package io.bastida.operator.vm.domain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.operator.vm.domain.DomainPlan.Bus;
import io.bastida.operator.vm.domain.DomainPlan.Cpu;
import io.bastida.operator.vm.domain.DomainPlan.Disk;
import io.bastida.operator.vm.domain.DomainPlan.DiskSource;
import io.bastida.operator.vm.domain.DomainPlan.Firmware;
import io.bastida.operator.vm.domain.DomainPlan.Graphics;
import io.bastida.operator.vm.domain.DomainPlan.KernelBoot;
import io.bastida.operator.vm.domain.DomainPlan.Nic;
import io.bastida.operator.vm.domain.DomainPlan.Owner;
import io.bastida.operator.vm.domain.DomainPlan.PciDevice;
import java.io.File;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;

class DomainXmlTest {
  private static final Owner OWNER =
      new Owner("school", "web", "0b6c1f3e-6a2e-4d8e-9a57-1c1e4a9d2f10");

  @Test
  void identifiesTheDomainAndItsOwner() throws Exception {
    Plan plan = new Plan();
    Document xml = render(plan);

    assertThat(text(xml, "/domain/@type")).isEqualTo("kvm");
    assertThat(text(xml, "/domain/name")).isEqualTo(plan.name);
    assertThat(text(xml, "/domain/uuid")).isEqualTo(plan.uuid.toString());
    assertThat(text(xml, "/domain/title")).isEqualTo("school/web");
    assertThat(count(xml, "/domain/metadata/*")).isEqualTo(1);
    assertThat(xml.getElementsByTagNameNS(DomainPlan.METADATA_NAMESPACE, "vm").getLength())
        .isEqualTo(1);
    assertThat(text(xml, "/domain/metadata/*[local-name()='vm']/@namespace")).isEqualTo("school");
    assertThat(text(xml, "/domain/metadata/*[local-name()='vm']/@name")).isEqualTo("web");
    assertThat(text(xml, "/domain/metadata/*[local-name()='vm']/@uid")).isEqualTo(OWNER.uid());
  }

  @Test
  void typeIsTakenAsGiven() throws Exception {
    Plan plan = new Plan();
    plan.type = "qemu";

    assertThat(text(render(plan), "/domain/@type")).isEqualTo("qemu");
  }

  @Test
  void memoryAndVcpusMayGrowLiveUpToTheirMaximum() throws Exception {
    Plan plan = new Plan();
    plan.memoryMiB = 2048;
    plan.maxMemoryMiB = 8192;
    plan.cpu = new Cpu(2, 2, 2, 3, null);
    Document xml = render(plan);

    assertThat(text(xml, "/domain/memory")).isEqualTo("8192");
    assertThat(text(xml, "/domain/memory/@unit")).isEqualTo("MiB");
    assertThat(text(xml, "/domain/currentMemory")).isEqualTo("2048");
    assertThat(text(xml, "/domain/currentMemory/@unit")).isEqualTo("MiB");
    assertThat(count(xml, "/domain/maxMemory")).isZero();
    assertThat(text(xml, "/domain/vcpu")).isEqualTo("8");
    assertThat(text(xml, "/domain/vcpu/@current")).isEqualTo("3");
    assertThat(text(xml, "/domain/vcpu/@placement")).isEqualTo("static");
    assertThat(text(xml, "/domain/cpu/topology/@sockets")).isEqualTo("2");
    assertThat(text(xml, "/domain/cpu/topology/@cores")).isEqualTo("2");
    assertThat(text(xml, "/domain/cpu/topology/@threads")).isEqualTo("2");
  }

  @ParameterizedTest
  @ValueSource(strings = {"host-model", "host-passthrough"})
  void hostCpuModesAreModes(String model) throws Exception {
    Plan plan = new Plan();
    plan.cpu = new Cpu(1, 2, 1, 2, model);
    Document xml = render(plan);

    assertThat(text(xml, "/domain/cpu/@mode")).isEqualTo(model);
    assertThat(count(xml, "/domain/cpu/model")).isZero();
    assertThat(count(xml, "/domain/cpu/@match")).isZero();
    assertThat(text(xml, "/domain/cpu/topology/@cores")).isEqualTo("2");
  }

  @Test
  void namedCpuModelIsExactWithoutFallback() throws Exception {
    Plan plan = new Plan();
    plan.cpu = new Cpu(1, 2, 1, 2, "Skylake-Client");
    Document xml = render(plan);

    assertThat(text(xml, "/domain/cpu/@mode")).isEqualTo("custom");
    assertThat(text(xml, "/domain/cpu/@match")).isEqualTo("exact");
    assertThat(text(xml, "/domain/cpu/model")).isEqualTo("Skylake-Client");
    assertThat(text(xml, "/domain/cpu/model/@fallback")).isEqualTo("forbid");
  }

  @Test
  void noCpuModelLeavesOnlyTheTopology() throws Exception {
    Document xml = render(new Plan());

    assertThat(count(xml, "/domain/cpu/@*")).isZero();
    assertThat(count(xml, "/domain/cpu/*")).isEqualTo(1);
    assertThat(count(xml, "/domain/cpu/topology")).isEqualTo(1);
  }

  @Test
  void biosIsQ35WithoutFirmwareSelection() throws Exception {
    Document xml = render(new Plan());

    assertThat(text(xml, "/domain/os/type")).isEqualTo("hvm");
    assertThat(text(xml, "/domain/os/type/@arch")).isEqualTo("x86_64");
    assertThat(text(xml, "/domain/os/type/@machine")).isEqualTo("q35");
    assertThat(count(xml, "/domain/os/@firmware")).isZero();
    assertThat(count(xml, "/domain/os/loader | /domain/os/nvram")).isZero();
  }

  @Test
  void uefiAsksLibvirtToSelectEfiFirmware() throws Exception {
    Plan plan = new Plan();
    plan.firmware = Firmware.UEFI;

    assertThat(text(render(plan), "/domain/os/@firmware")).isEqualTo("efi");
  }

  @Test
  void kernelBootNamesKernelInitrdAndCmdline() throws Exception {
    Plan plan = new Plan();
    plan.kernelBoot =
        new KernelBoot("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0 root=/dev/vda1");
    Document xml = render(plan);

    assertThat(text(xml, "/domain/os/kernel")).isEqualTo("/boot/vmlinuz");
    assertThat(text(xml, "/domain/os/initrd")).isEqualTo("/boot/initrd.img");
    assertThat(text(xml, "/domain/os/cmdline")).isEqualTo("console=ttyS0 root=/dev/vda1");
  }

  @Test
  void withoutKernelBootTheOsHasOnlyItsType() throws Exception {
    Document xml = render(new Plan());

    assertThat(count(xml, "/domain/os/*")).isEqualTo(1);
    assertThat(count(xml, "/domain/os/boot")).isZero();
  }

  @Test
  void acpiAndLifecycleActions() throws Exception {
    Document xml = render(new Plan());

    assertThat(count(xml, "/domain/features/acpi")).isEqualTo(1);
    assertThat(count(xml, "/domain/features/apic")).isEqualTo(1);
    assertThat(text(xml, "/domain/on_poweroff")).isEqualTo("destroy");
    assertThat(text(xml, "/domain/on_reboot")).isEqualTo("restart");
    assertThat(text(xml, "/domain/on_crash")).isEqualTo("destroy");
  }

  @Test
  void alwaysABalloonAnRngAndASerialConsoleButNoEmulator() throws Exception {
    Document xml = render(new Plan());

    assertThat(count(xml, "//emulator")).isZero();
    assertThat(text(xml, "/domain/devices/memballoon/@model")).isEqualTo("virtio");
    assertThat(text(xml, "/domain/devices/rng/@model")).isEqualTo("virtio");
    assertThat(text(xml, "/domain/devices/rng/backend/@model")).isEqualTo("random");
    assertThat(text(xml, "/domain/devices/rng/backend")).isEqualTo("/dev/urandom");
    assertThat(text(xml, "/domain/devices/panic/@model")).isEqualTo("isa");
    assertThat(text(xml, "/domain/on_crash")).isEqualTo("destroy");
    assertThat(text(xml, "/domain/devices/serial/@type")).isEqualTo("pty");
    assertThat(count(xml, "/domain/devices/serial/log")).isZero();
    assertThat(text(xml, "/domain/devices/console/@type")).isEqualTo("pty");
    assertThat(text(xml, "/domain/devices/console/target/@type")).isEqualTo("serial");
  }

  @Test
  void serialLogIsWrittenFreshEachBoot() throws Exception {
    Plan plan = new Plan();
    plan.serialLogPath = "/var/log/bastida/web.log";
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/serial/log/@file")).isEqualTo("/var/log/bastida/web.log");
    assertThat(text(xml, "/domain/devices/serial/log/@append")).isEqualTo("off");
  }

  @Test
  void fileDisk() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(fileDisk("root", "vda", Bus.virtio, 1, "/srv/vms/web-root.qcow2"));
    Document xml = render(plan);

    assertThat(count(xml, "/domain/devices/disk")).isEqualTo(1);
    assertThat(text(xml, "/domain/devices/disk/@type")).isEqualTo("file");
    assertThat(text(xml, "/domain/devices/disk/@device")).isEqualTo("disk");
    assertThat(text(xml, "/domain/devices/disk/driver/@name")).isEqualTo("qemu");
    assertThat(text(xml, "/domain/devices/disk/driver/@type")).isEqualTo("qcow2");
    assertThat(text(xml, "/domain/devices/disk/source/@file")).isEqualTo("/srv/vms/web-root.qcow2");
    assertThat(text(xml, "/domain/devices/disk/target/@dev")).isEqualTo("vda");
    assertThat(text(xml, "/domain/devices/disk/target/@bus")).isEqualTo("virtio");
    assertThat(count(xml, "/domain/devices/disk/readonly")).isZero();
  }

  @Test
  void readOnlyDisk() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(
        new Disk(
            "data", "vdb", Bus.virtio, null, false, true, "raw", new DiskSource.File("/srv/d")));

    assertThat(count(render(plan), "/domain/devices/disk/readonly")).isEqualTo(1);
  }

  @Test
  void nfsDiskIsOpenedByQemuAsRoot() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(nfsDisk());
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/disk/@type")).isEqualTo("network");
    assertThat(text(xml, "/domain/devices/disk/@device")).isEqualTo("disk");
    assertThat(text(xml, "/domain/devices/disk/driver/@type")).isEqualTo("qcow2");
    assertThat(text(xml, "/domain/devices/disk/source/@protocol")).isEqualTo("nfs");
    assertThat(text(xml, "/domain/devices/disk/source/@name")).isEqualTo("/volume1/vms/web.qcow2");
    assertThat(count(xml, "/domain/devices/disk/source/@file")).isZero();
    assertThat(text(xml, "/domain/devices/disk/source/host/@name")).isEqualTo("nas.school.lan");
    assertThat(text(xml, "/domain/devices/disk/source/identity/@user")).isEqualTo("root");
    assertThat(text(xml, "/domain/devices/disk/source/identity/@group")).isEqualTo("root");
  }

  @Test
  void cdromIsReadOnlyOnItsBus() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(cdrom(null));
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/disk/@device")).isEqualTo("cdrom");
    assertThat(text(xml, "/domain/devices/disk/driver/@type")).isEqualTo("raw");
    assertThat(text(xml, "/domain/devices/disk/target/@bus")).isEqualTo("sata");
    assertThat(text(xml, "/domain/devices/disk/target/@dev")).isEqualTo("sda");
    assertThat(count(xml, "/domain/devices/disk/readonly")).isEqualTo(1);
  }

  @Test
  void scsiDisksShareOneVirtioScsiController() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(fileDisk("a", "sda", Bus.scsi, null, "/srv/a.qcow2"));
    plan.disks.add(fileDisk("b", "sdb", Bus.scsi, null, "/srv/b.qcow2"));
    Document xml = render(plan);

    assertThat(count(xml, "/domain/devices/controller")).isEqualTo(1);
    assertThat(text(xml, "/domain/devices/controller/@type")).isEqualTo("scsi");
    assertThat(text(xml, "/domain/devices/controller/@model")).isEqualTo("virtio-scsi");
  }

  @Test
  void noScsiControllerWithoutScsiDisks() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(fileDisk("root", "vda", Bus.virtio, 1, "/srv/root.qcow2"));
    plan.disks.add(cdrom(null));

    assertThat(count(render(plan), "/domain/devices/controller")).isZero();
  }

  @Test
  void bootOrderIsPerDevice() throws Exception {
    Plan plan = new Plan();
    plan.disks.add(fileDisk("root", "vda", Bus.virtio, 2, "/srv/root.qcow2"));
    plan.disks.add(fileDisk("data", "vdb", Bus.virtio, null, "/srv/data.qcow2"));
    plan.disks.add(cdrom(1));
    plan.nics.add(bridgeNic("virtio", 3));
    plan.nics.add(networkNic("virtio", null));
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/disk[target/@dev='vda']/boot/@order")).isEqualTo("2");
    assertThat(count(xml, "/domain/devices/disk[target/@dev='vdb']/boot")).isZero();
    assertThat(text(xml, "/domain/devices/disk[target/@dev='sda']/boot/@order")).isEqualTo("1");
    assertThat(text(xml, "/domain/devices/interface[@type='bridge']/boot/@order")).isEqualTo("3");
    assertThat(count(xml, "/domain/devices/interface[@type='network']/boot")).isZero();
    assertThat(count(xml, "/domain/os/boot")).isZero();
  }

  @Test
  void bridgeNic() throws Exception {
    Plan plan = new Plan();
    plan.nics.add(bridgeNic("virtio", null));
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/interface/@type")).isEqualTo("bridge");
    assertThat(text(xml, "/domain/devices/interface/source/@bridge")).isEqualTo("br0");
    assertThat(count(xml, "/domain/devices/interface/source/@network")).isZero();
    assertThat(text(xml, "/domain/devices/interface/mac/@address")).isEqualTo("52:54:00:12:34:56");
  }

  @Test
  void networkNic() throws Exception {
    Plan plan = new Plan();
    plan.nics.add(networkNic("virtio", null));
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/interface/@type")).isEqualTo("network");
    assertThat(text(xml, "/domain/devices/interface/source/@network")).isEqualTo("default");
    assertThat(count(xml, "/domain/devices/interface/source/@bridge")).isZero();
    assertThat(text(xml, "/domain/devices/interface/mac/@address")).isEqualTo("52:54:00:ab:cd:ef");
  }

  @ParameterizedTest
  @ValueSource(strings = {"virtio", "e1000", "rtl8139"})
  void nicModel(String model) throws Exception {
    Plan plan = new Plan();
    plan.nics.add(bridgeNic(model, null));

    assertThat(text(render(plan), "/domain/devices/interface/model/@type")).isEqualTo(model);
  }

  @Test
  void pciPassthroughAddressesAreHex() throws Exception {
    Plan plan = new Plan();
    plan.hostDevices.add(new PciDevice(0, 3, 0, 0));
    plan.hostDevices.add(new PciDevice(1, 0x2a, 0x1f, 7));
    Document xml = render(plan);

    assertThat(count(xml, "/domain/devices/hostdev")).isEqualTo(2);
    assertThat(text(xml, "/domain/devices/hostdev[1]/@mode")).isEqualTo("subsystem");
    assertThat(text(xml, "/domain/devices/hostdev[1]/@type")).isEqualTo("pci");
    assertThat(text(xml, "/domain/devices/hostdev[1]/@managed")).isEqualTo("yes");
    String first = "/domain/devices/hostdev[1]/source/address/@";
    assertThat(text(xml, first + "domain")).isEqualTo("0x0000");
    assertThat(text(xml, first + "bus")).isEqualTo("0x03");
    assertThat(text(xml, first + "slot")).isEqualTo("0x00");
    assertThat(text(xml, first + "function")).isEqualTo("0x0");
    String second = "/domain/devices/hostdev[2]/source/address/@";
    assertThat(text(xml, second + "domain")).isEqualTo("0x0001");
    assertThat(text(xml, second + "bus")).isEqualTo("0x2a");
    assertThat(text(xml, second + "slot")).isEqualTo("0x1f");
    assertThat(text(xml, second + "function")).isEqualTo("0x7");
  }

  @ParameterizedTest
  @ValueSource(strings = {"vnc", "spice"})
  void graphicsListenOnTheGivenAddressWithAVirtioVideo(String type) throws Exception {
    Plan plan = new Plan();
    plan.graphics = new Graphics(type, "127.0.0.1");
    Document xml = render(plan);

    assertThat(count(xml, "/domain/devices/graphics")).isEqualTo(1);
    assertThat(text(xml, "/domain/devices/graphics/@type")).isEqualTo(type);
    assertThat(text(xml, "/domain/devices/graphics/@autoport")).isEqualTo("yes");
    assertThat(text(xml, "/domain/devices/graphics/@listen")).isEqualTo("127.0.0.1");
    assertThat(text(xml, "/domain/devices/graphics/listen/@type")).isEqualTo("address");
    assertThat(text(xml, "/domain/devices/graphics/listen/@address")).isEqualTo("127.0.0.1");
    assertThat(text(xml, "/domain/devices/video/model/@type")).isEqualTo("virtio");
  }

  @Test
  void headlessHasNoGraphicsAndNoVideo() throws Exception {
    Document xml = render(new Plan());

    assertThat(count(xml, "//graphics | //video")).isZero();
  }

  @Test
  void guestAgentChannel() throws Exception {
    Plan plan = new Plan();
    plan.guestAgentChannel = true;
    Document xml = render(plan);

    assertThat(text(xml, "/domain/devices/channel/@type")).isEqualTo("unix");
    assertThat(text(xml, "/domain/devices/channel/target/@type")).isEqualTo("virtio");
    assertThat(text(xml, "/domain/devices/channel/target/@name"))
        .isEqualTo("org.qemu.guest_agent.0");
  }

  @Test
  void noChannelWithoutGuestAgent() throws Exception {
    assertThat(count(render(new Plan()), "//channel")).isZero();
  }

  @Test
  void valuesCannotInjectElements() throws Exception {
    String hostile = "/srv/x'/><disk type='file'><source file='/etc/shadow'/></disk><x a='";
    String hostileText = "</name><devices><disk/></devices><name>";
    Plan plan = new Plan();
    plan.name = hostileText;
    plan.owner = new Owner("ns\"/><bastida:vm uid='stolen", hostileText, "u'/>");
    plan.kernelBoot = new KernelBoot(hostile, hostile, hostileText);
    plan.serialLogPath = hostile;
    plan.disks.add(fileDisk("root", "vda", Bus.virtio, null, hostile));
    plan.disks.add(
        new Disk(
            "nfs",
            "vdb",
            Bus.virtio,
            null,
            false,
            false,
            "raw",
            new DiskSource.Nfs(hostile, hostile)));
    plan.nics.add(new Nic("n", hostile, hostile, hostile, null, null));
    plan.graphics = new Graphics("vnc", hostile);
    Document xml = render(plan);

    assertThat(count(xml, "//disk")).isEqualTo(2);
    assertThat(count(xml, "/domain/devices")).isEqualTo(1);
    assertThat(count(xml, "//x")).isZero();
    assertThat(text(xml, "/domain/name")).isEqualTo(hostileText);
    assertThat(text(xml, "/domain/devices/disk[1]/source/@file")).isEqualTo(hostile);
    assertThat(text(xml, "/domain/devices/disk[2]/source/@name")).isEqualTo(hostile);
    assertThat(text(xml, "/domain/os/cmdline")).isEqualTo(hostileText);
    assertThat(text(xml, "/domain/devices/interface/source/@bridge")).isEqualTo(hostile);
    assertThat(xml.getElementsByTagNameNS(DomainPlan.METADATA_NAMESPACE, "vm").getLength())
        .isEqualTo(1);
    assertThat(DomainXml.ownerOf(DomainXml.render(plan.build()))).contains(plan.owner);
  }

  @Test
  void ownerRoundTrips() {
    assertThat(DomainXml.ownerOf(DomainXml.render(new Plan().build()))).contains(OWNER);
  }

  @Test
  void foreignDomainHasNoOwner() {
    String foreign =
        """
        <domain type='kvm'>
          <name>legacy</name>
          <metadata>
            <app:vm xmlns:app='https://example.org/app' namespace='school' name='web' uid='1'/>
          </metadata>
          <memory unit='KiB'>1048576</memory>
          <os><type arch='x86_64'>hvm</type></os>
        </domain>
        """;

    assertThat(DomainXml.ownerOf(foreign)).isEmpty();
    assertThat(DomainXml.ownerOf("<domain type='kvm'><name>bare</name></domain>")).isEmpty();
  }

  @Test
  void ownerOfRefusesDoctypes(@TempDir Path dir) throws Exception {
    Path secret = Files.writeString(dir.resolve("secret"), "school");
    String xxe =
        """
        <!DOCTYPE domain [<!ENTITY ns SYSTEM "%s">]>
        <domain type='kvm'><metadata>
          <bastida:vm xmlns:bastida='%s' namespace='&ns;' name='web' uid='1'/>
        </metadata></domain>
        """
            .formatted(secret.toUri(), DomainPlan.METADATA_NAMESPACE);

    assertThatThrownBy(() -> DomainXml.ownerOf(xxe)).isInstanceOf(IllegalArgumentException.class);
  }

  static Stream<Named<Plan>> representativePlans() {
    Plan minimal = new Plan();
    minimal.disks.add(fileDisk("root", "vda", Bus.virtio, 1, "/srv/vms/root.qcow2"));

    Plan full = new Plan();
    full.firmware = Firmware.UEFI;
    full.cpu = new Cpu(1, 4, 2, 4, "host-model");
    full.memoryMiB = 2048;
    full.maxMemoryMiB = 4096;
    full.disks.add(fileDisk("root", "vda", Bus.virtio, 2, "/srv/vms/root.qcow2"));
    full.disks.add(nfsDisk());
    full.disks.add(fileDisk("scratch", "sdb", Bus.scsi, null, "/srv/vms/scratch.qcow2"));
    full.disks.add(cdrom(1));
    full.nics.add(bridgeNic("virtio", 3));
    full.nics.add(networkNic("e1000", null));
    full.hostDevices.add(new PciDevice(0, 3, 0, 0));
    full.graphics = new Graphics("spice", "0.0.0.0");
    full.guestAgentChannel = true;
    full.serialLogPath = "/var/log/bastida/web.log";

    Plan kernel = new Plan();
    kernel.type = "qemu";
    kernel.cpu = new Cpu(2, 1, 1, 1, "Skylake-Client");
    kernel.kernelBoot = new KernelBoot("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0");
    kernel.disks.add(fileDisk("root", "sda", Bus.sata, null, "/srv/vms/root.raw"));
    kernel.nics.add(networkNic("rtl8139", null));
    kernel.graphics = new Graphics("vnc", "127.0.0.1");

    return Stream.of(
        Named.of("minimal BIOS", minimal),
        Named.of("every device kind, UEFI", full),
        Named.of("TCG kernel boot, named CPU", kernel));
  }

  @ParameterizedTest
  @MethodSource("representativePlans")
  void libvirtSchemaAcceptsTheXml(Plan plan, @TempDir Path dir) throws Exception {
    Optional<Path> validator = onPath("virt-xml-validate");
    // virt-xml-validate runs xmllint, which Debian's libvirt-clients does not pull in.
    Assumptions.assumeTrue(
        validator.isPresent() && onPath("xmllint").isPresent(),
        "virt-xml-validate (libvirt-clients) or xmllint (libxml2-utils) not installed");
    Path file = Files.writeString(dir.resolve("domain.xml"), DomainXml.render(plan.build()));

    Process process =
        new ProcessBuilder(validator.get().toString(), file.toString(), "domain")
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

    assertThat(process.waitFor()).as(output).isZero();
  }

  @ParameterizedTest
  @MethodSource("representativePlans")
  void libvirtTestDriverKeepsDevicesAndOwner(Plan plan) throws Exception {
    DomainPlan domainPlan = plan.build();
    Connect connect = new Connect("test:///default");
    try {
      Domain domain = connect.domainDefineXML(DomainXml.render(domainPlan));
      try {
        String kept = domain.getXMLDesc(0);
        Document xml = parse(kept);

        assertThat(DomainXml.ownerOf(kept)).contains(OWNER);
        assertThat(text(xml, "/domain/uuid")).isEqualTo(domainPlan.uuid().toString());
        assertThat(count(xml, "/domain/devices/disk")).isEqualTo(domainPlan.disks().size());
        for (Disk disk : domainPlan.disks()) {
          String path = "/domain/devices/disk[target/@dev='" + disk.target() + "']";
          assertThat(text(xml, path + "/target/@bus")).isEqualTo(disk.bus().name());
          assertThat(text(xml, path + "/boot/@order"))
              .isEqualTo(disk.bootOrder() == null ? "" : disk.bootOrder().toString());
        }
        assertThat(count(xml, "/domain/devices/interface")).isEqualTo(domainPlan.nics().size());
        for (Nic nic : domainPlan.nics()) {
          String path = "/domain/devices/interface[mac/@address='" + nic.mac() + "']";
          assertThat(text(xml, path + "/model/@type")).isEqualTo(nic.model());
          assertThat(text(xml, path + "/boot/@order"))
              .isEqualTo(nic.bootOrder() == null ? "" : nic.bootOrder().toString());
        }
        assertThat(count(xml, "/domain/devices/hostdev"))
            .isEqualTo(domainPlan.hostDevices().size());
      } finally {
        domain.undefine();
      }
    } finally {
      connect.close();
    }
  }

  /** A mutable template of a plan: each test changes only what it is about. */
  static final class Plan {
    String name = "bastida-school-web";
    UUID uuid = UUID.fromString("6f1f0cbe-4c4e-4a3a-9a38-5f1d3e2c7b01");
    Owner owner = OWNER;
    String type = "kvm";
    Cpu cpu = new Cpu(1, 1, 1, 1, null);
    long memoryMiB = 1024;
    long maxMemoryMiB = 1024;
    Firmware firmware = Firmware.BIOS;
    KernelBoot kernelBoot;
    final List<Disk> disks = new ArrayList<>();
    final List<Nic> nics = new ArrayList<>();
    final List<PciDevice> hostDevices = new ArrayList<>();
    Graphics graphics;
    boolean guestAgentChannel;
    String serialLogPath;

    DomainPlan build() {
      return new DomainPlan(
          name,
          uuid,
          owner,
          type,
          cpu,
          memoryMiB,
          maxMemoryMiB,
          firmware,
          kernelBoot,
          disks,
          nics,
          hostDevices,
          graphics,
          guestAgentChannel,
          serialLogPath);
    }
  }

  private static Disk fileDisk(String name, String target, Bus bus, Integer boot, String path) {
    return new Disk(name, target, bus, boot, false, false, "qcow2", new DiskSource.File(path));
  }

  private static Disk nfsDisk() {
    return new Disk(
        "shared",
        "vdc",
        Bus.virtio,
        null,
        false,
        false,
        "qcow2",
        new DiskSource.Nfs("nas.school.lan", "/volume1/vms/web.qcow2"));
  }

  private static Disk cdrom(Integer boot) {
    return new Disk(
        "installer",
        "sda",
        Bus.sata,
        boot,
        true,
        false,
        "raw",
        new DiskSource.File("/srv/iso/d.iso"));
  }

  private static Nic bridgeNic(String model, Integer boot) {
    return new Nic("lan", model, "52:54:00:12:34:56", "br0", null, boot);
  }

  private static Nic networkNic(String model, Integer boot) {
    return new Nic("nat", model, "52:54:00:ab:cd:ef", null, "default", boot);
  }

  private static Optional<Path> onPath(String command) {
    return Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .map(directory -> Path.of(directory, command))
        .filter(Files::isExecutable)
        .findFirst();
  }

  private static Document render(Plan plan) throws Exception {
    return parse(DomainXml.render(plan.build()));
  }

  private static Document parse(String xml) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    return factory.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
  }

  private static XPath xpath() {
    return XPathFactory.newInstance().newXPath();
  }

  private static String text(Document doc, String xpath) throws Exception {
    return (String) xpath().evaluate(xpath, doc, XPathConstants.STRING);
  }

  private static int count(Document doc, String xpath) throws Exception {
    return ((Double) xpath().evaluate("count(" + xpath + ")", doc, XPathConstants.NUMBER))
        .intValue();
  }
}
