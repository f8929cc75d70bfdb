package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.api.v1alpha1.VirtualMachineSpec.Disk;
import io.bastida.api.v1alpha1.VirtualMachineSpec.NetworkInterface;
import io.bastida.operator.vm.domain.DomainPlan;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Turns a VM's spec into what placement needs and into a {@link DomainPlan}. Pure. */
public final class VmPlanner {
  private static final long MIB = 1024 * 1024;

  private VmPlanner() {}

  /** The storage domain a disk's volume is in. */
  public static String storageDomainOf(VirtualMachineSpec.Disk disk) {
    if (disk.blank != null) {
      return disk.blank.storageDomainName;
    }
    if (disk.clone != null) {
      return disk.clone.storageDomainName;
    }
    return disk.image != null ? disk.image.storageDomainName : disk.iso.storageDomainName;
  }

  public static int vcpus(VirtualMachineSpec spec) {
    var cpu = spec.cpu;
    return value(cpu.sockets, 1) * value(cpu.cores, 1) * value(cpu.threads, 1);
  }

  public static long memoryMiB(VirtualMachineSpec spec) {
    return mebibytes(spec.memory.size);
  }

  public static long mebibytes(String quantity) {
    return Quantity.getAmountInBytes(new Quantity(quantity)).longValue() / MIB;
  }

  public static long bytes(String quantity) {
    return Quantity.getAmountInBytes(new Quantity(quantity)).longValue();
  }

  public static PlacementPlanner.Request placementRequest(
      String namespace, String name, VirtualMachineSpec spec) {
    return new PlacementPlanner.Request(
        namespace,
        name,
        vcpus(spec),
        memoryMiB(spec),
        spec.hostSelector == null ? Map.of() : spec.hostSelector,
        spec.hostName,
        spec.antiAffinity == null
            ? List.of()
            : spec.antiAffinity.stream()
                .map(
                    a ->
                        new PlacementPlanner.AntiAffinityRule(
                            a.matchLabels, a.type != VirtualMachineSpec.AntiAffinityType.Preferred))
                .toList());
  }

  /**
   * @param diskSources where each disk's bytes are, by disk name (resolved by the reconciler)
   * @param domainType what the host offers ({@code kvm}, {@code qemu}, {@code test})
   * @param consoleListen the address a graphical console listens on
   */
  public static DomainPlan domainPlan(
      String namespace,
      String name,
      String uid,
      VirtualMachineSpec spec,
      Map<String, DomainPlan.DiskSource> diskSources,
      String domainType,
      String consoleListen,
      String serialLogPath) {
    return domainPlan(
        namespace, name, uid, spec, diskSources, domainType, consoleListen, serialLogPath, null);
  }

  /**
   * @param cloudInitSeed where the cloud-init seed image is, attached as one more CD-ROM, or null
   */
  public static DomainPlan domainPlan(
      String namespace,
      String name,
      String uid,
      VirtualMachineSpec spec,
      Map<String, DomainPlan.DiskSource> diskSources,
      String domainType,
      String consoleListen,
      String serialLogPath,
      DomainPlan.DiskSource cloudInitSeed) {
    var cpu = spec.cpu;
    int sockets = value(cpu.sockets, 1);
    int maxSockets = Math.max(sockets, value(cpu.maxSockets, sockets));
    int cores = value(cpu.cores, 1);
    int threads = value(cpu.threads, 1);
    long memory = memoryMiB(spec);
    long maxMemory =
        spec.memory.max == null ? memory : Math.max(memory, mebibytes(spec.memory.max));
    return new DomainPlan(
        VmIdentity.domainName(namespace, name),
        VmIdentity.domainUuid(uid),
        new DomainPlan.Owner(namespace, name, uid),
        domainType,
        new DomainPlan.Cpu(maxSockets, cores, threads, sockets * cores * threads, cpu.model),
        memory,
        maxMemory,
        spec.firmware == VirtualMachineSpec.Firmware.UEFI
            ? DomainPlan.Firmware.UEFI
            : DomainPlan.Firmware.BIOS,
        spec.kernelBoot == null
            ? null
            : new DomainPlan.KernelBoot(
                spec.kernelBoot.kernel, spec.kernelBoot.initrd, spec.kernelBoot.cmdline),
        disks(spec.disks, diskSources, cloudInitSeed),
        nics(uid, spec.interfaces),
        hostDevices(spec.interfaces),
        spec.graphics == null
            ? null
            : new DomainPlan.Graphics(spec.graphics.type.name().toLowerCase(), consoleListen),
        !Boolean.FALSE.equals(spec.guestAgent),
        serialLogPath);
  }

  /** The device the guest sees each disk of the spec as (e.g. vda), by disk name. */
  public static Map<String, String> diskTargets(List<Disk> disks) {
    Map<String, String> targets = new java.util.LinkedHashMap<>();
    int virtio = 0;
    int sata = 0;
    int scsi = 0;
    for (Disk disk : Optional.ofNullable(disks).orElse(List.of())) {
      String target =
          switch (busOf(disk)) {
            case virtio -> "vd" + letter(virtio++);
            case sata -> "sd" + letter(sata++);
            case scsi -> "sd" + letter(10 + scsi++);
          };
      targets.put(disk.name, target);
    }
    return targets;
  }

  private static DomainPlan.Bus busOf(Disk disk) {
    // A CD-ROM cannot sit on virtio-blk: put it on SATA unless SCSI was asked for.
    return disk.iso != null && disk.bus != VirtualMachineSpec.Bus.scsi
        ? DomainPlan.Bus.sata
        : DomainPlan.Bus.valueOf(
            (disk.bus == null ? VirtualMachineSpec.Bus.virtio : disk.bus).name());
  }

  private static List<DomainPlan.Disk> disks(
      List<Disk> disks, Map<String, DomainPlan.DiskSource> sources, DomainPlan.DiskSource seed) {
    List<DomainPlan.Disk> planned = new ArrayList<>();
    Map<String, String> targets = diskTargets(disks);
    int sata = 0;
    for (Disk disk : Optional.ofNullable(disks).orElse(List.of())) {
      boolean cdrom = disk.iso != null;
      DomainPlan.Bus bus = busOf(disk);
      if (bus == DomainPlan.Bus.sata) {
        sata++;
      }
      planned.add(
          new DomainPlan.Disk(
              disk.name,
              targets.get(disk.name),
              bus,
              disk.bootOrder,
              cdrom,
              cdrom,
              cdrom ? "raw" : "qcow2",
              sources.get(disk.name)));
    }
    if (seed != null) {
      planned.add(
          new DomainPlan.Disk(
              CLOUD_INIT_DISK,
              "sd" + letter(sata),
              DomainPlan.Bus.sata,
              null,
              true,
              true,
              "raw",
              seed));
    }
    return planned;
  }

  /** The name of the generated cloud-init CD-ROM (disk names are DNS labels: no clash). */
  public static final String CLOUD_INIT_DISK = "cloudinit-seed";

  private static List<DomainPlan.PciDevice> hostDevices(List<NetworkInterface> interfaces) {
    return Optional.ofNullable(interfaces).orElse(List.of()).stream()
        .filter(nic -> nic.pciPassthrough != null)
        .map(nic -> pciDevice(nic.pciPassthrough.address))
        .toList();
  }

  /** {@code dddd:bb:ss.f}, as the CRD's pattern guarantees. */
  static DomainPlan.PciDevice pciDevice(String address) {
    String[] parts = address.split("[:.]");
    return new DomainPlan.PciDevice(
        Integer.parseInt(parts[0], 16),
        Integer.parseInt(parts[1], 16),
        Integer.parseInt(parts[2], 16),
        Integer.parseInt(parts[3], 16));
  }

  private static List<DomainPlan.Nic> nics(String uid, List<NetworkInterface> interfaces) {
    return Optional.ofNullable(interfaces).orElse(List.of()).stream()
        .filter(nic -> nic.pciPassthrough == null)
        .map(
            nic ->
                new DomainPlan.Nic(
                    nic.name,
                    (nic.model == null ? VirtualMachineSpec.NicModel.virtio : nic.model).name(),
                    macOf(uid, nic),
                    nic.bridge,
                    nic.network,
                    nic.bootOrder))
        .toList();
  }

  public static String macOf(String uid, NetworkInterface nic) {
    return nic.macAddress != null
        ? nic.macAddress.toLowerCase()
        : VmIdentity.macAddress(uid, nic.name);
  }

  private static char letter(int index) {
    return (char) ('a' + index);
  }

  private static int value(Integer value, int fallback) {
    return value == null ? fallback : value;
  }
}
