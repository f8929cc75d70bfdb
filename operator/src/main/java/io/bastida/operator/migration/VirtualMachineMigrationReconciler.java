package io.bastida.operator.migration;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineMigrationSpec;
import io.bastida.api.v1alpha1.VirtualMachineMigrationStatus;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.DomainMetadata;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.MigrationProgress;
import io.bastida.hypervisor.MigrationRequest;
import io.bastida.operator.Informers;
import io.bastida.operator.backup.VirtualMachineBackupReconciler;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.host.HostStatusPlanner;
import io.bastida.operator.host.HostTargets;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.storage.StoragePlanner;
import io.bastida.operator.vm.DomainTypes;
import io.bastida.operator.vm.PlacementPlanner;
import io.bastida.operator.vm.VmIdentity;
import io.bastida.operator.vm.VmPlanner;
import io.bastida.operator.vm.domain.DomainXml;
import io.fabric8.kubernetes.client.utils.Serialization;
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
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out VirtualMachineMigrations: pre-flight checks, a place under the concurrency limits,
 * then a peer-to-peer live migration run by {@link MigrationJobs}, with progress in status. Each
 * step is recorded before the next is taken, and where the domain runs is always asked of libvirt,
 * so an operator restarted at any point finishes the migration instead of starting a second one.
 */
@ControllerConfiguration(name = "virtualmachinemigration")
// A refused status write (409) is retried soon: a migration waits on it to start.
@GradualRetry(initialInterval = 200, intervalMultiplier = 2, maxInterval = 5000)
public class VirtualMachineMigrationReconciler
    implements Reconciler<VirtualMachineMigration>, Cleaner<VirtualMachineMigration> {
  private static final Logger log =
      LoggerFactory.getLogger(VirtualMachineMigrationReconciler.class);

  public static final String RUNNING = "Running";
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
  public static final String READY = "Ready";

  private static final Duration NEXT_STEP = Duration.ofMillis(100);
  private static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(1);
  private static final Duration WAIT_FOR_SLOT = Duration.ofSeconds(2);

  /** Concurrency limits: migrations out of one host, and in the whole cluster. */
  public record Limits(int perHost, int perCluster) {}

  private final HostConnections connections;
  private final HostTargets targets;
  private final DomainTypes domainTypes;
  private final MigrationJobs jobs;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;
  private final Limits limits;

  /** Admitted here (uid → source host) before the cache shows their start: for the limits. */
  private final Map<String, String> admitted = new ConcurrentHashMap<>();

  private InformerEventSource<VirtualMachine, VirtualMachineMigration> vms;
  private InformerEventSource<Host, VirtualMachineMigration> hosts;
  private InformerEventSource<StorageDomain, VirtualMachineMigration> storageDomains;
  private InformerEventSource<VirtualMachineBackup, VirtualMachineMigration> backups;

  public VirtualMachineMigrationReconciler(
      HostConnections connections,
      HostTargets targets,
      DomainTypes domainTypes,
      MigrationJobs jobs,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock,
      Limits limits) {
    this.connections = connections;
    this.targets = targets;
    this.domainTypes = domainTypes;
    this.jobs = jobs;
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
    this.limits = limits;
  }

  @Override
  public List<EventSource<?, VirtualMachineMigration>> prepareEventSources(
      EventSourceContext<VirtualMachineMigration> context) {
    vms =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(
                    VirtualMachine.class, VirtualMachineMigration.class)
                .withSecondaryToPrimaryMapper(vm -> migrationsOf(context, vm))
                .build(),
            context);
    // A slot or a host coming back may let a waiting migration go on.
    hosts = Informers.lookupOnly(Host.class, VirtualMachineMigration.class, context);
    storageDomains =
        Informers.lookupOnly(StorageDomain.class, VirtualMachineMigration.class, context);
    backups =
        Informers.lookupOnly(VirtualMachineBackup.class, VirtualMachineMigration.class, context);
    var outcomes = new SimpleInboundEventSource<VirtualMachineMigration>("migration-outcomes");
    // A job that ends frees a slot: the migration itself and those waiting for one look again.
    jobs.onOutcome(
        key ->
            context
                .getPrimaryCache()
                .list()
                .filter(
                    m ->
                        m.getMetadata().getUid().equals(key)
                            || (!isFinished(m.getStatus())
                                && (m.getStatus() == null || m.getStatus().startTime == null)))
                .forEach(m -> outcomes.propagateEvent(ResourceID.fromResource(m))));
    return List.of(vms, hosts, storageDomains, backups, outcomes);
  }

  private static Set<ResourceID> migrationsOf(
      EventSourceContext<VirtualMachineMigration> context, VirtualMachine vm) {
    return context
        .getPrimaryCache()
        .list(vm.getMetadata().getNamespace())
        .filter(m -> m.getSpec().vmName.equals(vm.getMetadata().getName()))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<VirtualMachineMigration> reconcile(
      VirtualMachineMigration migration, Context<VirtualMachineMigration> context) {
    VirtualMachineMigrationStatus status =
        migration.getStatus() == null
            ? new VirtualMachineMigrationStatus()
            : Serialization.clone(migration.getStatus());
    String key = migration.getMetadata().getUid();
    if (isFinished(status)) {
      admitted.remove(key);
      jobs.forget(key);
      return UpdateControl.noUpdate();
    }
    try {
      return status.startTime == null
          ? admit(migration, status, context)
          : follow(migration, status);
    } catch (HostTargets.InvalidTargetException | HypervisorException e) {
      // The job (if any) goes on in libvirt; look again soon, the timeout still applies.
      status.conditions =
          List.of(
              Conditions.of(RUNNING, Conditions.UNKNOWN, "HostNotReachable", e.getMessage()),
              Conditions.of(READY, false, "HostNotReachable", e.getMessage()));
      return statusWriter.update(migration, status).rescheduleAfter(WAIT_FOR_SLOT.toMillis());
    }
  }

  /** Pre-flight checks, then a place under the limits; nothing is done on a host yet. */
  private UpdateControl<VirtualMachineMigration> admit(
      VirtualMachineMigration migration,
      VirtualMachineMigrationStatus status,
      Context<VirtualMachineMigration> context)
      throws HostTargets.InvalidTargetException, HypervisorException {
    VirtualMachineMigrationSpec spec = migration.getSpec();
    String namespace = migration.getMetadata().getNamespace();
    Optional<VirtualMachine> found = vms.get(new ResourceID(spec.vmName, namespace));
    if (found.isEmpty()) {
      return fail(
          migration,
          status,
          "VmNotFound",
          "VirtualMachine " + namespace + "/" + spec.vmName + " does not exist");
    }
    VirtualMachine vm = found.get();
    Optional<VirtualMachineBackup> backup =
        backups
            .list(namespace)
            .filter(b -> b.getSpec().vmName.equals(spec.vmName))
            .filter(VirtualMachineBackupReconciler::isUnderWay)
            .findFirst();
    if (backup.isPresent()) {
      // A backup job holds the domain (and the checkpoint it made must survive): wait for it.
      String message =
          "waiting for backup " + backup.get().getMetadata().getName() + " of the VM to end";
      status.printableStatus = "Pending";
      status.conditions =
          List.of(
              Conditions.of(RUNNING, false, "WaitingForBackup", message),
              Conditions.of(READY, false, "WaitingForBackup", message));
      return statusWriter.update(migration, status).rescheduleAfter(WAIT_FOR_SLOT.toMillis());
    }
    Optional<VirtualMachineMigration> other = otherMigrationOf(migration, context);
    if (other.isPresent()) {
      return fail(
          migration,
          status,
          "AlreadyMigrating",
          "VirtualMachine "
              + spec.vmName
              + " already has migration "
              + other.get().getMetadata().getName()
              + " in progress");
    }
    String sourceName = vm.getStatus() == null ? null : vm.getStatus().hostName;
    Optional<Host> source =
        sourceName == null ? Optional.empty() : hosts.get(new ResourceID(sourceName));
    if (source.isEmpty()) {
      return fail(migration, status, "VmNotRunning", "the VM is not placed on a host");
    }
    if (!isReady(source.get())) {
      return fail(
          migration, status, "SourceHostNotReady", "source host " + sourceName + " is not Ready");
    }
    Hypervisor sourceHypervisor = hypervisorOf(source.get());
    String domain = VmIdentity.domainName(namespace, spec.vmName);
    Optional<DomainState> state = sourceHypervisor.findDomain(domain);
    boolean running =
        state.isPresent()
            && (state.get().power() == Power.Running || state.get().power() == Power.Paused);
    Map<String, StorageDomain> storage = MigrationFacts.byName(storageDomains.list().toList());
    MigrationPreflight.Vm facts = MigrationFacts.vm(vm, running, storage);
    var placedVms = MigrationFacts.placed(vms.list().toList(), inFlight(context, migration));

    String targetName = spec.targetHostName;
    if (targetName == null) {
      var decision =
          PlacementPlanner.place(
              VmPlanner.placementRequest(namespace, spec.vmName, vm.getSpec()),
              hosts
                  .list()
                  .filter(h -> !h.getMetadata().getName().equals(sourceName))
                  .map(MigrationFacts::candidate)
                  .toList(),
              placedVms);
      if (decision instanceof PlacementPlanner.Decision.Unschedulable unschedulable) {
        return fail(migration, status, "NoTargetHost", unschedulable.message());
      }
      targetName = ((PlacementPlanner.Decision.Placed) decision).hostName();
    }
    Optional<Host> target = hosts.get(new ResourceID(targetName));
    if (target.isEmpty()) {
      return fail(
          migration, status, "TargetHostNotFound", "host " + targetName + " does not exist");
    }
    String sourceType = state.map(s -> DomainXml.typeOf(s.xml())).orElse("unknown");
    String targetType =
        isReady(target.get())
            ? domainTypes.of(target.get(), hypervisorOf(target.get()))
            : "unknown";
    Optional<MigrationPreflight.Refusal> refusal =
        MigrationPreflight.check(
            facts,
            MigrationFacts.hostFacts(source.get(), sourceType, storage.values(), placedVms, vm),
            MigrationFacts.hostFacts(target.get(), targetType, storage.values(), placedVms, vm));
    if (refusal.isPresent()) {
      return fail(migration, status, refusal.get().reason(), refusal.get().message());
    }

    String key = migration.getMetadata().getUid();
    synchronized (admitted) {
      Set<String> started = startedMigrations(context);
      long fromSource =
          started.stream().filter(uid -> sourceName.equals(sourceOf(context, uid))).count();
      if (fromSource >= limits.perHost() || started.size() >= limits.perCluster()) {
        status.printableStatus = "Pending";
        status.sourceHostName = sourceName;
        status.targetHostName = targetName;
        String message =
            "waiting for a free slot ("
                + fromSource
                + " of "
                + limits.perHost()
                + " migrations out of host "
                + sourceName
                + ", "
                + started.size()
                + " of "
                + limits.perCluster()
                + " in the cluster)";
        status.conditions =
            List.of(
                Conditions.of(RUNNING, false, "WaitingForSlot", message),
                Conditions.of(READY, false, "WaitingForSlot", message));
        return statusWriter.update(migration, status).rescheduleAfter(WAIT_FOR_SLOT.toMillis());
      }
      admitted.put(key, sourceName);
    }
    // Recorded before anything happens on a host: a restart finds the decision.
    var goals = goals(spec);
    status.sourceHostName = sourceName;
    status.targetHostName = targetName;
    status.startTime = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    status.allowedDowntimeMilliseconds = EscalationPolicy.start(goals).allowedDowntimeMillis();
    status.printableStatus = "Running";
    String message = "moving from host " + sourceName + " to host " + targetName;
    status.conditions =
        List.of(
            Conditions.of(RUNNING, true, "Migrating", message),
            Conditions.of(READY, false, "Migrating", message));
    events.normal(migration, "Started", message);
    log.info(
        "VirtualMachineMigration({}/{}): {}",
        namespace,
        migration.getMetadata().getName(),
        message);
    return statusWriter.update(migration, status).rescheduleAfter(NEXT_STEP.toMillis());
  }

  /** A started migration: run it, follow it, and record how it ended. */
  private UpdateControl<VirtualMachineMigration> follow(
      VirtualMachineMigration migration, VirtualMachineMigrationStatus status)
      throws HostTargets.InvalidTargetException, HypervisorException {
    String key = migration.getMetadata().getUid();
    String domain =
        VmIdentity.domainName(migration.getMetadata().getNamespace(), migration.getSpec().vmName);
    Hypervisor source = hypervisorOf(status.sourceHostName);
    Hypervisor target = hypervisorOf(status.targetHostName);
    Optional<MigrationJobs.Snapshot> job = jobs.snapshot(key);
    if (job.isEmpty()) {
      Optional<MigrationProgress> running = source.migrationProgress(domain);
      if (running.isPresent()) {
        // Started before this operator (re)started: follow it where libvirt has it.
        jobs.adopt(key, source, domain, goals(migration.getSpec()));
        return progress(migration, status, running, status.allowedDowntimeMilliseconds);
      }
      Where where = locate(source, target, domain);
      if (where == Where.Target) {
        return succeed(migration, status, target, domain);
      }
      if (where == Where.Nowhere) {
        return fail(
            migration, status, "VmNotRunning", "the VM's domain runs on neither host any more");
      }
      if (status.detachedMetadata == null) {
        dropCheckpointsOnNfsDisks(migration, source, domain);
        DomainMetadata metadata = source.exportMetadata(domain);
        if (!metadata.isEmpty()) {
          // Kept in status before libvirt forgets it, so no restart can lose it.
          status.detachedMetadata = toStatus(metadata);
          return statusWriter.update(migration, status).rescheduleAfter(NEXT_STEP.toMillis());
        }
      } else {
        source.detachMetadata(domain, fromStatus(status.detachedMetadata));
      }
      jobs.start(key, source, domain, request(migration, status), goals(migration.getSpec()));
      return statusWriter.update(migration, status).rescheduleAfter(PROGRESS_INTERVAL.toMillis());
    }
    if (job.get().outcome().isEmpty()) {
      return progress(migration, status, job.get().progress(), job.get().allowedDowntimeMillis());
    }
    // Whatever the thread saw, where the domain runs now is the truth.
    Where where = locate(source, target, domain);
    if (where == Where.Target) {
      return succeed(migration, status, target, domain);
    }
    if (where == Where.Source) {
      source.redefineMetadata(domain, fromStatus(status.detachedMetadata));
      forgetStrandedCopy(target, domain, migration);
    }
    var outcome = job.get().outcome().get();
    return outcome instanceof MigrationJobs.Outcome.Failed failed
        ? fail(migration, status, failed.reason(), failed.message())
        : fail(migration, status, "MigrationFailed", "the migration ended without moving the VM");
  }

  @Override
  public DeleteControl cleanup(
      VirtualMachineMigration migration, Context<VirtualMachineMigration> context) {
    VirtualMachineMigrationStatus status = migration.getStatus();
    String key = migration.getMetadata().getUid();
    if (status == null || status.startTime == null || isFinished(status)) {
      admitted.remove(key);
      jobs.forget(key);
      return DeleteControl.defaultDelete();
    }
    String domain =
        VmIdentity.domainName(migration.getMetadata().getNamespace(), migration.getSpec().vmName);
    try {
      Hypervisor source = hypervisorOf(status.sourceHostName);
      Hypervisor target = hypervisorOf(status.targetHostName);
      Optional<MigrationJobs.Snapshot> job = jobs.snapshot(key);
      if (job.isPresent() && job.get().outcome().isEmpty()) {
        jobs.abort(key, "Aborted", "the migration was deleted while it ran");
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(NEXT_STEP.toMillis() * 5);
      }
      if (job.isEmpty() && source.migrationProgress(domain).isPresent()) {
        source.abortMigration(domain);
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(NEXT_STEP.toMillis() * 5);
      }
      Where where = locate(source, target, domain);
      Hypervisor holder = where == Where.Target ? target : source;
      if (status.detachedMetadata != null && where != Where.Nowhere) {
        holder.redefineMetadata(domain, fromStatus(status.detachedMetadata));
      }
      VirtualMachine vm =
          vms.get(
                  new ResourceID(
                      migration.getSpec().vmName, migration.getMetadata().getNamespace()))
              .orElse(null);
      if (vm != null) {
        if (where == Where.Target) {
          events.normal(vm, "Migrated", "moved to host " + status.targetHostName);
        } else {
          events.warning(
              vm,
              "MigrationAborted",
              "migration "
                  + migration.getMetadata().getName()
                  + " was deleted while it ran; the VM goes on running on host "
                  + status.sourceHostName);
        }
      }
    } catch (HostTargets.InvalidTargetException | HypervisorException e) {
      log.warn(
          "VirtualMachineMigration({}): cannot reach a host to abort: {}",
          migration.getMetadata().getName(),
          e.getMessage());
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT_FOR_SLOT.toMillis());
    }
    admitted.remove(key);
    jobs.forget(key);
    return DeleteControl.defaultDelete();
  }

  /**
   * A migration that failed after the target had made the domain persistent leaves it there, shut
   * off (measured: a bitmap the target could not reopen). The VM runs on its source: the copy goes,
   * if it is ours (same UUID) and not running.
   */
  private void forgetStrandedCopy(
      Hypervisor target, String domain, VirtualMachineMigration migration)
      throws HypervisorException {
    Optional<VirtualMachine> vm =
        vms.get(new ResourceID(migration.getSpec().vmName, migration.getMetadata().getNamespace()));
    if (vm.isEmpty()) {
      return;
    }
    Optional<DomainState> stranded = target.findDomain(domain);
    String uuid = VmIdentity.domainUuid(vm.get().getMetadata().getUid()).toString();
    if (stranded.isPresent()
        && stranded.get().power() == Power.Off
        && stranded.get().uuid().equalsIgnoreCase(uuid)) {
      target.undefineDomain(domain);
    }
  }

  private enum Where {
    Source,
    Target,
    Nowhere
  }

  /** Where the domain runs now; a domain being received is not yet there. */
  private static Where locate(Hypervisor source, Hypervisor target, String domain)
      throws HypervisorException {
    if (target.findDomain(domain).filter(MigrationFacts::isUp).isPresent()
        && target.migrationProgress(domain).isEmpty()) {
      return Where.Target;
    }
    return source.findDomain(domain).filter(MigrationFacts::isUp).isPresent()
        ? Where.Source
        : Where.Nowhere;
  }

  private UpdateControl<VirtualMachineMigration> progress(
      VirtualMachineMigration migration,
      VirtualMachineMigrationStatus status,
      Optional<MigrationProgress> job,
      Long allowedDowntime) {
    job.ifPresent(p -> status.progress = MigrationFacts.progressOf(p));
    status.allowedDowntimeMilliseconds = allowedDowntime;
    return statusWriter.update(migration, status).rescheduleAfter(PROGRESS_INTERVAL.toMillis());
  }

  private UpdateControl<VirtualMachineMigration> succeed(
      VirtualMachineMigration migration,
      VirtualMachineMigrationStatus status,
      Hypervisor target,
      String domain)
      throws HostTargets.InvalidTargetException, HypervisorException {
    if (status.detachedMetadata != null) {
      target.redefineMetadata(domain, fromStatus(status.detachedMetadata));
      status.detachedMetadata = null;
    }
    Optional<VirtualMachine> vm =
        vms.get(new ResourceID(migration.getSpec().vmName, migration.getMetadata().getNamespace()));
    if (vm.isPresent()) {
      releaseSourceCopies(vm.get(), hypervisorOf(status.sourceHostName));
    }
    Instant now = clock.instant();
    Optional<MigrationProgress> completed = target.completedMigration(domain);
    completed.ifPresent(
        p -> {
          status.progress = MigrationFacts.progressOf(p);
          status.downtimeMilliseconds = p.downtimeMillis();
          status.durationMilliseconds = p.elapsedMillis();
        });
    if (status.durationMilliseconds == null) {
      status.durationMilliseconds =
          Duration.between(Instant.parse(status.startTime), now).toMillis();
    }
    status.completionTime = now.truncatedTo(ChronoUnit.SECONDS).toString();
    status.printableStatus = "Succeeded";
    String message =
        "moved from host "
            + status.sourceHostName
            + " to host "
            + status.targetHostName
            + " in "
            + status.durationMilliseconds
            + " ms"
            + (status.downtimeMilliseconds == null
                ? ""
                : ", downtime " + status.downtimeMilliseconds + " ms")
            + (status.progress == null || status.progress.dataProcessedBytes == null
                ? ""
                : ", " + status.progress.dataProcessedBytes / (1024 * 1024) + " MiB sent");
    status.conditions =
        List.of(
            Conditions.of(RUNNING, false, "Completed", message),
            Conditions.of(SUCCEEDED, true, "Migrated", message),
            Conditions.of(READY, true, "Migrated", message));
    events.normal(migration, "Migrated", message);
    vm.ifPresent(moved -> events.normal(moved, "Migrated", message));
    log.info("VirtualMachineMigration({}): {}", migration.getMetadata().getName(), message);
    admitted.remove(migration.getMetadata().getUid());
    jobs.forget(migration.getMetadata().getUid());
    return statusWriter.update(migration, status);
  }

  /**
   * The volumes a storage-copying migration left on the source: host-local volumes the VM owns (its
   * blank and cloned disks, its cloud-init seed). The VM runs from the copies on the target now;
   * these would only fill the source's storage and block its removal.
   */
  private void releaseSourceCopies(VirtualMachine vm, Hypervisor source)
      throws HypervisorException {
    Map<String, StorageDomain> storage = MigrationFacts.byName(storageDomains.list().toList());
    String namespace = vm.getMetadata().getNamespace();
    String name = vm.getMetadata().getName();
    for (VirtualMachineSpec.Disk disk : vm.getSpec().disks) {
      String domain = VmPlanner.storageDomainOf(disk);
      if ((disk.blank != null || disk.clone != null) && isHostLocal(storage, domain)) {
        source.deleteVolume(
            StoragePlanner.poolName(domain), VmIdentity.volumeName(namespace, name, disk.name));
      }
    }
    var cloudInit = vm.getSpec().cloudInit;
    if (cloudInit != null
        && cloudInit.storageDomainName != null
        && isHostLocal(storage, cloudInit.storageDomainName)) {
      String pool = StoragePlanner.poolName(cloudInit.storageDomainName);
      for (String seed :
          source.volumesWithPrefix(pool, VmIdentity.seedVolumePrefix(namespace, name))) {
        source.deleteVolume(pool, seed);
      }
    }
  }

  private static boolean isHostLocal(Map<String, StorageDomain> storage, String name) {
    StorageDomain domain = storage.get(name);
    return domain != null && domain.getSpec().getLocal() != null;
  }

  private UpdateControl<VirtualMachineMigration> fail(
      VirtualMachineMigration migration,
      VirtualMachineMigrationStatus status,
      String reason,
      String message) {
    status.completionTime = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    status.printableStatus = "Failed";
    status.detachedMetadata = null;
    status.conditions =
        List.of(
            Conditions.of(RUNNING, false, reason, message),
            Conditions.of(FAILED, true, reason, message),
            Conditions.of(READY, false, reason, message));
    events.warning(migration, reason, message);
    if (status.startTime != null) {
      vms.get(new ResourceID(migration.getSpec().vmName, migration.getMetadata().getNamespace()))
          .ifPresent(vm -> events.warning(vm, "MigrationFailed", message));
    }
    log.warn(
        "VirtualMachineMigration({}): failed ({}): {}",
        migration.getMetadata().getName(),
        reason,
        message);
    admitted.remove(migration.getMetadata().getUid());
    jobs.forget(migration.getMetadata().getUid());
    return statusWriter.update(migration, status);
  }

  public static boolean isFinished(VirtualMachineMigrationStatus status) {
    return status != null
        && (Conditions.isTrue(status.conditions, SUCCEEDED)
            || Conditions.isTrue(status.conditions, FAILED));
  }

  /** Started and not finished: the VM is (or is about to be) on its way. */
  public static boolean isUnderWay(VirtualMachineMigration migration) {
    return migration.getStatus() != null
        && migration.getStatus().startTime != null
        && !isFinished(migration.getStatus());
  }

  /** Another migration of the same VM that goes first: started, or older and not finished. */
  private static Optional<VirtualMachineMigration> otherMigrationOf(
      VirtualMachineMigration migration, Context<VirtualMachineMigration> context) {
    return context
        .getPrimaryCache()
        .list(migration.getMetadata().getNamespace())
        .filter(m -> m.getSpec().vmName.equals(migration.getSpec().vmName))
        .filter(m -> !m.getMetadata().getUid().equals(migration.getMetadata().getUid()))
        .filter(m -> !isFinished(m.getStatus()))
        .filter(
            m ->
                isUnderWay(m)
                    || m.getMetadata()
                            .getCreationTimestamp()
                            .compareTo(migration.getMetadata().getCreationTimestamp())
                        < 0)
        .findFirst();
  }

  /** Migrations started and not finished: those the cache shows, and those admitted here. */
  private Set<String> startedMigrations(Context<VirtualMachineMigration> context) {
    Set<String> started =
        context
            .getPrimaryCache()
            .list()
            .filter(VirtualMachineMigrationReconciler::isUnderWay)
            .map(m -> m.getMetadata().getUid())
            .collect(Collectors.toSet());
    started.addAll(admitted.keySet());
    return started;
  }

  private String sourceOf(Context<VirtualMachineMigration> context, String uid) {
    String here = admitted.get(uid);
    if (here != null) {
      return here;
    }
    return context
        .getPrimaryCache()
        .list()
        .filter(m -> m.getMetadata().getUid().equals(uid))
        .map(m -> m.getStatus().sourceHostName)
        .findFirst()
        .orElse(null);
  }

  /** VMs on their way to a host (other than this migration's), counted there too. */
  private List<PlacementPlanner.PlacedVm> inFlight(
      Context<VirtualMachineMigration> context, VirtualMachineMigration except) {
    return MigrationFacts.arriving(
        vms.list().toList(),
        context
            .getPrimaryCache()
            .list()
            .filter(VirtualMachineMigrationReconciler::isUnderWay)
            .filter(m -> !m.getMetadata().getUid().equals(except.getMetadata().getUid()))
            .toList());
  }

  private static EscalationPolicy.Goals goals(VirtualMachineMigrationSpec spec) {
    return new EscalationPolicy.Goals(
        Objects.requireNonNullElse(spec.maxDowntimeMilliseconds, 500),
        Duration.ofSeconds(Objects.requireNonNullElse(spec.timeoutSeconds, 300)));
  }

  private MigrationRequest request(
      VirtualMachineMigration migration, VirtualMachineMigrationStatus status)
      throws HostTargets.InvalidTargetException {
    Host target =
        hosts
            .get(new ResourceID(status.targetHostName))
            .orElseThrow(
                () ->
                    new HostTargets.InvalidTargetException(
                        "HostNotFound", "host " + status.targetHostName + " does not exist"));
    VirtualMachine vm =
        vms.get(new ResourceID(migration.getSpec().vmName, migration.getMetadata().getNamespace()))
            .orElse(null);
    boolean copyStorage =
        vm != null
            && !MigrationFacts.vm(vm, true, MigrationFacts.byName(storageDomains.list().toList()))
                .hostLocalStorage()
                .isEmpty();
    return new MigrationRequest(
        target.getSpec().getUri(),
        MigrationFacts.migrationAddress(target),
        status.allowedDowntimeMilliseconds,
        migration.getSpec().bandwidthMiBPerSecond == null
            ? null
            : migration.getSpec().bandwidthMiBPerSecond.longValue(),
        !Boolean.FALSE.equals(migration.getSpec().autoConverge),
        copyStorage);
  }

  /**
   * Backup checkpoints are persistent dirty bitmaps in the disk images; in a qcow2 that QEMU opens
   * over NFS itself they make the switch-over fail on the destination (measured: "Bitmap '' doesn't
   * satisfy the constraints"). They are deleted, bitmaps and all, so the VM can move; its next
   * backup is then a full one (CheckpointMissing) instead of an incremental.
   */
  private void dropCheckpointsOnNfsDisks(
      VirtualMachineMigration migration, Hypervisor source, String domain)
      throws HypervisorException {
    Optional<DomainState> state = source.findDomain(domain);
    if (state.isEmpty()
        || DomainDisks.writable(state.get().xml()).stream().allMatch(d -> d.nfsUrl() == null)) {
      return;
    }
    List<String> checkpoints = source.checkpoints(domain);
    if (checkpoints.isEmpty()) {
      return;
    }
    // Newest first: each deletion folds its bitmap into its parent's, which goes next.
    for (int i = checkpoints.size() - 1; i >= 0; i--) {
      source.deleteCheckpoint(domain, checkpoints.get(i));
    }
    String message =
        checkpoints.size()
            + " backup checkpoint(s) dropped: their bitmaps on NFS disks would break the"
            + " switch-over; the VM's next backup is a full one";
    events.normal(migration, "CheckpointsDropped", message);
    log.info("VirtualMachineMigration({}): {}", migration.getMetadata().getName(), message);
  }

  private Hypervisor hypervisorOf(String hostName)
      throws HostTargets.InvalidTargetException, HypervisorException {
    Host host =
        hosts
            .get(new ResourceID(hostName))
            .orElseThrow(
                () ->
                    new HostTargets.InvalidTargetException(
                        "HostNotFound", "host " + hostName + " does not exist"));
    return hypervisorOf(host);
  }

  private Hypervisor hypervisorOf(Host host)
      throws HostTargets.InvalidTargetException, HypervisorException {
    return connections.get(host.getMetadata().getName(), targets.targetFor(host));
  }

  private static boolean isReady(Host host) {
    return Conditions.TRUE.equals(HostStatusPlanner.readyStatus(host));
  }

  private static VirtualMachineMigrationStatus.DetachedMetadata toStatus(DomainMetadata metadata) {
    var detached = new VirtualMachineMigrationStatus.DetachedMetadata();
    detached.snapshots = List.copyOf(metadata.snapshotXmls());
    detached.checkpoints = List.copyOf(metadata.checkpointXmls());
    detached.currentSnapshot = metadata.currentSnapshot();
    return detached;
  }

  private static DomainMetadata fromStatus(VirtualMachineMigrationStatus.DetachedMetadata status) {
    return status == null
        ? DomainMetadata.NONE
        : new DomainMetadata(status.snapshots, status.checkpoints, status.currentSnapshot);
  }
}
