package io.bastida.operator.migration;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Whether a VM can live-migrate, and to a given Host: every rule with a reason of its own. Pure;
 * the VM's {@code LiveMigratable} condition is {@link #vmBlocker} of the same facts.
 */
public final class MigrationPreflight {
  private MigrationPreflight() {}

  /**
   * @param pinnedHost the Host the spec pins the VM to, or null
   * @param passthroughDevices PCI addresses given to the guest
   * @param hostLocalStorage storage domains of the VM's disks that each host holds on its own
   *     (copied along by the migration, so the target must have them too)
   * @param hostPassthroughCpu the guest sees the host's exact CPU
   */
  public record Vm(
      String name,
      boolean running,
      String hostName,
      String pinnedHost,
      List<String> passthroughDevices,
      Set<String> hostLocalStorage,
      int vcpus,
      long memoryMiB,
      boolean hostPassthroughCpu) {}

  /**
   * @param domainType the kind of guests it runs: {@code kvm}, {@code qemu} (TCG) or {@code test}
   * @param attachedStorage storage domains attached to the host
   * @param freeCpus allocatable vCPUs not taken by the VMs placed there
   * @param freeMemoryMiB allocatable memory not taken by the VMs placed there
   */
  public record Host(
      String name,
      boolean ready,
      boolean maintenance,
      String architecture,
      String cpuModel,
      String domainType,
      Set<String> attachedStorage,
      long freeCpus,
      long freeMemoryMiB) {}

  /** Why not, as a condition reason and a message for people. */
  public record Refusal(String reason, String message) {}

  /** What keeps the VM on its host whatever the target; empty when nothing does. */
  public static Optional<Refusal> vmBlocker(Vm vm) {
    if (!vm.passthroughDevices().isEmpty()) {
      return refuse(
          "HostDevicePassthrough",
          "host PCI device "
              + String.join(", ", vm.passthroughDevices())
              + " is passed through: the VM cannot leave its host while running");
    }
    return Optional.empty();
  }

  /** The first rule the move of {@code vm} from {@code source} to {@code target} breaks. */
  public static Optional<Refusal> check(Vm vm, Host source, Host target) {
    Optional<Refusal> blocker = vmBlocker(vm);
    if (blocker.isPresent()) {
      return blocker;
    }
    if (!vm.running()) {
      return refuse("VmNotRunning", "VM " + vm.name() + " is not running: nothing to migrate live");
    }
    if (vm.pinnedHost() != null && !vm.pinnedHost().equals(target.name())) {
      return refuse(
          "PinnedToHost",
          "VM " + vm.name() + " is pinned to host " + vm.pinnedHost() + " (spec.hostName)");
    }
    if (target.name().equals(source.name())) {
      return refuse("SameHost", "VM " + vm.name() + " already runs on host " + source.name());
    }
    if (!source.ready()) {
      return refuse("SourceHostNotReady", "source host " + source.name() + " is not Ready");
    }
    if (!target.ready()) {
      return refuse("TargetHostNotReady", "target host " + target.name() + " is not Ready");
    }
    if (target.maintenance()) {
      return refuse(
          "TargetHostInMaintenance", "target host " + target.name() + " is in maintenance");
    }
    if (!target.architecture().equals(source.architecture())
        || !target.domainType().equals(source.domainType())) {
      return refuse(
          "CpuIncompatible",
          "host "
              + source.name()
              + " runs "
              + source.architecture()
              + "/"
              + source.domainType()
              + " guests, host "
              + target.name()
              + " "
              + target.architecture()
              + "/"
              + target.domainType());
    }
    if (vm.hostPassthroughCpu() && !target.cpuModel().equals(source.cpuModel())) {
      return refuse(
          "CpuIncompatible",
          "the VM sees its host's exact CPU ("
              + source.cpuModel()
              + "); host "
              + target.name()
              + " has "
              + target.cpuModel());
    }
    for (String storage : vm.hostLocalStorage()) {
      if (!target.attachedStorage().contains(storage)) {
        return refuse(
            "StorageNotOnTarget",
            "storage domain "
                + storage
                + " (host-local, copied along) is not attached to host "
                + target.name());
      }
    }
    if (target.freeCpus() < vm.vcpus() || target.freeMemoryMiB() < vm.memoryMiB()) {
      return refuse(
          "InsufficientCapacity",
          "host "
              + target.name()
              + " has "
              + target.freeCpus()
              + " vCPUs and "
              + target.freeMemoryMiB()
              + "Mi free; the VM needs "
              + vm.vcpus()
              + " and "
              + vm.memoryMiB()
              + "Mi");
    }
    return Optional.empty();
  }

  private static Optional<Refusal> refuse(String reason, String message) {
    return Optional.of(new Refusal(reason, message));
  }
}
