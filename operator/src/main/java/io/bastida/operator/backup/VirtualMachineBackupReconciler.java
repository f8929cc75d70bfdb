package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupStatus;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.Informers;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.migration.MigrationFacts;
import io.bastida.operator.restore.VirtualMachineRestoreReconciler;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmLocator;
import io.bastida.operator.vm.VmPlanner;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import io.fabric8.kubernetes.api.model.Condition;
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
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out VirtualMachineBackups: decides full or incremental, records that decision, runs the
 * copy on its own thread ({@link BackupRun}) and records how it ended. A backup is Complete only
 * once its images were checked and checksummed and its manifest written; one that was running when
 * the operator stopped is marked Failed and its files removed, never reported Complete.
 */
@ControllerConfiguration(name = "virtualmachinebackup")
public class VirtualMachineBackupReconciler
    implements Reconciler<VirtualMachineBackup>, Cleaner<VirtualMachineBackup>, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VirtualMachineBackupReconciler.class);

  public static final String PROGRESSING = "Progressing";
  public static final String COMPLETE = "Complete";
  public static final String FAILED = "Failed";
  public static final String READY = "Ready";

  /**
   * True for an incremental; False with the reason a full one was made (e.g. CheckpointMissing).
   */
  public static final String INCREMENTAL = "Incremental";

  public static final String QUIESCED = "Quiesced";

  /** Set on backups made from a manifest found on a storage domain (disaster recovery). */
  public static final String REDISCOVERED_LABEL = "bastida.io/rediscovered";

  private static final Duration NEXT_STEP = Duration.ofMillis(100);
  private static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(2);
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final int MAX_MANIFEST_BYTES = 1 << 20;

  private final VmLocator locator;
  private final BackupJobs jobs;
  private final BackupCopier copier;
  private final QemuImg qemuImg;
  private final BackupStores stores;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;

  /** Recorded as started by this process and not yet handed to a job. */
  private final Set<String> recordedHere = ConcurrentHashMap.newKeySet();

  /**
   * The backup (uid) each VM ("namespace/name") has under way in this process: the cache may not
   * show a backup admitted a moment ago, and two jobs on one domain would end each other.
   */
  private final Map<String, String> underWayByVm = new ConcurrentHashMap<>();

  private InformerEventSource<VirtualMachine, VirtualMachineBackup> vms;
  private InformerEventSource<Host, VirtualMachineBackup> hosts;
  private InformerEventSource<StorageDomain, VirtualMachineBackup> storageDomains;
  private InformerEventSource<VirtualMachineRestore, VirtualMachineBackup> restores;

  public VirtualMachineBackupReconciler(
      VmLocator locator,
      BackupCopier copier,
      QemuImg qemuImg,
      BackupStores stores,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock) {
    this.locator = locator;
    this.jobs = new BackupJobs();
    this.copier = copier;
    this.qemuImg = qemuImg;
    this.stores = stores;
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, VirtualMachineBackup>> prepareEventSources(
      EventSourceContext<VirtualMachineBackup> context) {
    vms =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachine.class, VirtualMachineBackup.class)
                .withSecondaryToPrimaryMapper(vm -> backupsOf(context, vm))
                .build(),
            context);
    hosts = Informers.lookupOnly(Host.class, VirtualMachineBackup.class, context);
    storageDomains = Informers.lookupOnly(StorageDomain.class, VirtualMachineBackup.class, context);
    restores =
        Informers.lookupOnly(VirtualMachineRestore.class, VirtualMachineBackup.class, context);
    var ends = new SimpleInboundEventSource<VirtualMachineBackup>("backup-ends");
    // A backup that ends lets the next one of its VM start.
    jobs.onEnd(
        key ->
            context
                .getPrimaryCache()
                .list()
                .filter(b -> b.getMetadata().getUid().equals(key) || !isFinished(b.getStatus()))
                .forEach(b -> ends.propagateEvent(ResourceID.fromResource(b))));
    return List.of(vms, hosts, storageDomains, restores, ends);
  }

  private static Set<ResourceID> backupsOf(
      EventSourceContext<VirtualMachineBackup> context, VirtualMachine vm) {
    return context
        .getPrimaryCache()
        .list(vm.getMetadata().getNamespace())
        .filter(b -> b.getSpec().vmName.equals(vm.getMetadata().getName()))
        .filter(b -> !isFinished(b.getStatus()))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<VirtualMachineBackup> reconcile(
      VirtualMachineBackup backup, Context<VirtualMachineBackup> context) {
    VirtualMachineBackupStatus status =
        backup.getStatus() == null
            ? new VirtualMachineBackupStatus()
            : Serialization.clone(backup.getStatus());
    String key = backup.getMetadata().getUid();
    if (isFinished(status)) {
      jobs.forget(key);
      underWayByVm.remove(vmKey(backup), key);
      return UpdateControl.noUpdate();
    }
    if ("true".equals(backup.getMetadata().getLabels().get(REDISCOVERED_LABEL))) {
      return fromManifest(backup, status);
    }
    if (status.startTime == null) {
      return admit(backup, status, context);
    }
    Optional<BackupJobs.Job> job = jobs.get(key);
    if (job.isEmpty()) {
      return recordedHere.remove(key)
          ? start(backup, status, context)
          : fail(
              backup,
              status,
              "Interrupted",
              "the operator stopped while this backup was running; its files were removed",
              true);
    }
    if (!job.get().outcome().isDone()) {
      status.progress = new VirtualMachineBackupStatus.Progress();
      status.progress.processedBytes = job.get().run().processedBytes();
      status.progress.totalBytes = job.get().run().totalBytes();
      return statusWriter.update(backup, status).rescheduleAfter(PROGRESS_INTERVAL.toMillis());
    }
    // The job is forgotten only once its outcome is in status (see the top): a status write that
    // fails is retried from the outcome, not taken for an interruption.
    BackupRun.Outcome outcome = job.get().outcome().join();
    if (outcome instanceof BackupRun.Completed completed) {
      return complete(backup, status, completed);
    }
    BackupRun.Failed failed = (BackupRun.Failed) outcome;
    return fail(backup, status, failed.reason(), failed.message(), false);
  }

  /**
   * Checks, then the decision (full or incremental, parent, checkpoint), recorded before acting.
   */
  private UpdateControl<VirtualMachineBackup> admit(
      VirtualMachineBackup backup,
      VirtualMachineBackupStatus status,
      Context<VirtualMachineBackup> context) {
    var spec = backup.getSpec();
    String namespace = backup.getMetadata().getNamespace();
    Optional<StorageDomain> storage = storageDomains.get(new ResourceID(spec.storageDomainName));
    if (storage.isEmpty()) {
      return waiting(
          backup,
          status,
          "StorageDomainNotFound",
          "StorageDomain " + spec.storageDomainName + " does not exist");
    }
    Optional<String> unusable = BackupStores.unusable(storage.get());
    if (unusable.isPresent()) {
      return fail(backup, status, "StorageDomainNotForBackups", unusable.get(), false);
    }
    Optional<VirtualMachineRestore> restoring =
        restores
            .list(namespace)
            .filter(r -> r.getSpec().vmName.equals(spec.vmName))
            .filter(VirtualMachineRestoreReconciler::isInPlaceUnderWay)
            .findFirst();
    if (restoring.isPresent()) {
      return waiting(
          backup,
          status,
          "VmRestoring",
          "VirtualMachineRestore "
              + restoring.get().getMetadata().getName()
              + " is rewriting the VM's disks");
    }
    String holder = underWayByVm.putIfAbsent(vmKey(backup), backup.getMetadata().getUid());
    if (holder != null && !holder.equals(backup.getMetadata().getUid())) {
      return waiting(
          backup, status, "WaitingForOtherBackup", "another backup of the same VM is running");
    }
    Optional<VirtualMachineBackup> other = otherBackupUnderWay(backup, context);
    if (other.isPresent()) {
      return waiting(
          backup,
          status,
          "WaitingForOtherBackup",
          "backup " + other.get().getMetadata().getName() + " of the same VM is running");
    }
    Optional<VirtualMachine> vm = vms.get(new ResourceID(spec.vmName, namespace));
    if (vm.isPresent() && VmConditions.isMigrating(vm.get())) {
      return waiting(backup, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    VmLocator.Located located;
    Optional<DomainState> domain;
    List<String> checkpoints;
    try {
      located = locator.locate(vm, namespace, spec.vmName, name -> hosts.get(new ResourceID(name)));
      domain = located.hypervisor().findDomain(located.domainName());
      if (domain.isEmpty()) {
        return waiting(backup, status, "DomainNotDefined", "the VM's domain is not defined yet");
      }
      checkpoints =
          domain.get().power() == Power.Off
              ? List.of()
              : located.hypervisor().checkpoints(located.domainName());
    } catch (VmLocator.Unavailable e) {
      return waiting(backup, status, e.reason(), e.getMessage());
    } catch (HypervisorException e) {
      return waiting(backup, status, "HostNotReady", e.getMessage());
    }
    if (BackupStores.isPerHost(storage.get())
        && !BackupStores.isAttached(storage.get(), located.hostName())) {
      // Waits: a domain applied together with the backup is still being set up on its hosts.
      return waiting(
          backup,
          status,
          "StorageDomainNotOnHost",
          "StorageDomain "
              + spec.storageDomainName
              + " is not attached to host "
              + located.hostName()
              + ", where the VM runs: a local storage domain keeps backups on the VM's host");
    }
    boolean running = domain.get().power() != Power.Off;
    Set<String> disks =
        DomainDisks.writable(domain.get().xml()).stream()
            .map(DomainDisks.Disk::target)
            .collect(Collectors.toSet());
    Optional<VirtualMachineBackup> latest = latestComplete(backup, context);
    var plan =
        BackupChainPlanner.plan(
            new BackupChainPlanner.Inputs(
                spec.mode == null ? BackupMode.Full : spec.mode,
                spec.fullEvery == null ? 1 : spec.fullEvery,
                running,
                latest
                    .map(
                        b ->
                            previous(
                                b,
                                BackupStores.isPerHost(storage.get())
                                        && !located.hostName().equals(b.getStatus().hostName)
                                    ? b.getStatus().hostName
                                    : null))
                    .orElse(null),
                Set.copyOf(checkpoints),
                disks));
    String name = backup.getMetadata().getName();
    // Recorded first: a restart finds the decision and knows a copy may have begun.
    status.startTime = now();
    status.hostName = located.hostName();
    status.mode = plan.mode();
    status.parentBackupName = plan.parentBackupName();
    status.chainLength = plan.chainLength();
    status.chainBaseName =
        plan.mode() == BackupMode.Full
            ? name
            : latest.map(b -> b.getStatus().chainBaseName).orElse(null);
    status.checkpointName = plan.createCheckpoint() ? checkpointName(backup) : null;
    status.location = new BackupLayout(namespace, spec.vmName, name).folder();
    status.printableStatus = "Running";
    status.verified = false;
    status.conditions =
        List.of(
            Conditions.of(PROGRESSING, true, "Running", plan.message()),
            Conditions.of(
                INCREMENTAL,
                plan.mode() == BackupMode.Incremental,
                plan.reason().name(),
                plan.message()),
            Conditions.of(READY, false, "Running", plan.message()));
    recordedHere.add(backup.getMetadata().getUid());
    events.normal(backup, "Started", plan.message());
    return statusWriter.update(backup, status).rescheduleAfter(NEXT_STEP.toMillis());
  }

  private UpdateControl<VirtualMachineBackup> start(
      VirtualMachineBackup backup,
      VirtualMachineBackupStatus status,
      Context<VirtualMachineBackup> context) {
    var spec = backup.getSpec();
    String namespace = backup.getMetadata().getNamespace();
    Optional<StorageDomain> storage = storageDomains.get(new ResourceID(spec.storageDomainName));
    Optional<VirtualMachine> vm = vms.get(new ResourceID(spec.vmName, namespace));
    try {
      if (storage.isEmpty()) {
        throw new VmLocator.Unavailable(
            "StorageDomainNotFound", "StorageDomain " + spec.storageDomainName + " is gone");
      }
      var located =
          locator.locate(vm, namespace, spec.vmName, name -> hosts.get(new ResourceID(name)));
      DomainState domain =
          located
              .hypervisor()
              .findDomain(located.domainName())
              .orElseThrow(
                  () -> new VmLocator.Unavailable("DomainNotDefined", "the VM's domain is gone"));
      if (domain.power() == Power.Off && status.mode == BackupMode.Incremental) {
        // Stopped since the decision: its changes cannot be read from a bitmap now. Decide again.
        recordedHere.remove(backup.getMetadata().getUid());
        return admit(backup, new VirtualMachineBackupStatus(), context);
      }
      Host host = located.host();
      BackupStore store = stores.of(storage.get(), located.hostName(), this::host);
      boolean started =
          jobs.start(
              backup.getMetadata().getUid(),
              located.hostName(),
              port ->
                  new BackupRun(
                      located.hypervisor(),
                      copier,
                      qemuImg,
                      clock,
                      new BackupRun.Request(
                          new BackupLayout(namespace, spec.vmName, backup.getMetadata().getName()),
                          vm.get().getMetadata().getUid(),
                          backup.getMetadata().getLabels().get(BackupPolicyReconciler.POLICY_LABEL),
                          spec.storageDomainName,
                          located.hostName(),
                          store,
                          chain(backup, status, context),
                          VmPlanner.diskTargets(vm.get().getSpec().disks).entrySet().stream()
                              .collect(Collectors.toMap(Map.Entry::getValue, Map.Entry::getKey)),
                          MigrationFacts.migrationAddress(host),
                          port,
                          located.domainName(),
                          domain.xml(),
                          Serialization.asJson(vm.get().getSpec()),
                          domain.power() != Power.Off,
                          Boolean.TRUE.equals(spec.quiesce),
                          Boolean.TRUE.equals(spec.verify),
                          spec.bandwidthMiBPerSecond == null
                              ? null
                              : spec.bandwidthMiBPerSecond * 1024L * 1024L,
                          Instant.parse(status.startTime))));
      if (!started) {
        recordedHere.add(backup.getMetadata().getUid());
        return waiting(backup, status, "WaitingForPort", "every backup port of the host is in use");
      }
      return statusWriter.update(backup, status).rescheduleAfter(PROGRESS_INTERVAL.toMillis());
    } catch (VmLocator.Unavailable e) {
      return fail(backup, status, e.reason(), e.getMessage(), true);
    } catch (HypervisorException e) {
      return fail(backup, status, "HostNotReady", e.getMessage(), true);
    }
  }

  /** The chain as recorded at admission, with what the parent contributes. */
  private static BackupRun.Chain chain(
      VirtualMachineBackup backup,
      VirtualMachineBackupStatus status,
      Context<VirtualMachineBackup> context) {
    Optional<VirtualMachineBackup> parent =
        status.parentBackupName == null
            ? Optional.empty()
            : parent(context, backup, status.parentBackupName);
    return new BackupRun.Chain(
        status.mode,
        status.parentBackupName,
        parent.map(p -> p.getStatus().checkpointName).orElse(null),
        status.chainBaseName,
        status.chainLength,
        status.checkpointName,
        parent
            .map(
                p ->
                    p.getStatus().disks.stream()
                        .collect(
                            Collectors.toMap(
                                d -> d.target,
                                d -> d.virtualSizeBytes == null ? 0L : d.virtualSizeBytes)))
            .orElse(Map.of()));
  }

  private UpdateControl<VirtualMachineBackup> complete(
      VirtualMachineBackup backup,
      VirtualMachineBackupStatus status,
      BackupRun.Completed completed) {
    BackupManifest manifest = completed.manifest();
    applyManifest(status, manifest);
    String message =
        manifest.mode()
            + " backup of "
            + manifest.disks().size()
            + " disk(s), "
            + manifest.totalBytes()
            + " bytes stored at "
            + status.location;
    status.conditions =
        outcome(
            status,
            Conditions.of(PROGRESSING, false, "Complete", message),
            Conditions.of(COMPLETE, true, "Complete", message),
            Conditions.of(READY, true, "Complete", message));
    if (Boolean.TRUE.equals(backup.getSpec().quiesce)) {
      status.conditions.add(quiesced(backup, completed.quiesceProblem()));
    }
    underWayByVm.remove(vmKey(backup), backup.getMetadata().getUid());
    events.normal(backup, "Completed", message);
    log.info("VirtualMachineBackup({}): {}", name(backup), message);
    return statusWriter.update(backup, status);
  }

  private static void applyManifest(VirtualMachineBackupStatus status, BackupManifest manifest) {
    status.mode = manifest.mode();
    status.parentBackupName = manifest.parentBackupName();
    status.chainBaseName = manifest.chainBaseName();
    status.chainLength = manifest.chainLength();
    status.checkpointName = manifest.checkpointName();
    status.hostName = manifest.hostName();
    status.startTime = manifest.startedAt().toString();
    status.completionTime = manifest.completedAt().truncatedTo(ChronoUnit.SECONDS).toString();
    status.location =
        new BackupLayout(manifest.namespace(), manifest.vmName(), manifest.backupName()).folder();
    status.totalBytes = manifest.totalBytes();
    status.progress = null;
    status.printableStatus = "Complete";
    status.verified = manifest.verified() != null && manifest.verified().ok();
    status.disks =
        manifest.disks().stream()
            .map(
                d -> {
                  var disk = new VirtualMachineBackupStatus.Disk();
                  disk.name = d.name();
                  disk.target = d.target();
                  disk.file = d.file();
                  disk.virtualSizeBytes = d.virtualSizeBytes();
                  disk.fileSizeBytes = d.fileSizeBytes();
                  disk.sha256 = d.sha256();
                  return disk;
                })
            .toList();
  }

  /** A backup found on a storage domain: its status comes from its manifest, nothing runs. */
  private UpdateControl<VirtualMachineBackup> fromManifest(
      VirtualMachineBackup backup, VirtualMachineBackupStatus status) {
    Optional<StorageDomain> storage =
        storageDomains.get(new ResourceID(backup.getSpec().storageDomainName));
    if (storage.isEmpty()) {
      return waiting(
          backup,
          status,
          "StorageDomainNotFound",
          "StorageDomain " + backup.getSpec().storageDomainName + " does not exist");
    }
    var layout =
        new BackupLayout(
            backup.getMetadata().getNamespace(),
            backup.getSpec().vmName,
            backup.getMetadata().getName());
    try {
      String host =
          status.hostName != null
              ? status.hostName
              : backup
                  .getMetadata()
                  .getAnnotations()
                  .get(BackupCatalogReconciler.STORED_ON_HOST_ANNOTATION);
      BackupStore store = stores.of(storage.get(), host, this::host);
      BackupManifest manifest =
          BackupManifest.parse(
              new String(
                  store.read(layout.manifestPath(), MAX_MANIFEST_BYTES), StandardCharsets.UTF_8));
      applyManifest(status, manifest);
      // A host-local backup is where it was found, whatever its VM's host was called then.
      status.hostName = host != null ? host : status.hostName;
      status.rediscovered = true;
      String message = "found on storage domain " + backup.getSpec().storageDomainName;
      status.conditions =
          List.of(
              Conditions.of(PROGRESSING, false, "Rediscovered", message),
              Conditions.of(COMPLETE, true, "Rediscovered", message),
              Conditions.of(READY, true, "Rediscovered", message));
      return statusWriter.update(backup, status);
    } catch (VmLocator.Unavailable e) {
      return waiting(backup, status, e.reason(), e.getMessage());
    } catch (BackupStore.StoreException | IllegalArgumentException e) {
      return fail(backup, status, "ManifestUnreadable", e.getMessage(), false);
    }
  }

  private UpdateControl<VirtualMachineBackup> fail(
      VirtualMachineBackup backup,
      VirtualMachineBackupStatus status,
      String reason,
      String message,
      boolean removeFiles) {
    if (removeFiles) {
      removeLeftovers(backup, status);
    }
    underWayByVm.remove(vmKey(backup), backup.getMetadata().getUid());
    status.completionTime = now();
    status.printableStatus = "Failed";
    status.progress = null;
    status.conditions =
        outcome(
            status,
            Conditions.of(PROGRESSING, false, reason, message),
            Conditions.of(FAILED, true, reason, message),
            Conditions.of(READY, false, reason, message));
    events.warning(backup, reason, message);
    log.warn("VirtualMachineBackup({}): failed: {}: {}", name(backup), reason, message);
    return statusWriter.update(backup, status);
  }

  private Condition quiesced(VirtualMachineBackup backup, String problem) {
    if (problem == null) {
      return Conditions.of(
          QUIESCED, true, "FilesystemsFrozen", "the guest's file systems were frozen at its start");
    }
    String message =
        "the guest agent did not freeze the file systems, the backup is crash-consistent: "
            + problem;
    events.warning(backup, "GuestAgentUnavailable", message);
    return Conditions.of(QUIESCED, false, "GuestAgentUnavailable", message);
  }

  /** The final conditions, keeping why the backup was full or incremental. */
  private static List<Condition> outcome(VirtualMachineBackupStatus status, Condition... last) {
    List<Condition> conditions = new java.util.ArrayList<>(List.of(last));
    Conditions.find(status.conditions, INCREMENTAL).ifPresent(conditions::add);
    return conditions;
  }

  /** What an interrupted run may have left: its libvirt job, its new checkpoint, its files. */
  private void removeLeftovers(VirtualMachineBackup backup, VirtualMachineBackupStatus status) {
    var spec = backup.getSpec();
    String namespace = backup.getMetadata().getNamespace();
    try {
      var located =
          locator.locate(
              vms.get(new ResourceID(spec.vmName, namespace)),
              namespace,
              spec.vmName,
              name -> hosts.get(new ResourceID(name)));
      located.hypervisor().endBackup(located.domainName());
      if (Boolean.TRUE.equals(spec.quiesce)) {
        // Killed between freeze and thaw, the run left the guest frozen.
        thawQuietly(located, backup);
      }
      if (Boolean.TRUE.equals(spec.verify)) {
        // Killed while a throwaway copy booted: it would run on until the host reboots.
        stopThrowawayCopy(located, backup);
      }
      if (status.checkpointName != null
          && located
              .hypervisor()
              .checkpoints(located.domainName())
              .contains(status.checkpointName)) {
        located.hypervisor().deleteCheckpoint(located.domainName(), status.checkpointName);
      }
    } catch (VmLocator.Unavailable | HypervisorException | RuntimeException e) {
      log.warn(
          "VirtualMachineBackup({}): left its libvirt job as is: {}", name(backup), e.getMessage());
    }
    removeFiles(backup, status);
  }

  private static void stopThrowawayCopy(VmLocator.Located located, VirtualMachineBackup backup) {
    String name =
        ThrowawayBoot.domainName(
            new BackupLayout(
                backup.getMetadata().getNamespace(),
                backup.getSpec().vmName,
                backup.getMetadata().getName()));
    try {
      if (located.hypervisor().findDomain(name).isPresent()) {
        located.hypervisor().destroyDomain(name);
      }
    } catch (HypervisorException e) {
      log.warn("VirtualMachineBackup({}): {} stays: {}", name(backup), name, e.getMessage());
    }
  }

  private static void thawQuietly(VmLocator.Located located, VirtualMachineBackup backup) {
    try {
      located.hypervisor().thawFilesystems(located.domainName());
    } catch (HypervisorException e) {
      log.debug("VirtualMachineBackup({}): nothing to thaw: {}", name(backup), e.getMessage());
    }
  }

  /**
   * Removes the backup's folder; false when the share could not be reached (with a storage domain
   * that is gone there is nothing left to reach, and nothing to rediscover the files from).
   */
  private boolean removeFiles(VirtualMachineBackup backup, VirtualMachineBackupStatus status) {
    Optional<StorageDomain> storage =
        storageDomains.get(new ResourceID(backup.getSpec().storageDomainName));
    if (status.location == null || storage.isEmpty()) {
      return true;
    }
    try {
      BackupStore store = stores.of(storage.get(), status.hostName, this::host);
      store.removeTree(status.location);
      // Folders left empty would count as stored data and block the StorageDomain's deletion.
      String namespace = backup.getMetadata().getNamespace();
      for (String folder :
          List.of(
              BackupLayout.vmFolder(namespace, backup.getSpec().vmName),
              BackupLayout.ROOT + "/" + namespace,
              BackupLayout.ROOT)) {
        if (!store.removeIfEmpty(folder)) {
          break;
        }
      }
      return true;
    } catch (VmLocator.Unavailable | BackupStore.StoreException | RuntimeException e) {
      log.warn(
          "VirtualMachineBackup({}): could not remove its files: {}", name(backup), e.getMessage());
      return false;
    }
  }

  private Optional<Host> host(String name) {
    return hosts.get(new ResourceID(name));
  }

  private UpdateControl<VirtualMachineBackup> waiting(
      VirtualMachineBackup backup,
      VirtualMachineBackupStatus status,
      String reason,
      String message) {
    if (status.startTime == null) {
      // Not admitted: another backup of the VM may go first.
      underWayByVm.remove(vmKey(backup), backup.getMetadata().getUid());
    }
    boolean changed = !Conditions.hasReason(status.conditions, READY, reason);
    if (changed) {
      events.warning(backup, reason, message);
    }
    if (status.printableStatus == null) {
      status.printableStatus = "Pending";
    }
    status.conditions =
        Conditions.replace(status.conditions, Conditions.of(READY, false, reason, message));
    return statusWriter.update(backup, status).rescheduleAfter(WAIT.toMillis());
  }

  @Override
  public DeleteControl cleanup(VirtualMachineBackup backup, Context<VirtualMachineBackup> context) {
    String key = backup.getMetadata().getUid();
    if (jobs.get(key).map(j -> !j.outcome().isDone()).orElse(false)) {
      // Its files are being written: removing them now would race the copy.
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT.toMillis());
    }
    jobs.forget(key);
    underWayByVm.remove(vmKey(backup), key);
    Optional<VirtualMachineBackup> child =
        context
            .getPrimaryCache()
            .list(backup.getMetadata().getNamespace())
            .filter(b -> b.getStatus() != null)
            .filter(b -> backup.getMetadata().getName().equals(b.getStatus().parentBackupName))
            .filter(b -> backup.getSpec().vmName.equals(b.getSpec().vmName))
            .findFirst();
    if (child.isPresent()) {
      events.warning(
          backup,
          "NeededByIncremental",
          "backup " + child.get().getMetadata().getName() + " builds on this one: delete it first");
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT.toMillis() * 6);
    }
    VirtualMachineBackupStatus status =
        backup.getStatus() == null ? new VirtualMachineBackupStatus() : backup.getStatus();
    if (!removeFiles(backup, status)) {
      // Gone from the cluster with its manifest still on the share, it would be rediscovered.
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT.toMillis() * 6);
    }
    return DeleteControl.defaultDelete();
  }

  /** Stops the copies of this process (their backups are then Interrupted, on the next start). */
  @Override
  public void close() {
    jobs.close();
  }

  private static Optional<VirtualMachineBackup> otherBackupUnderWay(
      VirtualMachineBackup backup, Context<VirtualMachineBackup> context) {
    return context
        .getPrimaryCache()
        .list(backup.getMetadata().getNamespace())
        .filter(b -> !b.getMetadata().getUid().equals(backup.getMetadata().getUid()))
        .filter(b -> b.getSpec().vmName.equals(backup.getSpec().vmName))
        .filter(VirtualMachineBackupReconciler::isUnderWay)
        .findFirst();
  }

  /** The VM's newest Complete backup on the same storage domain: the parent of an incremental. */
  private static Optional<VirtualMachineBackup> latestComplete(
      VirtualMachineBackup backup, Context<VirtualMachineBackup> context) {
    return context
        .getPrimaryCache()
        .list(backup.getMetadata().getNamespace())
        .filter(b -> !b.getMetadata().getUid().equals(backup.getMetadata().getUid()))
        .filter(b -> b.getSpec().vmName.equals(backup.getSpec().vmName))
        .filter(b -> b.getSpec().storageDomainName.equals(backup.getSpec().storageDomainName))
        .filter(b -> b.getStatus() != null && isComplete(b.getStatus()))
        .max(Comparator.comparing(b -> b.getStatus().startTime));
  }

  private static Optional<VirtualMachineBackup> parent(
      Context<VirtualMachineBackup> context, VirtualMachineBackup backup, String parentName) {
    return context
        .getPrimaryCache()
        .get(new ResourceID(parentName, backup.getMetadata().getNamespace()))
        .filter(p -> p.getStatus() != null);
  }

  private static BackupChainPlanner.PreviousBackup previous(
      VirtualMachineBackup backup, String elsewhere) {
    var status = backup.getStatus();
    return new BackupChainPlanner.PreviousBackup(
        backup.getMetadata().getName(),
        isComplete(status),
        status.checkpointName,
        status.chainLength == null ? 1 : status.chainLength,
        status.disks.stream().map(d -> d.target).collect(Collectors.toSet()),
        elsewhere);
  }

  private static String vmKey(VirtualMachineBackup backup) {
    return backup.getMetadata().getNamespace() + "/" + backup.getSpec().vmName;
  }

  /** Unique per backup, so a failed one's leftover checkpoint never collides with the next. */
  private static String checkpointName(VirtualMachineBackup backup) {
    return "bastida-" + backup.getMetadata().getName();
  }

  public static boolean isComplete(VirtualMachineBackupStatus status) {
    return status != null && Conditions.isTrue(status.conditions, COMPLETE);
  }

  /** Started and not finished: its copy may be reading the VM's disks right now. */
  public static boolean isUnderWay(VirtualMachineBackup backup) {
    return backup.getStatus() != null
        && backup.getStatus().startTime != null
        && !isFinished(backup.getStatus());
  }

  /** Complete or Failed: its job, if it had one, has ended. */
  public static boolean isFinished(VirtualMachineBackupStatus status) {
    return status != null
        && (Conditions.isTrue(status.conditions, COMPLETE)
            || Conditions.isTrue(status.conditions, FAILED));
  }

  private String now() {
    return clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private static String name(VirtualMachineBackup backup) {
    return backup.getMetadata().getNamespace() + "/" + backup.getMetadata().getName();
  }
}
