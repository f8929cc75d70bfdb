package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.xml.SafeXml;
import java.util.List;
import java.util.Map;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

class BootCheckDomainTest {
  private static final String VM_DOMAIN =
      """
      <domain type='qemu'>
        <name>school_web</name>
        <uuid>7d1c1e55-7a43-4a1c-9c5e-6a1f3e0b7c11</uuid>
        <metadata><bastida:vm xmlns:bastida='https://bastida.io/xmlns/domain/v1'
            namespace='school' name='web' uid='u-1'/></metadata>
        <memory unit='MiB'>512</memory>
        <os firmware='efi'><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/web.fd</nvram></os>
        <on_crash>destroy</on_crash>
        <devices>
          <disk type='network' device='disk'>
            <driver name='qemu' type='qcow2'/>
            <source protocol='nfs' name='/export/school-web-root.qcow2'>
              <host name='10.77.0.10'/>
            </source>
            <target dev='vda' bus='virtio'/>
          </disk>
          <disk type='file' device='cdrom'>
            <driver name='qemu' type='raw'/>
            <source file='/srv/vms/school-web-seed.iso'/>
            <target dev='sda' bus='sata'/>
            <readonly/>
          </disk>
          <interface type='bridge'><source bridge='br0'/><mac address='52:54:00:aa:bb:cc'/></interface>
          <hostdev mode='subsystem' type='pci'/>
          <serial type='pty'><log file='/var/log/libvirt/qemu/school_web-serial.log'/></serial>
          <channel type='unix'><source mode='bind' path='/run/x.sock'/>
            <target type='virtio' name='org.qemu.guest_agent.0'/></channel>
          <graphics type='vnc' port='-1'/>
          <panic model='isa'/>
        </devices>
      </domain>
      """;

  @Test
  void bootsOverlaysOfTheBackupAndSharesNothingWithTheVm() throws Exception {
    Document xml =
        SafeXml.parse(
            BootCheckDomain.definition(
                VM_DOMAIN,
                "bastida-verify-1234",
                Map.of(
                    "vda",
                    new BootCheckDomain.FileOverlay(
                        "/srv/backups/bastida-backups/school/web/b1/verify-vda.qcow2"))));

    assertThat(text(xml, "/domain/name")).isEqualTo("bastida-verify-1234");
    assertThat(text(xml, "count(/domain/uuid)")).isEqualTo("0");
    assertThat(text(xml, "count(/domain/metadata)")).as("not the VM's domain").isEqualTo("0");
    assertThat(text(xml, "count(/domain/os/nvram)")).isEqualTo("0");
    assertThat(text(xml, "/domain/devices/disk[target/@dev='vda']/@type")).isEqualTo("file");
    assertThat(text(xml, "/domain/devices/disk[target/@dev='vda']/source/@file"))
        .isEqualTo("/srv/backups/bastida-backups/school/web/b1/verify-vda.qcow2");
    assertThat(text(xml, "/domain/devices/disk[target/@dev='sda']/source/@file"))
        .as("read-only seed kept")
        .isEqualTo("/srv/vms/school-web-seed.iso");
    assertThat(text(xml, "count(/domain/devices/interface)")).isEqualTo("0");
    assertThat(text(xml, "count(/domain/devices/hostdev)")).isEqualTo("0");
    assertThat(text(xml, "count(/domain/devices/graphics)")).isEqualTo("0");
    assertThat(text(xml, "count(/domain/devices/serial/log)")).isEqualTo("0");
    assertThat(text(xml, "count(/domain/devices/channel/source)")).isEqualTo("0");
    assertThat(text(xml, "/domain/devices/panic/@model")).as("crashes still show").isEqualTo("isa");
    assertThat(text(xml, "/domain/on_crash")).isEqualTo("destroy");
  }

  @Test
  void anOverlayOnNfsIsOpenedByQemuAsRoot() throws Exception {
    Document xml =
        SafeXml.parse(
            BootCheckDomain.definition(
                VM_DOMAIN,
                "bastida-verify-1234",
                Map.of(
                    "vda",
                    new BootCheckDomain.NfsOverlay(
                        "10.77.0.10",
                        "/export/bastida-backups/school/web/b2/verify-vda.qcow2",
                        List.of(
                            "/export/bastida-backups/school/web/b2/vda.qcow2",
                            "/export/bastida-backups/school/web/b1/vda.qcow2")))));

    String disk = "/domain/devices/disk[target/@dev='vda']";
    assertThat(text(xml, disk + "/@type")).isEqualTo("network");
    assertThat(text(xml, disk + "/source/@protocol")).isEqualTo("nfs");
    assertThat(text(xml, disk + "/source/@name"))
        .isEqualTo("/export/bastida-backups/school/web/b2/verify-vda.qcow2");
    assertThat(text(xml, disk + "/source/host/@name")).isEqualTo("10.77.0.10");
    assertThat(text(xml, disk + "/source/identity/@user")).isEqualTo("root");
    assertThat(text(xml, "count(" + disk + "/source)")).isEqualTo("1");
    // The chain under it, named so that QEMU opens each image as root too.
    String first = disk + "/backingStore";
    assertThat(text(xml, first + "/@type")).isEqualTo("network");
    assertThat(text(xml, first + "/format/@type")).isEqualTo("qcow2");
    assertThat(text(xml, first + "/source/@name"))
        .isEqualTo("/export/bastida-backups/school/web/b2/vda.qcow2");
    assertThat(text(xml, first + "/source/identity/@group")).isEqualTo("root");
    assertThat(text(xml, first + "/backingStore/source/@name"))
        .isEqualTo("/export/bastida-backups/school/web/b1/vda.qcow2");
    assertThat(text(xml, "count(" + first + "/backingStore/backingStore/*)"))
        .as("ends the chain")
        .isEqualTo("0");
    assertThat(text(xml, "count(" + first + "/backingStore/backingStore)")).isEqualTo("1");
  }

  @Test
  void knowsWhetherTheGuestHasAnAgentToAsk() {
    assertThat(BootCheckDomain.hasGuestAgent(VM_DOMAIN)).isTrue();
    assertThat(
            BootCheckDomain.hasGuestAgent(
                "<domain><devices><serial type='pty'><target port='0'/></serial></devices>"
                    + "</domain>"))
        .isFalse();
  }

  @Test
  void aDiskTheDomainLacksIsRefused() {
    assertThatThrownBy(
            () ->
                BootCheckDomain.definition(
                    VM_DOMAIN, "v", Map.of("vdb", new BootCheckDomain.FileOverlay("/srv/x.qcow2"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("vdb");
  }

  private static String text(Document xml, String xpath) throws Exception {
    return XPathFactory.newInstance().newXPath().evaluate(xpath, xml);
  }
}
