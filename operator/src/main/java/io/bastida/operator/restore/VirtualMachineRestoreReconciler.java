package io.bastida.operator.restore;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreStatus;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.Informers;
import io.bastida.operator.backup.BackupStores;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmLocator;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
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
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Carries out VirtualMachineRestores. The restore is recorded as Running before anything is done on
 * a host, and the VM's reconciler leaves the domain alone while it is, so nothing races it.
 */
@ControllerConfiguration(name = "virtualmachinerestore")
public class VirtualMachineRestoreReconciler implements Reconciler<VirtualMachineRestore> {

  public static final String RUNNING = "Running";
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
  public static final String READY = "Ready";
  public static final String INPLACE = "InPlace";

  /** On a VM a restore created: which restore (its uid) and from which backup. */
  public static final String RESTORED_BY_ANNOTATION = "bastida.io/restored-by";

  public static final String RESTORED_FROM_ANNOTATION = "bastida.io/restored-from";

  private final VmLocator locator;
  private final BackupFiles backupFiles;
  private final BackupStores stores;
  private final RestoreRecorder recorder;
  private final Clock clock;
  private BackupRestores backupRestores;

  private InformerEventSource<VirtualMachine, VirtualMachineRestore> vms;
  private InformerEventSource<Host, VirtualMachineRestore> hosts;
  private InformerEventSource<VirtualMachineSnapshot, VirtualMachineRestore> snapshots;
  private InformerEventSource<VirtualMachineBackup, VirtualMachineRestore> backups;
  private InformerEventSource<StorageDomain, VirtualMachineRestore> storageDomains;

  public VirtualMachineRestoreReconciler(
      VmLocator locator,
      BackupStores stores,
      QemuImg qemuImg,
      BackupCopier copier,
      java.nio.file.Path staging,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock) {
    this.locator = locator;
    this.backupFiles = new BackupFiles(qemuImg, copier, staging);
    this.stores = stores;
    this.recorder = new RestoreRecorder(statusWriter, events, clock);
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
    backupRestores =
        new BackupRestores(
            locator, backupFiles, stores, recorder, clock, vms, hosts, backups, storageDomains);
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
    if (RestoreRecorder.isFinished(status)) {
      return UpdateControl.noUpdate();
    }
    return restore.getSpec().backupName != null
        ? backupRestores.restore(restore, status, context)
        : fromSnapshot(restore, status);
  }

  private UpdateControl<VirtualMachineRestore> fromSnapshot(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status) {
    String namespace = restore.getMetadata().getNamespace();
    String vmName = restore.getSpec().vmName;
    String snapshotName = restore.getSpec().snapshotName;
    Optional<VirtualMachineSnapshot> snapshot =
        snapshots.get(new ResourceID(snapshotName, namespace));
    if (snapshot.isEmpty() || !vmName.equals(snapshot.get().getSpec().vmName)) {
      return recorder.waiting(
          restore,
          status,
          "SnapshotNotFound",
          "VirtualMachineSnapshot " + snapshotName + " of VM " + vmName + " does not exist");
    }
    if (snapshot.get().getStatus() == null
        || !Boolean.TRUE.equals(snapshot.get().getStatus().readyToUse)) {
      return recorder.waiting(
          restore, status, "SnapshotNotReady", "snapshot " + snapshotName + " is not ready to use");
    }
    Optional<VirtualMachine> vm = vms.get(new ResourceID(vmName, namespace));
    if (vm.isPresent() && VmConditions.isMigrating(vm.get())) {
      return recorder.waiting(
          restore, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    if (status.startTime == null && backupRestores.backupUnderWay(namespace, vmName)) {
      return recorder.waiting(restore, status, "VmBackingUp", "waiting for the VM's backup to end");
    }
    VmLocator.Located located;
    try {
      located = locator.locate(vm, namespace, vmName, name -> hosts.get(new ResourceID(name)));
    } catch (VmLocator.Unavailable e) {
      return recorder.waiting(restore, status, e.reason(), e.getMessage());
    }
    if (status.startTime == null) {
      // Recorded first: from now on the VM's reconciler keeps its hands off the domain.
      status.startTime = recorder.now();
      status.restoredVmName = vmName;
      return recorder.running(
          restore, status, "reverting VM " + vmName + " to snapshot " + snapshotName);
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
      return recorder.succeed(restore, status, vm.get(), message);
    } catch (HypervisorException e) {
      return recorder.fail(restore, status, "RevertFailed", e.getMessage());
    }
  }

  /**
   * Whether this restore is rewriting its VM now (in place, started, not finished): the VM's
   * reconciler and its backups must keep away meanwhile.
   */
  public static boolean isInPlaceUnderWay(VirtualMachineRestore restore) {
    return INPLACE.equals(restore.getSpec().target)
        && restore.getStatus() != null
        && restore.getStatus().startTime != null
        && !RestoreRecorder.isFinished(restore.getStatus());
  }
}
