package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.BackupJobState;
import io.bastida.hypervisor.BackupJobState.Phase;
import java.util.Optional;
import org.libvirt.DomainJobStats;
import org.libvirt.TypedParameter;
import org.libvirt.TypedStringParameter;

/** Reads a backup job out of libvirt's job statistics (virDomainGetJobStats). */
final class BackupJobStats {
  private static final int JOB_BOUNDED = 1;
  private static final int JOB_UNBOUNDED = 2;
  private static final int JOB_COMPLETED = 3;
  private static final int JOB_FAILED = 4;
  private static final int JOB_CANCELLED = 5;
  private static final int OPERATION_BACKUP = 9;

  private BackupJobStats() {}

  /** A running backup job; empty for no job or a job of another kind. */
  static Optional<BackupJobState> running(DomainJobStats job) {
    if ((job.type != JOB_BOUNDED && job.type != JOB_UNBOUNDED) || !isBackup(job)) {
      return Optional.empty();
    }
    return Optional.of(state(Phase.Running, job.stats));
  }

  /** How the domain's last job ended, if it was a backup; else {@link Phase#None}. */
  static BackupJobState ended(DomainJobStats job) {
    if (!isBackup(job)) {
      return new BackupJobState(Phase.None, 0, 0, null);
    }
    if (job.type == JOB_COMPLETED) {
      return state(Phase.Completed, job.stats);
    }
    if (job.type == JOB_FAILED) {
      return state(Phase.Failed, job.stats);
    }
    if (job.type == JOB_CANCELLED) {
      BackupJobState cancelled = state(Phase.Failed, job.stats);
      return new BackupJobState(
          Phase.Failed,
          cancelled.processedBytes(),
          cancelled.totalBytes(),
          "the backup job was cancelled (aborted on the host)");
    }
    return new BackupJobState(Phase.None, 0, 0, null);
  }

  private static boolean isBackup(DomainJobStats job) {
    return Migrations.value(job.stats, "operation").orElse(-1) == OPERATION_BACKUP;
  }

  private static BackupJobState state(Phase phase, TypedParameter[] stats) {
    String error = null;
    for (TypedParameter stat : stats) {
      if ("errmsg".equals(stat.field) && stat instanceof TypedStringParameter text) {
        error = text.value;
      }
    }
    if (phase == Phase.Failed && error == null) {
      error = "libvirt reports the backup job failed";
    }
    return new BackupJobState(
        phase,
        Migrations.value(stats, "disk_processed").orElse(0),
        Migrations.value(stats, "disk_total").orElse(0),
        error);
  }
}
