package io.bastida.api.v1alpha1;

/** How a restore went. */
public class VirtualMachineRestoreStatus extends ConditionedStatus {
  /** Pending, Restoring, Succeeded or Failed; for {@code kubectl get} only. */
  public String printableStatus;

  public String startTime;
  public String completionTime;

  /** The VirtualMachine that was restored (the VM itself, or the new one). */
  public String restoredVmName;

  /** Bytes copied back from the backup. */
  public Long restoredBytes;
}
