package io.bastida.operator.vm.domain;

import java.util.List;
import java.util.UUID;

/**
 * Everything a libvirt domain definition says, as plain values: what {@link DomainXml} renders.
 * Built from a VirtualMachine by the VM planner; no Kubernetes or libvirt types.
 *
 * @param name libvirt domain name, derived from the VM (namespace, name) so a restarted operator
 *     finds its domain again
 * @param uuid derived from the VM's UID, recorded in status
 * @param owner who owns the domain, written into the domain's metadata element
 * @param type {@code kvm} where the host has it, else {@code qemu} (TCG)
 * @param cpuModel {@code host-model}, {@code host-passthrough}, or a named model; null lets the
 *     hypervisor choose
 * @param kernelBoot direct kernel boot, or null to boot from disks/interfaces
 * @param graphics null for a headless VM
 */
public record DomainPlan(
    String name,
    UUID uuid,
    Owner owner,
    String type,
    Cpu cpu,
    long memoryMiB,
    long maxMemoryMiB,
    Firmware firmware,
    KernelBoot kernelBoot,
    List<Disk> disks,
    List<Nic> nics,
    List<PciDevice> hostDevices,
    Graphics graphics,
    boolean guestAgentChannel,
    String serialLogPath) {

  public DomainPlan {
    disks = List.copyOf(disks);
    nics = List.copyOf(nics);
    hostDevices = List.copyOf(hostDevices);
  }

  /** The VirtualMachine a domain belongs to. */
  public record Owner(String namespace, String name, String uid) {}

  /**
   * @param sockets sockets x cores x threads = maximum vCPUs
   * @param current vCPUs online now (at most the maximum)
   */
  public record Cpu(int sockets, int cores, int threads, int current, String model) {
    public int maximum() {
      return sockets * cores * threads;
    }
  }

  public enum Firmware {
    BIOS,
    UEFI
  }

  public record KernelBoot(String kernel, String initrd, String cmdline) {}

  public enum Bus {
    virtio,
    sata,
    scsi
  }

  /**
   * @param target device name in the guest, e.g. {@code vda}, {@code sda}
   * @param bootOrder 1-based, or null when not bootable
   * @param cdrom a CD-ROM drive (read-only, raw)
   */
  public record Disk(
      String name,
      String target,
      Bus bus,
      Integer bootOrder,
      boolean cdrom,
      boolean readOnly,
      String format,
      DiskSource source) {}

  /** Where a disk's bytes are. */
  public sealed interface DiskSource {
    /** A file on the host (a volume of a dir or netfs pool). */
    record File(String path) implements DiskSource {}

    /** An image QEMU opens itself over NFS (libnfs), as root:root on the export. */
    record Nfs(String server, String path) implements DiskSource {}
  }

  /**
   * @param model {@code virtio}, {@code e1000} or {@code rtl8139}
   * @param bridge a host bridge, or null when {@code network} is set
   * @param network a libvirt network, or null when {@code bridge} is set
   */
  public record Nic(
      String name, String model, String mac, String bridge, String network, Integer bootOrder) {}

  /** A host PCI device given to the guest (passthrough). */
  public record PciDevice(int domain, int bus, int slot, int function) {}

  /**
   * @param type {@code vnc} or {@code spice}
   * @param listen the address the console listens on
   */
  public record Graphics(String type, String listen) {}

  /**
   * The same domain with memory and vCPUs at their maximum: what a running domain cannot change
   * without a restart. Two plans with the same shape differ only in what can be applied live.
   */
  public DomainPlan shape() {
    return new DomainPlan(
        name,
        uuid,
        owner,
        type,
        new Cpu(cpu.sockets(), cpu.cores(), cpu.threads(), cpu.maximum(), cpu.model()),
        maxMemoryMiB,
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

  /** Namespace of Bastida's element in the domain's {@code <metadata>}. */
  public static final String METADATA_NAMESPACE = "https://bastida.io/xmlns/domain/v1alpha1";
}
