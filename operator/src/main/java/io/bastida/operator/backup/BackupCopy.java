package io.bastida.operator.backup;

import io.bastida.hypervisor.DomainDisks;
import io.bastida.operator.backup.BackupRun.StepFailed;
import java.util.List;

/** How a {@link BackupRun} gets a VM's disks into its store: one way per kind of store. */
sealed interface BackupCopy permits NfsBackupCopy, HostBackupCopy {

  /** Copies the writable disks into the backup's folder; returns their manifest entries. */
  List<BackupManifest.Disk> copy(List<DomainDisks.Disk> disks) throws StepFailed;

  /** Checks the copies, as the backup's {@code verify} asks; what the manifest says of it. */
  BackupManifest.Verification verify(List<DomainDisks.Disk> disks) throws StepFailed;
}
