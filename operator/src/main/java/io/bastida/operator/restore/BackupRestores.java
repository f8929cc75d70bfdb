package io.bastida.operator.restore;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreStatus;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.backup.BackupChainPlanner;
import io.bastida.operator.backup.BackupLayout;
import io.bastida.operator.backup.BackupManifest;
import io.bastida.operator.backup.BackupStore;
import io.bastida.operator.backup.BackupStores;
import io.bastida.operator.backup.HostBackupStore;
import io.bastida.operator.backup.NfsBackupStore;
import io.bastida.operator.backup.VirtualMachineBackupReconciler;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmLocator;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores from a VirtualMachineBackup: into a new VirtualMachine (its disks copied from the backup
 * chain next to the original's), or in place (the VM stopped, its disks overwritten).
 */
final class BackupRestores {
  private static final Logger log = LoggerFactory.getLogger(BackupRestores.class);

  private final VmLocator locator;
  private final BackupFiles backupFiles;
  private final BackupStores stores;
  private final RestoreRecorder recorder;
  private final Clock clock;
  private final InformerEventSource<VirtualMachine, VirtualMachineRestore> vms;
  private final InformerEventSource<Host, VirtualMachineRestore> hosts;
  private final InformerEventSource<VirtualMachineBackup, VirtualMachineRestore> backups;
  private final InformerEventSource<StorageDomain, VirtualMachineRestore> storageDomains;

  BackupRestores(
      VmLocator locator,
      BackupFiles backupFiles,
      BackupStores stores,
      RestoreRecorder recorder,
      Clock clock,
      InformerEventSource<VirtualMachine, VirtualMachineRestore> vms,
      InformerEventSource<Host, VirtualMachineRestore> hosts,
      InformerEventSource<VirtualMachineBackup, VirtualMachineRestore> backups,
      InformerEventSource<StorageDomain, VirtualMachineRestore> storageDomains) {
    this.locator = locator;
    this.backupFiles = backupFiles;
    this.stores = stores;
    this.recorder = recorder;
    this.clock = clock;
    this.vms = vms;
    this.hosts = hosts;
    this.backups = backups;
    this.storageDomains = storageDomains;
  }

  UpdateControl<VirtualMachineRestore> restore(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      Context<VirtualMachineRestore> context) {
    var spec = restore.getSpec();
    String namespace = restore.getMetadata().getNamespace();
    Optional<VirtualMachineBackup> backup = backups.get(new ResourceID(spec.backupName, namespace));
    if (backup.isEmpty() || !spec.vmName.equals(backup.get().getSpec().vmName)) {
      return recorder.waiting(
          restore,
          status,
          "BackupNotFound",
          "VirtualMachineBackup " + spec.backupName + " of VM " + spec.vmName + " does not exist");
    }
    var backupStatus = backup.get().getStatus();
    if (backupStatus != null
        && Conditions.isTrue(backupStatus.conditions, VirtualMachineBackupReconciler.FAILED)) {
      return recorder.fail(
          restore,
          status,
          "BackupFailed",
          "backup " + spec.backupName + " failed: nothing to restore");
    }
    if (!VirtualMachineBackupReconciler.isComplete(backupStatus)) {
      return recorder.waiting(
          restore,
          status,
          "BackupNotComplete",
          "backup " + spec.backupName + " is not Complete yet");
    }
    Optional<StorageDomain> storage =
        storageDomains.get(new ResourceID(backup.get().getSpec().storageDomainName));
    if (storage.isEmpty()) {
      return recorder.waiting(
          restore,
          status,
          "StorageDomainNotFound",
          "the backup's StorageDomain " + backup.get().getSpec().storageDomainName + " is missing");
    }
    BackupStore store;
    try {
      store = stores.of(storage.get(), backupStatus.hostName, this::host);
    } catch (VmLocator.Unavailable e) {
      return recorder.waiting(restore, status, e.reason(), e.getMessage());
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
      return recorder.fail(restore, status, "BackupChainBroken", e.getMessage());
    }
    return VirtualMachineRestoreReconciler.INPLACE.equals(spec.target)
        ? inPlaceFromBackup(restore, status, store, chain)
        : newVmFromBackup(restore, status, store, backupStatus.hostName, chain, context);
  }

  /** A new VirtualMachine with copies of the backed-up disks, on the storage they came from. */
  private UpdateControl<VirtualMachineRestore> newVmFromBackup(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      BackupStore store,
      String backupHost,
      List<BackupLayout> chain,
      Context<VirtualMachineRestore> context) {
    var spec = restore.getSpec();
    String namespace = restore.getMetadata().getNamespace();
    String uid = restore.getMetadata().getUid();
    Optional<VirtualMachine> existing = vms.get(new ResourceID(spec.target, namespace));
    if (existing.isPresent()) {
      boolean ours =
          uid.equals(
              existing
                  .get()
                  .getMetadata()
                  .getAnnotations()
                  .get(VirtualMachineRestoreReconciler.RESTORED_BY_ANNOTATION));
      return ours
          ? recorder.succeed(
              restore,
              status,
              existing.get(),
              "restored backup " + spec.backupName + " into new VM " + spec.target)
          : recorder.fail(
              restore,
              status,
              "TargetExists",
              "VirtualMachine " + spec.target + " exists already: restore into a new name");
    }
    if (status.startTime == null) {
      status.startTime = recorder.now();
      status.restoredVmName = spec.target;
      return recorder.running(
          restore, status, "restoring backup " + spec.backupName + " into new VM " + spec.target);
    }
    Map<String, BackupStore> copied = new java.util.LinkedHashMap<>();
    // Disks on local storage go to one host, the backup's (where its files are, or where the VM ran
    // when it was taken onto NFS): the new VM is pinned there.
    String host = store instanceof HostBackupStore onHost ? onHost.hostName() : backupHost;
    String pinned = null;
    try {
      BackupLayout last = chain.get(chain.size() - 1);
      BackupManifest manifest = backupFiles.manifest(store, last);
      VirtualMachineSpec vmSpec = backupFiles.vmSpec(store, last);
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
                .orElseThrow(
                    () ->
                        new IllegalArgumentException(
                            "disk "
                                + disk.name()
                                + ": StorageDomain "
                                + storageName
                                + " is missing"));
        String volume =
            namespace
                + "-"
                + spec.target
                + "-"
                + disk.name()
                + "-"
                + uid.substring(0, 8)
                + ".qcow2";
        boolean local = BackupStores.isPerHost(destination);
        if (!local && store instanceof HostBackupStore) {
          throw new IllegalArgumentException(
              "disk "
                  + disk.name()
                  + ": StorageDomain "
                  + storageName
                  + " is on NFS, and a backup on "
                  + store.describe()
                  + " restores onto that host's local storage only");
        }
        BackupStore onto = stores.of(destination, local ? host : null, this::host);
        copied.put(volume, onto);
        if (onto instanceof HostBackupStore onHost) {
          pinned = onHost.hostName();
          backupFiles.restoreDisk(
              store, chain, disk.target(), onHost.hostPath(volume), onHost.host());
        } else {
          backupFiles.restoreDisk(
              store, chain, disk.target(), ((NfsBackupStore) onto).url(volume), null);
        }
        restored += disk.virtualSizeBytes();
        specDisk.blank = null;
        specDisk.clone = null;
        specDisk.image = new VirtualMachineSpec.VolumeRef();
        specDisk.image.storageDomainName = storageName;
        specDisk.image.volume = volume;
      }
      // A copy must not claim the original's MAC addresses or its pinned host.
      vmSpec.interfaces.forEach(nic -> nic.macAddress = null);
      vmSpec.hostName = pinned;
      VirtualMachine vm = new VirtualMachine();
      vm.setMetadata(
          new ObjectMetaBuilder()
              .withName(spec.target)
              .withNamespace(namespace)
              .withAnnotations(
                  Map.of(
                      VirtualMachineRestoreReconciler.RESTORED_BY_ANNOTATION,
                      uid,
                      VirtualMachineRestoreReconciler.RESTORED_FROM_ANNOTATION,
                      spec.backupName))
              .build());
      vm.setSpec(vmSpec);
      VirtualMachine created = context.getClient().resource(vm).create();
      status.restoredBytes = restored;
      return recorder.succeed(
          restore,
          status,
          created,
          "restored backup " + spec.backupName + " into new VM " + spec.target);
    } catch (VmLocator.Unavailable e) {
      removeQuietly(copied);
      return recorder.fail(restore, status, e.reason(), e.getMessage());
    } catch (IOException | BackupStore.StoreException | IllegalArgumentException e) {
      removeQuietly(copied);
      return recorder.fail(restore, status, "RestoreFailed", e.getMessage());
    }
  }

  /** The volumes a failed restore into a new VM made: nobody owns them. */
  private void removeQuietly(Map<String, BackupStore> volumes) {
    volumes.forEach(
        (volume, store) -> {
          try {
            store.removeFile(volume);
          } catch (BackupStore.StoreException e) {
            log.warn("Could not remove the partly restored volume {}: {}", volume, e.getMessage());
          }
        });
  }

  private Optional<Host> host(String name) {
    return hosts.get(new ResourceID(name));
  }

  /**
   * The VM itself goes back: it is stopped (gracefully first), its disks are overwritten with the
   * backup's, and its snapshots and checkpoints are dropped (their data was in the old images).
   */
  private UpdateControl<VirtualMachineRestore> inPlaceFromBackup(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      BackupStore store,
      List<BackupLayout> chain) {
    var spec = restore.getSpec();
    String namespace = restore.getMetadata().getNamespace();
    Optional<VirtualMachine> vm = vms.get(new ResourceID(spec.vmName, namespace));
    if (status.startTime == null && vm.isPresent() && VmConditions.isMigrating(vm.get())) {
      return recorder.waiting(
          restore, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    if (status.startTime == null && backupUnderWay(namespace, spec.vmName)) {
      // Its copy must not read a disk being rewritten.
      return recorder.waiting(restore, status, "VmBackingUp", "waiting for the VM's backup to end");
    }
    VmLocator.Located located;
    try {
      located = locator.locate(vm, namespace, spec.vmName, name -> hosts.get(new ResourceID(name)));
    } catch (VmLocator.Unavailable e) {
      return recorder.waiting(restore, status, e.reason(), e.getMessage());
    }
    if (status.startTime == null) {
      // Whatever could refuse the restore is found out before the VM is touched.
      try {
        destinations(store, chain, located);
      } catch (IllegalArgumentException e) {
        return recorder.fail(restore, status, "RestoreFailed", e.getMessage());
      } catch (BackupStore.StoreException | HypervisorException e) {
        return recorder.waiting(restore, status, "BackupUnreachable", e.getMessage());
      }
      status.startTime = recorder.now();
      status.restoredVmName = spec.vmName;
      return recorder.running(
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
          log.debug("VirtualMachineRestore({}): {}", RestoreRecorder.name(restore), e.getMessage());
        }
        return recorder.again(restore, status);
      }
      Map<BackupManifest.Disk, String> destinations = destinations(store, chain, located);
      hypervisor.detachMetadata(
          located.domainName(), hypervisor.exportMetadata(located.domainName()));
      long restored = 0;
      for (var disk : destinations.entrySet()) {
        backupFiles.restoreDisk(
            store, chain, disk.getKey().target(), disk.getValue(), located.hypervisor());
        restored += disk.getKey().virtualSizeBytes();
      }
      status.restoredBytes = restored;
      return recorder.succeed(
          restore,
          status,
          vm.get(),
          "VM "
              + spec.vmName
              + " is back at backup "
              + spec.backupName
              + "; it starts as its run strategy says");
    } catch (IOException | BackupStore.StoreException e) {
      // The VM's disk may be half written: it stays stopped and the copy is tried again (deleting
      // this restore gives up and hands the VM back as it is).
      return recorder.waiting(restore, status, "RestoreCopyFailed", e.getMessage());
    } catch (HypervisorException | IllegalArgumentException e) {
      return recorder.fail(restore, status, "RestoreFailed", e.getMessage());
    }
  }

  /**
   * Where each of the backup's disks goes back to: an NFS backup onto the VM's disks wherever they
   * are, a host's backup onto the VM's disk files on that same host.
   *
   * @throws IllegalArgumentException when the backup cannot be restored onto this VM in place
   */
  private Map<BackupManifest.Disk, String> destinations(
      BackupStore store, List<BackupLayout> chain, VmLocator.Located located)
      throws BackupStore.StoreException, HypervisorException {
    if (store instanceof HostBackupStore host && !host.hostName().equals(located.hostName())) {
      throw new IllegalArgumentException(
          "the backup is on host "
              + host.hostName()
              + "'s local storage and the VM is on host "
              + located.hostName()
              + ": migrate it there first, or restore into a new VM");
    }
    List<DomainDisks.Disk> disks =
        DomainDisks.of(
            located
                .hypervisor()
                .findDomain(located.domainName())
                .orElseThrow(() -> new IllegalArgumentException("the VM's domain is not defined"))
                .xml());
    Map<BackupManifest.Disk, String> destinations = new java.util.LinkedHashMap<>();
    for (BackupManifest.Disk disk :
        backupFiles.manifest(store, chain.get(chain.size() - 1)).disks()) {
      DomainDisks.Disk current =
          disks.stream()
              .filter(d -> d.target().equals(disk.target()))
              .findFirst()
              .orElseThrow(
                  () -> new IllegalArgumentException("the VM has no disk " + disk.target()));
      // An NFS backup goes onto the disk wherever it is; a host's backup onto its files only.
      String destination =
          store instanceof NfsBackupStore && current.nfsUrl() != null
              ? current.nfsUrl()
              : current.file();
      if (destination == null) {
        throw new IllegalArgumentException(
            "disk "
                + disk.target()
                + " cannot be restored in place from "
                + store.describe()
                + ": a host's backup restores disks that are files on that host");
      }
      destinations.put(disk, destination);
    }
    return destinations;
  }

  /** A backup job reads the VM's disks: a restore must not rewrite or revert them meanwhile. */
  boolean backupUnderWay(String namespace, String vmName) {
    return backups
        .list(namespace)
        .filter(b -> b.getSpec().vmName.equals(vmName))
        .anyMatch(VirtualMachineBackupReconciler::isUnderWay);
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
}
