package io.bastida.api.v1alpha1;

/** Where a snapshot is and whether it can be restored. */
public class VirtualMachineSnapshotStatus extends ConditionedStatus {
  /** True once libvirt holds the snapshot and a restore may use it. */
  public Boolean readyToUse;

  /** The host whose images hold the snapshot. */
  public String hostName;

  /** The libvirt snapshot's name on the VM's domain. */
  public String snapshotName;

  public String creationTime;

  /** Whether the guest's RAM was saved (asked for, and the VM was running). */
  public Boolean memoryIncluded;

  /**
   * Bytes the snapshot holds on its own when created: the saved RAM state. Disk data is shared
   * copy-on-write with the live disks and grows as the guest writes.
   */
  public Long sizeBytes;
}
