package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.api.v1alpha1.VirtualMachineStatus;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.backup.VirtualMachineBackupReconciler;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.host.HostStatusPlanner;
import io.bastida.operator.host.HostTargets;
import io.bastida.operator.migration.MigrationFacts;
import io.bastida.operator.migration.MigrationPreflight;
import io.bastida.operator.migration.VirtualMachineMigrationReconciler;
import io.bastida.operator.restore.VirtualMachineRestoreReconciler;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.storage.NativeNfsVolumes;
import io.bastida.operator.vm.PowerPlanner.Action;
import io.bastida.operator.vm.cloudinit.SeedImage;
import io.bastida.operator.vm.domain.DomainPlan;
import io.bastida.operator.vm.domain.DomainXml;
import io.fabric8.kubernetes.api.model.Condition;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Places each VirtualMachine on a Host, provisions its disks, defines its libvirt domain and keeps
 * it in the declared power state. Each pass does at most one step and records it before the next,
 * so an operator killed at any point resumes where it was: the host choice is written to status
 * before anything is created there, and the domain's name and UUID derive from the resource.
 */
@ControllerConfiguration(name = "virtualmachine")
public class VirtualMachineReconciler
    implements Reconciler<VirtualMachine>, Cleaner<VirtualMachine> {
  private static final Logger log = LoggerFactory.getLogger(VirtualMachineReconciler.class);
  private static final Duration SOON = Duration.ofSeconds(2);

  /** Go on with the next step right away (a zero delay would not reschedule at all). */
  private static final Duration NEXT_STEP = Duration.ofMillis(100);

  private final HostConnections connections;
  private final HostTargets targets;
  private final VmDisks disks;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;
  private final Duration recheckInterval;
  private final DomainTypes domainTypes;
  private final Map<String, String> placements = new java.util.concurrent.ConcurrentHashMap<>();
  private InformerEventSource<Host, VirtualMachine> hosts;
  private InformerEventSource<StorageDomain, VirtualMachine> storageDomains;
  private InformerEventSource<VirtualMachineMigration, VirtualMachine> migrations;
  private InformerEventSource<VirtualMachineRestore, VirtualMachine> restores;
  private InformerEventSource<VirtualMachineBackup, VirtualMachine> backups;

  public VirtualMachineReconciler(
      HostConnections connections,
      HostTargets targets,
      NativeNfsVolumes nfsVolumes,
      SeedImage seedImages,
      DomainTypes domainTypes,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock,
      Duration recheckInterval) {
    this.connections = connections;
    this.targets = targets;
    this.disks =
        new VmDisks(nfsVolumes, seedImages, name -> storageDomains.get(new ResourceID(name)));
    this.domainTypes = domainTypes;
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
    this.recheckInterval = recheckInterval;
  }

  @Override
  public List<EventSource<?, VirtualMachine>> prepareEventSources(
      EventSourceContext<VirtualMachine> context) {
    // A Host or StorageDomain that changes may unblock any VM waiting for one.
    hosts =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(Host.class, VirtualMachine.class)
                .withSecondaryToPrimaryMapper(h -> allVms(context))
                .withOnUpdateFilter(
                    (updated, old) ->
                        !Objects.equals(
                                HostStatusPlanner.readyStatus(updated),
                                HostStatusPlanner.readyStatus(old))
                            || updated.getSpec().isMaintenance() != old.getSpec().isMaintenance())
                .build(),
            context);
    storageDomains =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(StorageDomain.class, VirtualMachine.class)
                .withSecondaryToPrimaryMapper(d -> allVms(context))
                .build(),
            context);
    // What happens to a domain (it stopped, crashed, was paused) reaches its VM at once, so the
    // periodic recheck can be slow.
    var domainEvents = new SimpleInboundEventSource<VirtualMachine>("domain-events");
    connections.addDomainChangeListener(
        (host, domain) -> VmIdentity.resourceOf(domain).ifPresent(domainEvents::propagateEvent));
    // A migration's start hands the domain to the migration; its end hands it back.
    migrations =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(
                    VirtualMachineMigration.class, VirtualMachine.class)
                .withSecondaryToPrimaryMapper(
                    m -> Set.of(new ResourceID(m.getSpec().vmName, m.getMetadata().getNamespace())))
                .build(),
            context);
    // Likewise a restore in place, from its start to its end.
    restores =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachineRestore.class, VirtualMachine.class)
                .withSecondaryToPrimaryMapper(
                    r -> Set.of(new ResourceID(r.getSpec().vmName, r.getMetadata().getNamespace())))
                .build(),
            context);
    // A stopped VM's backup copies its image: it starts only once the backup ends.
    backups =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachineBackup.class, VirtualMachine.class)
                .withSecondaryToPrimaryMapper(
                    b -> Set.of(new ResourceID(b.getSpec().vmName, b.getMetadata().getNamespace())))
                .build(),
            context);
    return List.of(hosts, storageDomains, domainEvents, migrations, restores, backups);
  }

  private static Set<ResourceID> allVms(EventSourceContext<VirtualMachine> context) {
    return context
        .getPrimaryCache()
        .list()
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<VirtualMachine> reconcile(
      VirtualMachine vm, Context<VirtualMachine> context) {
    VirtualMachineStatus status = carriedOver(vm.getStatus());
    String namespace = vm.getMetadata().getNamespace();
    String name = vm.getMetadata().getName();
    status.domainName = VmIdentity.domainName(namespace, name);
    status.domainUUID = VmIdentity.domainUuid(vm.getMetadata().getUid()).toString();
    status.interfaces = interfaceStatuses(vm);

    Optional<String> macClash = macClash(vm, context);
    if (macClash.isPresent()) {
      status.printableStatus = "MacAddressInUse";
      status.conditions =
          List.of(Conditions.of(VmConditions.READY, false, "MacAddressInUse", macClash.get()));
      return record(vm, status, recheckInterval);
    }
    if (status.hostName == null) {
      // One decision at a time: two made in parallel would both see the same free room.
      synchronized (placements) {
        return place(vm, status, context);
      }
    }
    Optional<Host> host = hosts.get(new ResourceID(status.hostName));
    if (host.isEmpty() || !Conditions.TRUE.equals(HostStatusPlanner.readyStatus(host.get()))) {
      return record(
          vm,
          blocked(status, "HostNotReady", "host " + status.hostName + " is not Ready", "Unknown"),
          recheckInterval);
    }
    Optional<VirtualMachineMigration> migrating = migrationUnderWay(vm);
    if (migrating.isPresent()) {
      // The migration owns the domain until it ends: no power action may race it.
      String message =
          "migration "
              + migrating.get().getMetadata().getName()
              + " is moving the VM to host "
              + migrating.get().getStatus().targetHostName;
      status.printableStatus = "Migrating";
      status.conditions =
          Conditions.replace(
              vm.getStatus().conditions,
              Conditions.of(VmConditions.MIGRATING, true, "Migrating", message));
      return record(vm, status, recheckInterval);
    }
    Optional<VirtualMachineRestore> restoring = restoreInPlaceUnderWay(vm);
    if (restoring.isPresent()) {
      String message =
          "VirtualMachineRestore "
              + restoring.get().getMetadata().getName()
              + " is restoring the VM";
      status.printableStatus = "Restoring";
      status.conditions =
          Conditions.replace(
              vm.getStatus().conditions,
              Conditions.of(VmConditions.READY, false, "Restoring", message));
      return record(vm, status, recheckInterval);
    }
    try {
      Hypervisor hypervisor = connections.get(status.hostName, targets.targetFor(host.get()));
      return converge(vm, status, hypervisor, host.get().getSpec().isMaintenance());
    } catch (HostTargets.InvalidTargetException e) {
      return record(
          vm, blocked(status, "HostNotReady", e.getMessage(), "Unknown"), recheckInterval);
    } catch (ProvisioningException e) {
      return record(vm, blocked(status, e.reason, e.getMessage(), "False"), recheckInterval);
    } catch (HypervisorException e) {
      String reason = e.isConnectionFailure() ? "HostNotReady" : "DomainOperationFailed";
      return record(vm, blocked(status, reason, e.getMessage(), "Unknown"), recheckInterval);
    }
  }

  /**
   * A MAC address of this VM that another VM has a better claim to (it is placed and this one is
   * not, or it is older): that one keeps it, this one waits with a clear condition instead of
   * fighting over the network.
   */
  private static Optional<String> macClash(VirtualMachine vm, Context<VirtualMachine> context) {
    String uid = vm.getMetadata().getUid();
    for (var nic : vm.getSpec().interfaces) {
      if (nic.pciPassthrough != null) {
        continue;
      }
      String mac = VmPlanner.macOf(uid, nic);
      Optional<VirtualMachine> owner =
          context
              .getPrimaryCache()
              .list()
              .filter(other -> !other.getMetadata().getUid().equals(uid))
              .filter(other -> outranks(other, vm))
              .filter(
                  other ->
                      other.getSpec().interfaces.stream()
                          .filter(n -> n.pciPassthrough == null)
                          .anyMatch(
                              n -> VmPlanner.macOf(other.getMetadata().getUid(), n).equals(mac)))
              .findFirst();
      if (owner.isPresent()) {
        return Optional.of(
            "interface "
                + nic.name
                + ": MAC address "
                + mac
                + " is already used by VirtualMachine "
                + owner.get().getMetadata().getNamespace()
                + "/"
                + owner.get().getMetadata().getName());
      }
    }
    return Optional.empty();
  }

  private static boolean outranks(VirtualMachine a, VirtualMachine b) {
    boolean aPlaced = a.getStatus() != null && a.getStatus().hostName != null;
    boolean bPlaced = b.getStatus() != null && b.getStatus().hostName != null;
    if (aPlaced != bPlaced) {
      return aPlaced;
    }
    int byTime =
        a.getMetadata().getCreationTimestamp().compareTo(b.getMetadata().getCreationTimestamp());
    return byTime < 0
        || (byTime == 0 && a.getMetadata().getUid().compareTo(b.getMetadata().getUid()) < 0);
  }

  /**
   * Where a VM is placed: its status, or a decision this operator made that the cache does not show
   * yet (VMs placed in quick succession would otherwise all land on the same host).
   */
  private String hostOf(VirtualMachine vm) {
    if (vm.getStatus() != null && vm.getStatus().hostName != null) {
      placements.remove(vm.getMetadata().getUid());
      return vm.getStatus().hostName;
    }
    return placements.get(vm.getMetadata().getUid());
  }

  private UpdateControl<VirtualMachine> place(
      VirtualMachine vm, VirtualMachineStatus status, Context<VirtualMachine> context) {
    var request =
        VmPlanner.placementRequest(
            vm.getMetadata().getNamespace(), vm.getMetadata().getName(), vm.getSpec());
    var candidates =
        hosts
            .list()
            .map(
                h ->
                    new PlacementPlanner.Candidate(
                        h.getMetadata().getName(),
                        h.getMetadata().getLabels(),
                        Conditions.TRUE.equals(HostStatusPlanner.readyStatus(h)),
                        h.getSpec().isMaintenance(),
                        h.getStatus() == null || h.getStatus().getAllocatable() == null
                            ? 0
                            : h.getStatus().getAllocatable().getCpu(),
                        h.getStatus() == null || h.getStatus().getAllocatable() == null
                            ? 0
                            : VmPlanner.mebibytes(
                                h.getStatus().getAllocatable().getMemory().toString())))
            .toList();
    var placed =
        context
            .getPrimaryCache()
            .list()
            .filter(other -> hostOf(other) != null)
            .map(
                other ->
                    new PlacementPlanner.PlacedVm(
                        other.getMetadata().getNamespace(),
                        other.getMetadata().getName(),
                        other.getMetadata().getLabels(),
                        hostOf(other),
                        VmPlanner.vcpus(other.getSpec()),
                        VmPlanner.memoryMiB(other.getSpec())))
            .toList();
    var decision = PlacementPlanner.place(request, candidates, placed);
    if (decision instanceof PlacementPlanner.Decision.Unschedulable unschedulable) {
      status.printableStatus = "Unschedulable";
      status.conditions =
          List.of(
              Conditions.of(
                  VmConditions.SCHEDULED, false, "Unschedulable", unschedulable.message()),
              Conditions.of(VmConditions.READY, false, "Unschedulable", unschedulable.message()));
      return record(vm, status, recheckInterval);
    }
    // The choice is recorded before anything is created on the host, and kept from then on.
    status.hostName = ((PlacementPlanner.Decision.Placed) decision).hostName();
    placements.put(vm.getMetadata().getUid(), status.hostName);
    status.printableStatus = "Provisioning";
    status.conditions =
        List.of(
            Conditions.of(
                VmConditions.SCHEDULED, true, "Scheduled", "placed on host " + status.hostName),
            Conditions.of(
                VmConditions.READY, false, "Provisioning", "creating the VM on its host"));
    log.info(
        "VirtualMachine({}/{}): placed on Host({})",
        vm.getMetadata().getNamespace(),
        vm.getMetadata().getName(),
        status.hostName);
    return record(vm, status, NEXT_STEP);
  }

  private Optional<VirtualMachineMigration> migrationUnderWay(VirtualMachine vm) {
    return migrations
        .list(vm.getMetadata().getNamespace())
        .filter(m -> m.getSpec().vmName.equals(vm.getMetadata().getName()))
        .filter(VirtualMachineMigrationReconciler::isUnderWay)
        .findFirst();
  }

  private boolean backupUnderWay(VirtualMachine vm) {
    return backups
        .list(vm.getMetadata().getNamespace())
        .filter(b -> b.getSpec().vmName.equals(vm.getMetadata().getName()))
        .anyMatch(VirtualMachineBackupReconciler::isUnderWay);
  }

  private Optional<VirtualMachineRestore> restoreInPlaceUnderWay(VirtualMachine vm) {
    return restores
        .list(vm.getMetadata().getNamespace())
        .filter(r -> r.getSpec().vmName.equals(vm.getMetadata().getName()))
        .filter(VirtualMachineRestoreReconciler::isInPlaceUnderWay)
        .findFirst();
  }

  /**
   * The host the VM's domain runs on now, when it has left the recorded one (a migration moved it,
   * and the operator may have restarted since): never define a twin where it used to be. Asked only
   * when the domain is missing from a host it was defined on.
   */
  private Optional<String> movedTo(VirtualMachineStatus status, Optional<DomainState> recorded)
      throws HypervisorException {
    if (status.definedRevision == null || recorded.isPresent()) {
      return Optional.empty();
    }
    List<Host> others =
        hosts
            .list()
            .filter(h -> !h.getMetadata().getName().equals(status.hostName))
            .filter(h -> Conditions.TRUE.equals(HostStatusPlanner.readyStatus(h)))
            .toList();
    for (Host other : others) {
      try {
        Hypervisor there = connections.get(other.getMetadata().getName(), targets.targetFor(other));
        Optional<DomainState> domain = there.findDomain(status.domainName);
        if (domain.isPresent()
            && domain.get().uuid().equalsIgnoreCase(status.domainUUID)
            && there.migrationProgress(status.domainName).isEmpty()) {
          return Optional.of(other.getMetadata().getName());
        }
      } catch (HostTargets.InvalidTargetException e) {
        // A host we cannot ask cannot be where the domain went.
      }
    }
    return Optional.empty();
  }

  private UpdateControl<VirtualMachine> converge(
      VirtualMachine vm,
      VirtualMachineStatus status,
      Hypervisor hypervisor,
      boolean hostInMaintenance)
      throws HypervisorException, ProvisioningException {
    Optional<DomainState> domain = hypervisor.findDomain(status.domainName);
    Optional<String> movedTo = movedTo(status, domain);
    if (movedTo.isPresent()) {
      log.info(
          "VirtualMachine({}/{}): its domain runs on Host({}) now",
          vm.getMetadata().getNamespace(),
          vm.getMetadata().getName(),
          movedTo.get());
      status.hostName = movedTo.get();
      status.conditions = vm.getStatus().conditions;
      return record(vm, status, NEXT_STEP);
    }
    if (domain.isPresent()) {
      var owner = DomainXml.ownerOf(domain.get().xml());
      if (owner.isEmpty() || !owner.get().uid().equals(vm.getMetadata().getUid())) {
        throw new ProvisioningException(
            "DomainNameTaken",
            "host "
                + status.hostName
                + " already has a domain named "
                + status.domainName
                + " that this VM did not create; it is left untouched");
      }
    }
    // Redefine only when the definition itself changed: pausing or a new run strategy does not.
    DomainPlan plan = plan(vm, status, hypervisor);
    String xml = DomainXml.render(plan);
    String revision = VmIdentity.revision(xml);
    String shape = VmIdentity.revision(DomainXml.render(plan.shape()));
    if (domain.isEmpty() || !revision.equals(status.definedRevision)) {
      hypervisor.defineDomain(xml);
      status.definedRevision = revision;
      domain = hypervisor.findDomain(status.domainName);
    }
    DomainState state = domain.orElseThrow();

    Instant now = clock.instant();
    boolean restartPending =
        vm.getSpec().restartRequestedAt != null
            && !vm.getSpec().restartRequestedAt.equals(status.restartedFor);
    boolean evicted =
        hostInMaintenance
            && vm.getSpec().evictionStrategy == VirtualMachineSpec.EvictionStrategy.Shutdown;
    RunStrategy strategy =
        evicted
            ? RunStrategy.Halted
            : vm.getSpec().runStrategy == null ? RunStrategy.Always : vm.getSpec().runStrategy;
    Action planned =
        PowerPlanner.next(
            new PowerPlanner.Inputs(
                strategy,
                vm.getSpec().paused,
                state.power(),
                state.stoppedByFailure(),
                status.lastStartedAt != null,
                restartPending,
                status.stopRequestedAt == null ? null : Instant.parse(status.stopRequestedAt),
                Duration.ofSeconds(
                    vm.getSpec().terminationGracePeriodSeconds == null
                        ? 60
                        : vm.getSpec().terminationGracePeriodSeconds),
                now));
    // A host in maintenance starts nothing; the VM runs again when maintenance ends.
    boolean heldByMaintenance = hostInMaintenance && planned == Action.Start;
    // Started now, the guest would write under the copy of its stopped disks.
    boolean heldByBackup = planned == Action.Start && backupUnderWay(vm);
    Action action = heldByMaintenance || heldByBackup ? Action.None : planned;
    if (action == Action.Start && state.stoppedByFailure()) {
      events.warning(
          vm,
          "GuestCrashed",
          "the guest crashed or failed on host " + status.hostName + "; starting it again");
    }
    apply(vm, status, hypervisor, action, now, restartPending);
    if (action == Action.Start) {
      status.runningRevision = shape;
    }
    boolean restartRequired =
        state.power() != Power.Off
            && action != Action.Start
            && status.runningRevision != null
            && !status.runningRevision.equals(shape);
    if (state.power() == Power.Running
        && action == Action.None
        && !restartRequired
        && (state.liveMemoryMiB() != plan.memoryMiB()
            || state.liveVcpus() != plan.cpu().current())) {
      // Memory within its maximum and vCPUs within theirs change while the guest runs.
      hypervisor.resizeRunningDomain(status.domainName, plan.memoryMiB(), plan.cpu().current());
      events.normal(
          vm,
          "Resized",
          "now "
              + plan.cpu().current()
              + " vCPUs and "
              + plan.memoryMiB()
              + "Mi, without a restart");
    }
    // Ask the host again only when this pass changed something.
    DomainState after =
        action == Action.None ? state : hypervisor.findDomain(status.domainName).orElseThrow();
    // Judged on the domain as it is now: a guest may be off already when the shutdown returns,
    // and a status saying Stopped must not still say a stop is pending.
    if (after.power() == Power.Off && action != Action.Start) {
      status.stopRequestedAt = null;
    }
    Map<String, List<String>> addresses =
        after.power() == Power.Running && !Boolean.FALSE.equals(vm.getSpec().guestAgent)
            ? hypervisor.guestAddresses(status.domainName)
            : Map.of();
    status.guestHostname =
        !addresses.isEmpty() ? hypervisor.guestHostname(status.domainName).orElse(null) : null;
    status.consoleAddress =
        after.power() == Power.Running && vm.getSpec().graphics != null
            ? hypervisor
                .graphicsConsole(status.domainName)
                .map(console -> consoleUrl(console, status.hostName))
                .orElse(null)
            : null;
    for (var nic : status.interfaces) {
      nic.ipAddresses =
          nic.macAddress == null ? List.of() : addresses.getOrDefault(nic.macAddress, List.of());
    }
    status.conditions = observedConditions(vm, after, restartRequired, !addresses.isEmpty());
    if (heldByMaintenance || (evicted && after.power() == Power.Off)) {
      String message =
          "host "
              + status.hostName
              + " is in maintenance: the VM "
              + (evicted ? "was shut down (evictionStrategy Shutdown)" : "is not started there")
              + " and runs again when maintenance ends";
      status.conditions =
          Conditions.replace(
              status.conditions,
              Conditions.of(VmConditions.READY, false, "HostInMaintenance", message));
    }
    status.printableStatus = printable(after.power());
    Duration next =
        action == Action.None && after.power() != Power.ShuttingDown ? recheckInterval : SOON;
    return record(vm, status, next);
  }

  private void apply(
      VirtualMachine vm,
      VirtualMachineStatus status,
      Hypervisor hypervisor,
      Action action,
      Instant now,
      boolean restartPending)
      throws HypervisorException {
    String who =
        "VirtualMachine("
            + vm.getMetadata().getNamespace()
            + "/"
            + vm.getMetadata().getName()
            + ")";
    switch (action) {
      case Start -> {
        hypervisor.startDomain(status.domainName);
        status.lastStartedAt = now.truncatedTo(ChronoUnit.SECONDS).toString();
        status.stopRequestedAt = null;
        if (restartPending) {
          status.restartedFor = vm.getSpec().restartRequestedAt;
        }
        log.info("{}: started on Host({})", who, status.hostName);
        events.normal(vm, "Started", "started on host " + status.hostName);
      }
      case Shutdown -> {
        hypervisor.shutdownDomain(status.domainName);
        if (status.stopRequestedAt == null) {
          status.stopRequestedAt = now.truncatedTo(ChronoUnit.SECONDS).toString();
          log.info("{}: asked the guest to shut down", who);
          events.normal(vm, "ShuttingDown", "asked the guest to shut down");
        }
      }
      case Destroy -> {
        hypervisor.destroyDomain(status.domainName);
        status.stopRequestedAt = null;
        log.info("{}: powered off by force", who);
        events.normal(vm, "PoweredOff", "powered off (grace period over or guest paused)");
      }
      case Pause -> {
        hypervisor.suspendDomain(status.domainName);
        events.normal(vm, "Paused", "paused");
      }
      case Resume -> {
        hypervisor.resumeDomain(status.domainName);
        events.normal(vm, "Resumed", "resumed");
      }
      case None -> {}
    }
  }

  private DomainPlan plan(VirtualMachine vm, VirtualMachineStatus status, Hypervisor hypervisor)
      throws HypervisorException, ProvisioningException {
    Map<String, DomainPlan.DiskSource> sources = new LinkedHashMap<>();
    status.disks = new ArrayList<>();
    for (VirtualMachineSpec.Disk disk : vm.getSpec().disks) {
      DomainPlan.DiskSource source = disks.provision(vm, disk, status.hostName, hypervisor);
      sources.put(disk.name, source);
      var diskStatus = new VirtualMachineStatus.DiskStatus();
      diskStatus.name = disk.name;
      diskStatus.source =
          source instanceof DomainPlan.DiskSource.Nfs nfs
              ? "nfs://" + nfs.server() + nfs.path()
              : ((DomainPlan.DiskSource.File) source).path();
      status.disks.add(diskStatus);
    }
    return VmPlanner.domainPlan(
        vm.getMetadata().getNamespace(),
        vm.getMetadata().getName(),
        vm.getMetadata().getUid(),
        vm.getSpec(),
        sources,
        domainTypeOf(status.hostName, hypervisor),
        "0.0.0.0",
        "/var/log/libvirt/qemu/" + status.domainName + "-serial.log",
        vm.getSpec().cloudInit == null
            ? null
            : disks.cloudInitSeed(vm, status.hostName, hypervisor));
  }

  /**
   * kvm or qemu as the Host's spec.virtualization says; in Auto, the best the host offers, asked
   * once (libvirt may probe QEMU for seconds to answer).
   */
  private String domainTypeOf(String hostName, Hypervisor hypervisor) throws HypervisorException {
    return domainTypes.of(hosts.get(new ResourceID(hostName)).orElseThrow(), hypervisor);
  }

  /** The same rule migration pre-flight applies, so the condition never promises more. */
  private static Condition liveMigratable(VirtualMachine vm) {
    return MigrationPreflight.vmBlocker(MigrationFacts.vm(vm, true, Map.of()))
        .map(r -> Conditions.of(VmConditions.LIVE_MIGRATABLE, false, r.reason(), r.message()))
        .orElse(
            Conditions.of(
                VmConditions.LIVE_MIGRATABLE,
                true,
                "Migratable",
                "no device ties the VM to its host"));
  }

  private static List<Condition> observedConditions(
      VirtualMachine vm, DomainState state, boolean restartRequired, boolean agentAnswered) {
    boolean running = state.power() == Power.Running;
    boolean paused = state.power() == Power.Paused;
    Condition ready =
        running
            ? Conditions.of(VmConditions.READY, true, "Running", "running")
            : Conditions.of(
                VmConditions.READY,
                false,
                paused
                    ? "Paused"
                    : state.power() == Power.ShuttingDown ? "ShuttingDown" : "Stopped",
                paused ? "paused" : "not running");
    return List.of(
        Conditions.of(VmConditions.SCHEDULED, true, "Scheduled", "placed on its host"),
        ready,
        Conditions.of(
            VmConditions.RUNNING,
            running || paused,
            running || paused ? "DomainActive" : "DomainInactive",
            "the libvirt domain is " + state.power().name().toLowerCase()),
        agentAnswered
            ? Conditions.of(
                VmConditions.AGENT_CONNECTED,
                true,
                "AgentAnswered",
                "the guest agent reports the guest's addresses")
            : Conditions.of(
                VmConditions.AGENT_CONNECTED,
                false,
                !Boolean.FALSE.equals(vm.getSpec().guestAgent)
                    ? "AgentNotAnswering"
                    : "AgentDisabled",
                !Boolean.FALSE.equals(vm.getSpec().guestAgent)
                    ? "no answer from the guest agent (is qemu-guest-agent running in the guest?)"
                    : "spec.guestAgent is false"),
        Conditions.of(
            VmConditions.PAUSED,
            paused,
            paused ? "Paused" : "NotPaused",
            paused ? "paused" : "not paused"),
        liveMigratable(vm),
        Conditions.of(VmConditions.MIGRATING, false, "NotMigrating", "no migration under way"),
        restartRequired
            ? Conditions.of(
                VmConditions.RESTART_REQUIRED,
                true,
                "SpecChanged",
                "the definition changed while running; it applies at the next start")
            : Conditions.of(
                VmConditions.RESTART_REQUIRED,
                false,
                "UpToDate",
                "the running VM matches its spec"));
  }

  /** {@code vnc://host:5901}, with the address the Host says others reach it at. */
  private String consoleUrl(String console, String hostName) {
    String[] typeAndPort = console.split(":", 2);
    String address =
        hosts
            .get(new ResourceID(hostName))
            .map(
                h ->
                    h.getSpec().getMigrationAddress() != null
                        ? h.getSpec().getMigrationAddress()
                        : io.bastida.hypervisor.LibvirtUri.parse(h.getSpec().getUri()).host())
            .orElse(null);
    return typeAndPort[0]
        + "://"
        + (address == null ? "localhost" : address)
        + ":"
        + typeAndPort[1];
  }

  /** From what the host reports after this pass's action, like the conditions. */
  private static String printable(Power power) {
    return switch (power) {
      case Running -> "Running";
      case Paused -> "Paused";
      case ShuttingDown -> "Stopping";
      case Off -> "Stopped";
    };
  }

  @Override
  public DeleteControl cleanup(VirtualMachine vm, Context<VirtualMachine> context) {
    placements.remove(vm.getMetadata().getUid());
    VirtualMachineStatus status = vm.getStatus();
    String who =
        "VirtualMachine("
            + vm.getMetadata().getNamespace()
            + "/"
            + vm.getMetadata().getName()
            + ")";
    if (status == null || status.hostName == null) {
      return DeleteControl.defaultDelete();
    }
    Optional<VirtualMachineMigration> migrating = migrationUnderWay(vm);
    if (migrating.isPresent()) {
      // One place to delete it from: the move is aborted first (the VM stays on its source).
      context.getClient().resource(migrating.get()).delete();
      log.info(
          "{}: deleted while migrating: aborting migration {}",
          who,
          migrating.get().getMetadata().getName());
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(SOON.toMillis());
    }
    Optional<Host> host = hosts.get(new ResourceID(status.hostName));
    if (host.isEmpty()) {
      log.warn(
          "{}: Host({}) no longer exists: nothing left to clean up there", who, status.hostName);
      return DeleteControl.defaultDelete();
    }
    try {
      if (!Conditions.TRUE.equals(HostStatusPlanner.readyStatus(host.get()))) {
        throw new HypervisorException(
            HypervisorException.Failure.HostUnreachable,
            "host " + status.hostName + " is not Ready");
      }
      Hypervisor hypervisor = connections.get(status.hostName, targets.targetFor(host.get()));
      String domainName =
          VmIdentity.domainName(vm.getMetadata().getNamespace(), vm.getMetadata().getName());
      Optional<DomainState> domain = hypervisor.findDomain(domainName);
      Optional<String> movedTo = movedTo(status, domain);
      if (movedTo.isPresent()) {
        // A migration finished and this VM had not caught up: delete it where it runs.
        VirtualMachineStatus moved = carriedOver(status);
        moved.hostName = movedTo.get();
        writeStatus(vm, moved, context, "Deleting", "deleting the VM on host " + moved.hostName);
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(NEXT_STEP.toMillis());
      }
      if (domain.isPresent() && isOurs(domain.get(), vm)) {
        if (domain.get().power() != Power.Off) {
          Instant now = clock.instant();
          Action action =
              PowerPlanner.next(
                  new PowerPlanner.Inputs(
                      RunStrategy.Halted,
                      false,
                      domain.get().power(),
                      false,
                      true,
                      false,
                      status.stopRequestedAt == null ? null : Instant.parse(status.stopRequestedAt),
                      Duration.ofSeconds(
                          vm.getSpec().terminationGracePeriodSeconds == null
                              ? 60
                              : vm.getSpec().terminationGracePeriodSeconds),
                      now));
          apply(vm, status, hypervisor, action, now, false);
          writeStatus(vm, status, context, "Deleting", "shutting the VM down before deleting it");
          return DeleteControl.noFinalizerRemoval().rescheduleAfter(SOON.toMillis());
        }
        hypervisor.undefineDomain(domainName);
      }
      for (VirtualMachineSpec.Disk disk : vm.getSpec().disks) {
        if (VmDisks.ownsVolume(disk)
            && disk.deletionPolicy != VirtualMachineSpec.DeletionPolicy.Retain) {
          disks.deleteOwnVolume(vm, disk, hypervisor);
        }
      }
      disks.deleteCloudInitSeeds(vm, hypervisor);
      log.info("{}: deleted from Host({})", who, status.hostName);
      return DeleteControl.defaultDelete();
    } catch (HostTargets.InvalidTargetException e) {
      writeStatus(
          vm,
          status,
          context,
          "HostNotReady",
          "deletion waits for host " + status.hostName + ": " + e.getMessage());
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(recheckInterval.toMillis());
    } catch (HypervisorException e) {
      writeStatus(
          vm,
          status,
          context,
          e.isConnectionFailure() ? "HostNotReady" : "DeletionFailed",
          "deletion waits for host " + status.hostName + ": " + e.getMessage());
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(recheckInterval.toMillis());
    }
  }

  private static boolean isOurs(DomainState domain, VirtualMachine vm) {
    return DomainXml.ownerOf(domain.xml())
        .map(owner -> owner.uid().equals(vm.getMetadata().getUid()))
        .orElse(false);
  }

  private void writeStatus(
      VirtualMachine vm,
      VirtualMachineStatus status,
      Context<VirtualMachine> context,
      String reason,
      String message) {
    VirtualMachineStatus desired = carriedOver(status);
    desired.stopRequestedAt = status.stopRequestedAt;
    desired.printableStatus = "Terminating";
    desired.conditions = List.of(Conditions.of(VmConditions.READY, false, reason, message));
    statusWriter.finish(vm, desired);
    vm.setStatus(desired);
    context.getClient().resource(vm).patchStatus();
  }

  private UpdateControl<VirtualMachine> record(
      VirtualMachine vm, VirtualMachineStatus desired, Duration next) {
    events.readinessChanged(
        vm,
        Optional.ofNullable(vm.getStatus())
            .flatMap(s -> Conditions.find(s.conditions, VmConditions.READY)),
        Conditions.find(desired.conditions, VmConditions.READY).orElseThrow(),
        Set.of("Provisioning", "Stopped", "ShuttingDown", "Paused"));
    return statusWriter.update(vm, desired).rescheduleAfter(next);
  }

  private static VirtualMachineStatus blocked(
      VirtualMachineStatus status, String reason, String message, String readiness) {
    status.printableStatus = reason;
    status.conditions =
        List.of(
            Conditions.of(
                VmConditions.SCHEDULED, true, "Scheduled", "placed on host " + status.hostName),
            Conditions.of(
                VmConditions.READY,
                readiness.equals("Unknown") ? Conditions.UNKNOWN : Conditions.FALSE,
                reason,
                message));
    return status;
  }

  /** A fresh status with what must survive from one pass to the next. */
  private static VirtualMachineStatus carriedOver(VirtualMachineStatus previous) {
    VirtualMachineStatus next = new VirtualMachineStatus();
    if (previous != null) {
      next.hostName = previous.hostName;
      next.domainName = previous.domainName;
      next.domainUUID = previous.domainUUID;
      next.restartedFor = previous.restartedFor;
      next.lastStartedAt = previous.lastStartedAt;
      next.definedRevision = previous.definedRevision;
      next.runningRevision = previous.runningRevision;
      next.liveResources = previous.liveResources;
      next.stopRequestedAt = previous.stopRequestedAt;
      next.disks = previous.disks;
      next.interfaces = previous.interfaces;
      next.consoleAddress = previous.consoleAddress;
      next.guestHostname = previous.guestHostname;
    }
    return next;
  }

  private static List<VirtualMachineStatus.InterfaceStatus> interfaceStatuses(VirtualMachine vm) {
    List<VirtualMachineStatus.InterfaceStatus> statuses = new ArrayList<>();
    for (VirtualMachineSpec.NetworkInterface nic : vm.getSpec().interfaces) {
      var status = new VirtualMachineStatus.InterfaceStatus();
      status.name = nic.name;
      // A passed-through device has its own hardware address.
      status.macAddress =
          nic.pciPassthrough == null ? VmPlanner.macOf(vm.getMetadata().getUid(), nic) : null;
      statuses.add(status);
    }
    return statuses;
  }
}
