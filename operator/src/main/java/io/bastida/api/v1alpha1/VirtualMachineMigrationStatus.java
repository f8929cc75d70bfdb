package io.bastida.api.v1alpha1;

import java.util.ArrayList;
import java.util.List;

/** What happened to a migration. Public fields, like the VM status. */
public class VirtualMachineMigrationStatus extends ConditionedStatus {
  /** Pending, Running, Succeeded, Failed or Aborting; for {@code kubectl get} only. */
  public String printableStatus;

  public String sourceHostName;
  public String targetHostName;

  /** When the migration job started on the source host. */
  public String startTime;

  public String completionTime;

  /** The switch-over pause allowed now; raised in steps toward the spec's goal. */
  public Long allowedDowntimeMilliseconds;

  public Progress progress;

  /** The guest's pause at switch-over, as libvirt measured it. */
  public Long downtimeMilliseconds;

  /** Wall time of the migration job. */
  public Long durationMilliseconds;

  /**
   * Snapshot and checkpoint definitions taken off the domain for the move (libvirt does not carry
   * them), kept here until they are redefined, so an operator restart in between loses nothing.
   */
  public DetachedMetadata detachedMetadata;

  public static class Progress {
    public Long dataTotalBytes;
    public Long dataProcessedBytes;
    public Long dataRemainingBytes;

    /** Passes over guest memory so far. */
    public Long memoryIteration;
  }

  public static class DetachedMetadata {
    public List<String> snapshots = new ArrayList<>();
    public List<String> checkpoints = new ArrayList<>();

    /** The current snapshot (the parent of the next one); no snapshot's XML says which. */
    public String currentSnapshot;
  }
}
