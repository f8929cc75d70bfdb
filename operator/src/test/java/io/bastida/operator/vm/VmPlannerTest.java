package io.bastida.operator.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.operator.vm.domain.DomainPlan;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VmPlannerTest {

  @Test
  void identityDerivesFromTheResourceAndIsStable() {
    assertThat(VmIdentity.domainName("school", "web")).isEqualTo("school_web");
    assertThat(VmIdentity.domainUuid("uid-1")).isEqualTo(VmIdentity.domainUuid("uid-1"));
    assertThat(VmIdentity.domainUuid("uid-1")).isNotEqualTo(VmIdentity.domainUuid("uid-2"));
    assertThat(VmIdentity.macAddress("uid-1", "lan"))
        .matches("52:54:00(:[0-9a-f]{2}){3}")
        .isEqualTo(VmIdentity.macAddress("uid-1", "lan"))
        .isNotEqualTo(VmIdentity.macAddress("uid-1", "wan"));
    assertThat(VmIdentity.volumeName("school", "web", "root")).isEqualTo("school-web-root.qcow2");
    assertThat(VmIdentity.resourceOf("school_web"))
        .contains(new io.javaoperatorsdk.operator.processing.event.ResourceID("web", "school"));
    assertThat(VmIdentity.resourceOf("legacy-dhcp")).isEmpty();
    assertThat(VmIdentity.resourceOf("_x")).isEmpty();
  }

  @Test
  void cpuAndMemoryBecomeTopologyCurrentAndMaximum() {
    VirtualMachineSpec spec = spec();
    spec.cpu.sockets = 2;
    spec.cpu.cores = 2;
    spec.cpu.maxSockets = 4;
    spec.memory.size = "1Gi";
    spec.memory.max = "4Gi";

    DomainPlan plan = plan(spec, Map.of());

    assertThat(plan.cpu().current()).isEqualTo(4);
    assertThat(plan.cpu().maximum()).isEqualTo(8);
    assertThat(plan.memoryMiB()).isEqualTo(1024);
    assertThat(plan.maxMemoryMiB()).isEqualTo(4096);
    assertThat(VmPlanner.vcpus(spec)).isEqualTo(4);
    assertThat(plan.shape().cpu().current()).isEqualTo(8);
    assertThat(plan.shape().memoryMiB()).isEqualTo(4096);
  }

  @Test
  void disksGetTargetsPerBusAndIsosBecomeSataCdroms() {
    VirtualMachineSpec spec = spec();
    spec.disks =
        List.of(
            disk("root", VirtualMachineSpec.Bus.virtio, false),
            disk("data", VirtualMachineSpec.Bus.virtio, false),
            disk("legacy", VirtualMachineSpec.Bus.sata, false),
            disk("installer", VirtualMachineSpec.Bus.virtio, true));

    var disks = plan(spec, Map.of()).disks();

    assertThat(disks)
        .extracting(
            DomainPlan.Disk::name,
            DomainPlan.Disk::target,
            DomainPlan.Disk::bus,
            DomainPlan.Disk::cdrom)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("root", "vda", DomainPlan.Bus.virtio, false),
            org.assertj.core.groups.Tuple.tuple("data", "vdb", DomainPlan.Bus.virtio, false),
            org.assertj.core.groups.Tuple.tuple("legacy", "sda", DomainPlan.Bus.sata, false),
            org.assertj.core.groups.Tuple.tuple("installer", "sdb", DomainPlan.Bus.sata, true));
    assertThat(disks.get(3).readOnly()).isTrue();
    assertThat(disks.get(3).format()).isEqualTo("raw");
  }

  @Test
  void interfacesKeepAGivenMacOrGetTheDerivedOne() {
    VirtualMachineSpec spec = spec();
    var given = new VirtualMachineSpec.NetworkInterface();
    given.name = "lan";
    given.bridge = "br0";
    given.macAddress = "52:54:00:AB:CD:EF";
    var derived = new VirtualMachineSpec.NetworkInterface();
    derived.name = "dmz";
    derived.network = "default";
    derived.model = VirtualMachineSpec.NicModel.e1000;
    spec.interfaces = List.of(given, derived);

    var nics = plan(spec, Map.of()).nics();

    assertThat(nics.get(0).mac()).isEqualTo("52:54:00:ab:cd:ef");
    assertThat(nics.get(0).model()).isEqualTo("virtio");
    assertThat(nics.get(1).mac()).isEqualTo(VmIdentity.macAddress("uid-1", "dmz"));
    assertThat(nics.get(1).model()).isEqualTo("e1000");
    assertThat(nics.get(1).network()).isEqualTo("default");
  }

  @Test
  void pciPassthroughBecomesAHostDeviceInsteadOfANic() {
    VirtualMachineSpec spec = spec();
    var nic = new VirtualMachineSpec.NetworkInterface();
    nic.name = "fast";
    nic.pciPassthrough = new VirtualMachineSpec.PciPassthrough();
    nic.pciPassthrough.address = "0000:3b:1f.7";
    spec.interfaces = List.of(nic);

    var plan = plan(spec, Map.of());

    assertThat(plan.nics()).isEmpty();
    assertThat(plan.hostDevices()).containsExactly(new DomainPlan.PciDevice(0, 0x3b, 0x1f, 7));
  }

  @Test
  void placementRequestCarriesSelectorsPinsAndAntiAffinity() {
    VirtualMachineSpec spec = spec();
    spec.hostName = "host-a";
    spec.hostSelector = Map.of("rack", "1");
    var rule = new VirtualMachineSpec.AntiAffinity();
    rule.matchLabels = Map.of("app", "web");
    rule.type = VirtualMachineSpec.AntiAffinityType.Preferred;
    spec.antiAffinity = List.of(rule);

    var request = VmPlanner.placementRequest("school", "web", spec);

    assertThat(request.pinnedHost()).isEqualTo("host-a");
    assertThat(request.hostSelector()).containsEntry("rack", "1");
    assertThat(request.antiAffinity())
        .containsExactly(new PlacementPlanner.AntiAffinityRule(Map.of("app", "web"), false));
    assertThat(request.memoryMiB()).isEqualTo(512);
  }

  private static DomainPlan plan(
      VirtualMachineSpec spec, Map<String, DomainPlan.DiskSource> sources) {
    return VmPlanner.domainPlan("school", "web", "uid-1", spec, sources, "qemu", "0.0.0.0", null);
  }

  private static VirtualMachineSpec.Disk disk(
      String name, VirtualMachineSpec.Bus bus, boolean iso) {
    var disk = new VirtualMachineSpec.Disk();
    disk.name = name;
    disk.bus = bus;
    if (iso) {
      disk.iso = new VirtualMachineSpec.VolumeRef();
    } else {
      disk.blank = new VirtualMachineSpec.BlankVolume();
    }
    return disk;
  }

  private static VirtualMachineSpec spec() {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "512Mi";
    return spec;
  }
}
