package io.bastida.operator.restore;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreStatus;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.Informers;
import io.bastida.operator.backup.BackupChainPlanner;
import io.bastida.operator.backup.BackupLayout;
import io.bastida.operator.backup.BackupManifest;
import io.bastida.operator.backup.DomainDisks;
import io.bastida.operator.backup.VirtualMachineBackupReconciler;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.storage.StoragePlanner;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmLocator;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out VirtualMachineRestores. The restore is recorded as Running before anything is done on
 * a host, and the VM's reconciler leaves the domain alone while it is, so nothing races it.
 */
@ControllerConfiguration(name = "virtualmachinerestore")
public class VirtualMachineRestoreReconciler implements Reconciler<VirtualMachineRestore> {
  private static final Logger log = LoggerFactory.getLogger(VirtualMachineRestoreReconciler.class);

  public static final String RUNNING = "Running";
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
  public static final String READY = "Ready";
  public static final String INPLACE = "InPlace";

  /** On a VM a restore created: which restore (its uid) and from which backup. */
  public static final String RESTORED_BY_ANNOTATION = "bastida.io/restored-by";

  public static final String RESTORED_FROM_ANNOTATION = "bastida.io/restored-from";

  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final Duration NEXT_STEP = Duration.ofMillis(100);

  private final VmLocator locator;
  private final BackupFiles backupFiles;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;

  private InformerEventSource<VirtualMachine, VirtualMachineRestore> vms;
  private InformerEventSource<Host, VirtualMachineRestore> hosts;
  private InformerEventSource<VirtualMachineSnapshot, VirtualMachineRestore> snapshots;
  private InformerEventSource<VirtualMachineBackup, VirtualMachineRestore> backups;
  private InformerEventSource<StorageDomain, VirtualMachineRestore> storageDomains;

  public VirtualMachineRestoreReconciler(
      VmLocator locator,
      NfsFiles files,
      QemuImg qemuImg,
      BackupCopier copier,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock) {
    this.locator = locator;
    this.backupFiles = new BackupFiles(files, qemuImg, copier);
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, VirtualMachineRestore>> prepareEventSources(
      EventSourceContext<VirtualMachineRestore> context) {
    vms =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachine.class, VirtualMachineRestore.class)
                .withSecondaryToPrimaryMapper(
                    vm -> restoresNaming(context, vm.getMetadata().getNamespace(), vm, null))
                .build(),
            context);
    hosts = Informers.lookupOnly(Host.class, VirtualMachineRestore.class, context);
    snapshots =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(
                    VirtualMachineSnapshot.class, VirtualMachineRestore.class)
                .withSecondaryToPrimaryMapper(
                    s -> restoresNaming(context, s.getMetadata().getNamespace(), null, s))
                .build(),
            context);
    backups =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(
                    VirtualMachineBackup.class, VirtualMachineRestore.class)
                .withSecondaryToPrimaryMapper(
                    b ->
                        context
                            .getPrimaryCache()
                            .list(b.getMetadata().getNamespace())
                            .filter(r -> b.getMetadata().getName().equals(r.getSpec().backupName))
                            .map(ResourceID::fromResource)
                            .collect(Collectors.toSet()))
                .build(),
            context);
    storageDomains =
        Informers.lookupOnly(StorageDomain.class, VirtualMachineRestore.class, context);
    return List.of(vms, hosts, snapshots, backups, storageDomains);
  }

  private static Set<ResourceID> restoresNaming(
      EventSourceContext<VirtualMachineRestore> context,
      String namespace,
      VirtualMachine vm,
      VirtualMachineSnapshot snapshot) {
    return context
        .getPrimaryCache()
        .list(namespace)
        .filter(
            r ->
                vm != null
                    ? r.getSpec().vmName.equals(vm.getMetadata().getName())
                    : snapshot.getMetadata().getName().equals(r.getSpec().snapshotName))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<VirtualMachineRestore> reconcile(
      VirtualMachineRestore restore, Context<VirtualMachineRestore> context) {
    VirtualMachineRestoreStatus status =
        restore.getStatus() == null
            ? new VirtualMachineRestoreStatus()
            : Serialization.clone(restore.getStatus());
    if (isFinished(status)) {
      return UpdateControl.noUpdate();
    }
    return restore.getSpec().backupName != null
        ? fromBackup(restore, status, context)
        : fromSnapshot(restore, status);
  }

  private UpdateControl<VirtualMachineRestore> fromBackup(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      Context<VirtualMachineRestore> context) {
    var spec = restore.getSpec();
    String namespace = restore.getMetadata().getNamespace();
    Optional<VirtualMachineBackup> backup = backups.get(new ResourceID(spec.backupName, namespace));
    if (backup.isEmpty() || !spec.vmName.equals(backup.get().getSpec().vmName)) {
      return waiting(
          restore,
          status,
          "BackupNotFound",
          "VirtualMachineBackup " + spec.backupName + " of VM " + spec.vmName + " does not exist");
    }
    var backupStatus = backup.get().getStatus();
    if (backupStatus != null
        && Conditions.isTrue(backupStatus.conditions, VirtualMachineBackupReconciler.FAILED)) {
      return fail(
          restore,
          status,
          "BackupFailed",
          "backup " + spec.backupName + " failed: nothing to restore");
    }
    if (!VirtualMachineBackupReconciler.isComplete(backupStatus)) {
      return waiting(
          restore,
          status,
          "BackupNotComplete",
          "backup " + spec.backupName + " is not Complete yet");
    }
    Optional<StorageDomain> storage =
        storageDomains.get(new ResourceID(backup.get().getSpec().storageDomainName));
    if (storage.isEmpty() || storage.get().getSpec().getNfs() == null) {
      return waiting(
          restore,
          status,
          "StorageDomainNotFound",
          "the backup's StorageDomain " + backup.get().getSpec().storageDomainName + " is missing");
    }
    List<BackupLayout> chain;
    try {
      Map<String, BackupChainPlanner.ChainLink> links =
          backups
              .list(namespace)
              .filter(b -> b.getSpec().vmName.equals(spec.vmName) && b.getStatus() != null)
              .collect(
                  Collectors.toMap(
                      b -> b.getMetadata().getName(),
                      b ->
                          new BackupChainPlanner.ChainLink(
                              b.getStatus().parentBackupName,
                              VirtualMachineBackupReconciler.isComplete(b.getStatus()))));
      chain =
          BackupChainPlanner.restoreChain(spec.backupName, links).stream()
              .map(name -> new BackupLayout(namespace, spec.vmName, name))
              .toList();
    } catch (IllegalArgumentException e) {
      return fail(restore, status, "BackupChainBroken", e.getMessage());
    }
    return INPLACE.equals(spec.target)
        ? inPlaceFromBackup(restore, status, storage.get(), chain)
        : newVmFromBackup(restore, status, storage.get(), chain, context);
  }

  /** A new VirtualMachine with copies of the backed-up disks, on the storage they came from. */
  private UpdateControl<VirtualMachineRestore> newVmFromBackup(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      StorageDomain backupStorage,
      List<BackupLayout> chain,
      Context<VirtualMachineRestore> context) {
    var spec = restore.getSpec();
    String namespace = restore.getMetadata().getNamespace();
    String uid = restore.getMetadata().getUid();
    Optional<VirtualMachine> existing = vms.get(new ResourceID(spec.target, namespace));
    if (existing.isPresent()) {
      boolean ours =
          uid.equals(existing.get().getMetadata().getAnnotations().get(RESTORED_BY_ANNOTATION));
      return ours
          ? succeed(
              restore,
              status,
              existing.get(),
              "restored backup " + spec.backupName + " into new VM " + spec.target)
          : fail(
              restore,
              status,
              "TargetExists",
              "VirtualMachine " + spec.target + " exists already: restore into a new name");
    }
    if (status.startTime == null) {
      status.startTime = now();
      status.restoredVmName = spec.target;
      return running(
          restore, status, "restoring backup " + spec.backupName + " into new VM " + spec.target);
    }
    Map<StorageDomain, String> copied = new java.util.LinkedHashMap<>();
    try {
      BackupLayout last = chain.get(chain.size() - 1);
      BackupManifest manifest = backupFiles.manifest(backupStorage, last);
      VirtualMachineSpec vmSpec = backupFiles.vmSpec(backupStorage, last);
      long restored = 0;
      for (BackupManifest.Disk disk : manifest.disks()) {
        VirtualMachineSpec.Disk specDisk =
            vmSpec.disks.stream()
                .filter(d -> d.name.equals(disk.name()))
                .findFirst()
                .orElseThrow(
                    () ->
                        new IllegalArgumentException(
                            "disk " + disk.name() + " is not in the VM spec"));
        String storageName = storageDomainOf(specDisk);
        StorageDomain destination =
            storageDomains
                .get(new ResourceID(storageName))
                .filter(d -> StoragePlanner.isNative(d.getSpec()))
                .orElseThrow(
                    () ->
                        new IllegalArgumentException(
                            "disk "
                                + disk.name()
                                + ": StorageDomain "
                                + storageName
                                + " is missing or not Native NFS"));
        String volume =
            namespace
                + "-"
                + spec.target
                + "-"
                + disk.name()
                + "-"
                + uid.substring(0, 8)
                + ".qcow2";
        var nfs = destination.getSpec().getNfs();
        copied.put(destination, volume);
        restored +=
            backupFiles.restoreDisk(
                backupStorage,
                chain,
                disk.target(),
                QemuImg.nfsUrl(nfs.getServer(), nfs.getPath(), volume));
        specDisk.blank = null;
        specDisk.clone = null;
        specDisk.image = new VirtualMachineSpec.VolumeRef();
        specDisk.image.storageDomainName = storageName;
        specDisk.image.volume = volume;
      }
      // A copy must not claim the original's MAC addresses or its pinned host.
      vmSpec.interfaces.forEach(nic -> nic.macAddress = null);
      vmSpec.hostName = null;
      VirtualMachine vm = new VirtualMachine();
      vm.setMetadata(
          new ObjectMetaBuilder()
              .withName(spec.target)
              .withNamespace(namespace)
              .withAnnotations(
                  Map.of(RESTORED_BY_ANNOTATION, uid, RESTORED_FROM_ANNOTATION, spec.backupName))
              .build());
      vm.setSpec(vmSpec);
      VirtualMachine created = context.getClient().resource(vm).create();
      status.restoredBytes = restored;
      return succeed(
          restore,
          status,
          created,
          "restored backup " + spec.backupName + " into new VM " + spec.target);
    } catch (IOException | NfsException | IllegalArgumentException e) {
      removeQuietly(copied);
      return fail(restore, status, "RestoreFailed", e.getMessage());
    }
  }

  /** The volumes a failed restore into a new VM made: nobody owns them. */
  private void removeQuietly(Map<StorageDomain, String> volumes) {
    volumes.forEach(
        (storage, volume) -> {
          var nfs = storage.getSpec().getNfs();
          try {
            backupFiles.remove(nfs.getServer(), nfs.getPath(), volume);
          } catch (NfsException e) {
            log.warn("Could not remove the partly restored volume {}: {}", volume, e.getMessage());
          }
        });
  }

  /**
   * The VM itself goes back: it is stopped (gracefully first), its disks are overwritten with the
   * backup's, and its snapshots and checkpoints are dropped (their data was in the old images).
   */
  private UpdateControl<VirtualMachineRestore> inPlaceFromBackup(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      StorageDomain backupStorage,
      List<BackupLayout> chain) {
    var spec = restore.getSpec();
    String namespace = restore.getMetadata().getNamespace();
    Optional<VirtualMachine> vm = vms.get(new ResourceID(spec.vmName, namespace));
    if (status.startTime == null && vm.isPresent() && isMigrating(vm.get())) {
      return waiting(restore, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    if (status.startTime == null && backupUnderWay(namespace, spec.vmName)) {
      // Its copy must not read a disk being rewritten.
      return waiting(restore, status, "VmBackingUp", "waiting for the VM's backup to end");
    }
    VmLocator.Located located;
    try {
      located = locator.locate(vm, namespace, spec.vmName, name -> hosts.get(new ResourceID(name)));
    } catch (VmLocator.Unavailable e) {
      return waiting(restore, status, e.reason(), e.getMessage());
    }
    if (status.startTime == null) {
      status.startTime = now();
      status.restoredVmName = spec.vmName;
      return running(
          restore, status, "stopping VM " + spec.vmName + " to restore backup " + spec.backupName);
    }
    try {
      var hypervisor = located.hypervisor();
      DomainState domain =
          hypervisor
              .findDomain(located.domainName())
              .orElseThrow(() -> new IllegalArgumentException("the VM's domain is not defined"));
      if (domain.power() != Power.Off) {
        Duration grace =
            Duration.ofSeconds(
                vm.get().getSpec().terminationGracePeriodSeconds == null
                    ? 60
                    : vm.get().getSpec().terminationGracePeriodSeconds);
        try {
          if (clock.instant().isAfter(Instant.parse(status.startTime).plus(grace))) {
            hypervisor.destroyDomain(located.domainName());
          } else {
            hypervisor.shutdownDomain(located.domainName());
          }
        } catch (HypervisorException e) {
          // Typically the guest went down between the look and the call: look again.
          log.debug("VirtualMachineRestore({}): {}", name(restore), e.getMessage());
        }
        return statusWriter.update(restore, status).rescheduleAfter(WAIT.toMillis() / 5);
      }
      hypervisor.detachMetadata(
          located.domainName(), hypervisor.exportMetadata(located.domainName()));
      BackupManifest manifest = backupFiles.manifest(backupStorage, chain.get(chain.size() - 1));
      long restored = 0;
      for (BackupManifest.Disk disk : manifest.disks()) {
        String current =
            DomainDisks.of(domain.xml()).stream()
                .filter(d -> d.target().equals(disk.target()))
                .map(DomainDisks.Disk::nfsUrl)
                .filter(java.util.Objects::nonNull)
                .findFirst()
                .orElseThrow(
                    () ->
                        new IllegalArgumentException(
                            "disk "
                                + disk.target()
                                + " is not on Native NFS storage: it cannot be restored in place"));
        restored += backupFiles.restoreDisk(backupStorage, chain, disk.target(), current);
      }
      status.restoredBytes = restored;
      return succeed(
          restore,
          status,
          vm.get(),
          "VM "
              + spec.vmName
              + " is back at backup "
              + spec.backupName
              + "; it starts as its run strategy says");
    } catch (IOException | NfsException e) {
      // The VM's disk may be half written: it stays stopped and the copy is tried again (deleting
      // this restore gives up and hands the VM back as it is).
      return waiting(restore, status, "RestoreCopyFailed", e.getMessage());
    } catch (HypervisorException | IllegalArgumentException e) {
      return fail(restore, status, "RestoreFailed", e.getMessage());
    }
  }

  private boolean backupUnderWay(String namespace, String vmName) {
    return backups
        .list(namespace)
        .filter(b -> b.getSpec().vmName.equals(vmName))
        .filter(b -> b.getStatus() != null && b.getStatus().startTime != null)
        .anyMatch(b -> !VirtualMachineBackupReconciler.isFinished(b.getStatus()));
  }

  private static boolean isMigrating(VirtualMachine vm) {
    return vm.getStatus() != null
        && Conditions.isTrue(vm.getStatus().conditions, VmConditions.MIGRATING);
  }

  private static String storageDomainOf(VirtualMachineSpec.Disk disk) {
    if (disk.blank != null) {
      return disk.blank.storageDomainName;
    }
    if (disk.clone != null) {
      return disk.clone.storageDomainName;
    }
    if (disk.image != null) {
      return disk.image.storageDomainName;
    }
    throw new IllegalArgumentException("disk " + disk.name + " has no storage domain");
  }

  private UpdateControl<VirtualMachineRestore> fromSnapshot(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status) {
    String namespace = restore.getMetadata().getNamespace();
    String vmName = restore.getSpec().vmName;
    String snapshotName = restore.getSpec().snapshotName;
    Optional<VirtualMachineSnapshot> snapshot =
        snapshots.get(new ResourceID(snapshotName, namespace));
    if (snapshot.isEmpty() || !vmName.equals(snapshot.get().getSpec().vmName)) {
      return waiting(
          restore,
          status,
          "SnapshotNotFound",
          "VirtualMachineSnapshot " + snapshotName + " of VM " + vmName + " does not exist");
    }
    if (snapshot.get().getStatus() == null
        || !Boolean.TRUE.equals(snapshot.get().getStatus().readyToUse)) {
      return waiting(
          restore, status, "SnapshotNotReady", "snapshot " + snapshotName + " is not ready to use");
    }
    Optional<VirtualMachine> vm = vms.get(new ResourceID(vmName, namespace));
    if (vm.isPresent() && isMigrating(vm.get())) {
      return waiting(restore, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    VmLocator.Located located;
    try {
      located = locator.locate(vm, namespace, vmName, name -> hosts.get(new ResourceID(name)));
    } catch (VmLocator.Unavailable e) {
      return waiting(restore, status, e.reason(), e.getMessage());
    }
    if (status.startTime == null) {
      // Recorded first: from now on the VM's reconciler keeps its hands off the domain.
      status.startTime = now();
      status.restoredVmName = vmName;
      return running(restore, status, "reverting VM " + vmName + " to snapshot " + snapshotName);
    }
    try {
      // The revert changes the disks behind the backup checkpoints' dirty bitmaps: an incremental
      // from them would miss those changes, so they go and the next backup is full.
      List<String> checkpoints = located.hypervisor().checkpoints(located.domainName());
      for (int i = checkpoints.size() - 1; i >= 0; i--) {
        located.hypervisor().deleteCheckpoint(located.domainName(), checkpoints.get(i));
      }
      // Reverting again after a restart lands on the same moment: it is safe to repeat.
      located.hypervisor().revertToSnapshot(located.domainName(), snapshotName);
      boolean memory = Boolean.TRUE.equals(snapshot.get().getStatus().memoryIncluded);
      if (!memory
          && located
                  .hypervisor()
                  .findDomain(located.domainName())
                  .map(d -> d.power())
                  .orElse(Power.Off)
              != Power.Off) {
        // Taken without memory: the guest boots from the disks as they were, like after a
        // power cut, not from RAM the user did not ask to keep.
        located.hypervisor().destroyDomain(located.domainName());
      }
      String message =
          "VM "
              + vmName
              + " is back at snapshot "
              + snapshotName
              + (memory ? ", running from its saved RAM" : ", booting from its disks");
      return succeed(restore, status, vm.get(), message);
    } catch (HypervisorException e) {
      return fail(restore, status, "RevertFailed", e.getMessage());
    }
  }

  private UpdateControl<VirtualMachineRestore> running(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status, String message) {
    status.printableStatus = "Restoring";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, true, "Restoring", message),
            Conditions.of(READY, false, "Restoring", message));
    events.normal(restore, "Started", message);
    return statusWriter.update(restore, status).rescheduleAfter(NEXT_STEP.toMillis());
  }

  private UpdateControl<VirtualMachineRestore> succeed(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      VirtualMachine vm,
      String message) {
    status.completionTime = now();
    status.printableStatus = "Succeeded";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, false, "Restored", message),
            Conditions.of(SUCCEEDED, true, "Restored", message),
            Conditions.of(READY, true, "Restored", message));
    events.normal(restore, "Restored", message);
    events.normal(vm, "Restored", message + " (VirtualMachineRestore " + name(restore) + ")");
    log.info("VirtualMachineRestore({}): {}", name(restore), message);
    return statusWriter.update(restore, status);
  }

  private UpdateControl<VirtualMachineRestore> fail(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      String reason,
      String message) {
    status.completionTime = now();
    status.printableStatus = "Failed";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, false, reason, message),
            Conditions.of(FAILED, true, reason, message),
            Conditions.of(READY, false, reason, message));
    events.warning(restore, reason, message);
    return statusWriter.update(restore, status);
  }

  /** Not started yet, for a reason that may pass (the snapshot or the host may come). */
  private UpdateControl<VirtualMachineRestore> waiting(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      String reason,
      String message) {
    boolean changed =
        Conditions.find(status.conditions, READY)
            .map(Condition::getReason)
            .filter(reason::equals)
            .isEmpty();
    if (changed) {
      events.warning(restore, reason, message);
    }
    status.printableStatus = status.startTime == null ? "Pending" : "Restoring";
    status.conditions =
        Conditions.replace(status.conditions, Conditions.of(READY, false, reason, message));
    return statusWriter.update(restore, status).rescheduleAfter(WAIT.toMillis());
  }

  /** Whether a restore of this VM is under way: the VM's reconciler must not act meanwhile. */
  public static boolean isUnderWay(VirtualMachineRestore restore) {
    return restore.getStatus() != null
        && restore.getStatus().startTime != null
        && !isFinished(restore.getStatus());
  }

  private static boolean isFinished(VirtualMachineRestoreStatus status) {
    return Conditions.isTrue(status.conditions, SUCCEEDED)
        || Conditions.isTrue(status.conditions, FAILED);
  }

  private String now() {
    return clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private static String name(VirtualMachineRestore restore) {
    return restore.getMetadata().getNamespace() + "/" + restore.getMetadata().getName();
  }
}
