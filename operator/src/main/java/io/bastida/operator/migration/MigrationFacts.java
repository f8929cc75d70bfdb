package io.bastida.operator.migration;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostResources;
import io.bastida.api.v1alpha1.HostStatus;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineMigrationStatus;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.MigrationProgress;
import io.bastida.operator.host.HostStatusPlanner;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.vm.PlacementPlanner;
import io.bastida.operator.vm.VmPlanner;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The facts {@link MigrationPreflight} judges, read from the resources. */
public final class MigrationFacts {
  private MigrationFacts() {}

  /**
   * @param storageDomains by name, to tell host-local storage (copied along) from shared
   */
  public static MigrationPreflight.Vm vm(
      VirtualMachine vm, boolean running, Map<String, StorageDomain> storageDomains) {
    VirtualMachineSpec spec = vm.getSpec();
    List<String> passthrough =
        Optional.ofNullable(spec.interfaces).orElse(List.of()).stream()
            .filter(nic -> nic.pciPassthrough != null)
            .map(nic -> nic.pciPassthrough.address)
            .toList();
    Set<String> local = new TreeSet<>();
    for (VirtualMachineSpec.Disk disk : Optional.ofNullable(spec.disks).orElse(List.of())) {
      local.add(VmPlanner.storageDomainOf(disk));
    }
    if (spec.cloudInit != null && spec.cloudInit.storageDomainName != null) {
      local.add(spec.cloudInit.storageDomainName);
    }
    local.removeIf(
        name -> {
          StorageDomain domain = storageDomains.get(name);
          return domain == null || domain.getSpec().getLocal() == null;
        });
    return new MigrationPreflight.Vm(
        vm.getMetadata().getNamespace() + "/" + vm.getMetadata().getName(),
        running,
        vm.getStatus() == null ? null : vm.getStatus().hostName,
        spec.hostName,
        passthrough,
        local,
        VmPlanner.vcpus(spec),
        VmPlanner.memoryMiB(spec),
        "host-passthrough".equals(spec.cpu == null ? null : spec.cpu.model));
  }

  public static Map<String, StorageDomain> byName(Collection<StorageDomain> domains) {
    return domains.stream()
        .collect(
            Collectors.toMap(d -> d.getMetadata().getName(), Function.identity(), (a, b) -> a));
  }

  /** Names of the storage domains attached to a host. */
  public static Set<String> attachedTo(String hostName, Collection<StorageDomain> domains) {
    return domains.stream()
        .filter(
            d ->
                d.getStatus() != null
                    && d.getStatus().getHosts() != null
                    && d.getStatus().getHosts().stream()
                        .anyMatch(h -> Objects.equals(h.getHostName(), hostName) && h.isAttached()))
        .map(d -> d.getMetadata().getName())
        .collect(Collectors.toSet());
  }

  /** A Host as placement sees it. */
  public static PlacementPlanner.Candidate candidate(Host host) {
    HostResources allocatable = host.getStatus() == null ? null : host.getStatus().getAllocatable();
    return new PlacementPlanner.Candidate(
        host.getMetadata().getName(),
        host.getMetadata().getLabels(),
        Conditions.TRUE.equals(HostStatusPlanner.readyStatus(host)),
        host.getSpec().isMaintenance(),
        allocatable == null ? 0 : allocatable.getCpu(),
        allocatable == null ? 0 : VmPlanner.mebibytes(allocatable.getMemory().toString()));
  }

  /** Every placed VM at its host, plus {@code extra} (e.g. VMs arriving at a target). */
  public static List<PlacementPlanner.PlacedVm> placed(
      Collection<VirtualMachine> vms, List<PlacementPlanner.PlacedVm> extra) {
    List<PlacementPlanner.PlacedVm> placed = new ArrayList<>(extra);
    for (VirtualMachine vm : vms) {
      if (vm.getStatus() != null && vm.getStatus().hostName != null) {
        placed.add(
            new PlacementPlanner.PlacedVm(
                vm.getMetadata().getNamespace(),
                vm.getMetadata().getName(),
                vm.getMetadata().getLabels(),
                vm.getStatus().hostName,
                VmPlanner.vcpus(vm.getSpec()),
                VmPlanner.memoryMiB(vm.getSpec())));
      }
    }
    return placed;
  }

  /**
   * The VMs these migrations are moving, counted at their targets as well (they take room on both
   * ends until the move is done), with their real size and labels.
   */
  public static List<PlacementPlanner.PlacedVm> arriving(
      Collection<VirtualMachine> vms, Collection<VirtualMachineMigration> migrations) {
    Map<String, VirtualMachine> byKey =
        vms.stream()
            .collect(
                Collectors.toMap(
                    vm -> vm.getMetadata().getNamespace() + "/" + vm.getMetadata().getName(),
                    Function.identity(),
                    (a, b) -> a));
    List<PlacementPlanner.PlacedVm> arriving = new ArrayList<>();
    for (VirtualMachineMigration m : migrations) {
      String target =
          m.getStatus() != null && m.getStatus().targetHostName != null
              ? m.getStatus().targetHostName
              : m.getSpec().targetHostName;
      VirtualMachine vm = byKey.get(m.getMetadata().getNamespace() + "/" + m.getSpec().vmName);
      if (target == null || vm == null || target.equals(hostOf(vm))) {
        continue;
      }
      arriving.add(
          new PlacementPlanner.PlacedVm(
              vm.getMetadata().getNamespace(),
              vm.getMetadata().getName() + " (arriving)",
              vm.getMetadata().getLabels(),
              target,
              VmPlanner.vcpus(vm.getSpec()),
              VmPlanner.memoryMiB(vm.getSpec())));
    }
    return arriving;
  }

  private static String hostOf(VirtualMachine vm) {
    return vm.getStatus() == null ? null : vm.getStatus().hostName;
  }

  /**
   * A Host as pre-flight sees it: free room is what is allocatable minus the VMs placed there
   * (other than {@code vm} itself).
   */
  public static MigrationPreflight.Host hostFacts(
      Host host,
      String domainType,
      Collection<StorageDomain> storage,
      List<PlacementPlanner.PlacedVm> placed,
      VirtualMachine vm) {
    String name = host.getMetadata().getName();
    PlacementPlanner.Candidate candidate = candidate(host);
    List<PlacementPlanner.PlacedVm> there =
        placed.stream()
            .filter(p -> name.equals(p.hostName()))
            .filter(
                p ->
                    !(p.namespace().equals(vm.getMetadata().getNamespace())
                        && p.name().equals(vm.getMetadata().getName())))
            .toList();
    HostStatus status = host.getStatus();
    return new MigrationPreflight.Host(
        name,
        candidate.ready(),
        candidate.inMaintenance(),
        status == null || status.getArchitecture() == null ? "unknown" : status.getArchitecture(),
        status == null || status.getCpuModel() == null ? "unknown" : status.getCpuModel(),
        domainType,
        attachedTo(name, storage),
        candidate.allocatableCpus()
            - there.stream().mapToLong(PlacementPlanner.PlacedVm::vcpus).sum(),
        candidate.allocatableMemoryMiB()
            - there.stream().mapToLong(PlacementPlanner.PlacedVm::memoryMiB).sum());
  }

  /** Where other hosts send migration traffic to this one: its migrationAddress or URI host. */
  public static String migrationAddress(Host host) {
    if (host.getSpec().getMigrationAddress() != null) {
      return host.getSpec().getMigrationAddress();
    }
    String uriHost = LibvirtUri.parse(host.getSpec().getUri()).host();
    return uriHost == null || uriHost.isEmpty() ? null : uriHost;
  }

  /** Running or paused: there is a guest to move. */
  public static boolean isUp(DomainState domain) {
    return domain.power() == DomainState.Power.Running
        || domain.power() == DomainState.Power.Paused
        || domain.power() == DomainState.Power.ShuttingDown;
  }

  public static VirtualMachineMigrationStatus.Progress progressOf(MigrationProgress job) {
    var progress = new VirtualMachineMigrationStatus.Progress();
    progress.dataTotalBytes = job.dataTotalBytes();
    progress.dataProcessedBytes = job.dataProcessedBytes();
    progress.dataRemainingBytes = job.dataRemainingBytes();
    progress.memoryIteration = job.memoryIteration();
    return progress;
  }
}
