package io.bastida.api.v1alpha1;

import java.util.ArrayList;
import java.util.List;

/** Where a backup is, what it holds, and whether it can be restored. */
public class VirtualMachineBackupStatus extends ConditionedStatus {
  /** Pending, Running, Complete or Failed; for {@code kubectl get} only. */
  public String printableStatus;

  /** What was made: an incremental request may have become a full backup (see conditions). */
  public BackupMode mode;

  public String parentBackupName;

  /** The full backup at the root of this backup's chain. */
  public String chainBaseName;

  /** This backup's place in its chain: 1 for a full. */
  public Integer chainLength;

  /** The libvirt checkpoint taken with this backup: the base of the next incremental. */
  public String checkpointName;

  public String hostName;
  public String startTime;
  public String completionTime;

  /** The backup's folder on the storage domain, relative to its root. */
  public String location;

  /** Bytes stored on the storage domain by this backup. */
  public Long totalBytes;

  public Progress progress;

  public List<Disk> disks = new ArrayList<>();

  /** True once the stored images were checked against the VM's disks at backup time. */
  public Boolean verified;

  /** Made from a manifest found on the storage domain, not by this cluster. */
  public Boolean rediscovered;

  public static class Progress {
    public Long processedBytes;
    public Long totalBytes;
  }

  public static class Disk {
    /** The VM's disk, as its spec names it. */
    public String name;

    /** The device the guest saw it as, e.g. vda. */
    public String target;

    public String file;
    public Long virtualSizeBytes;
    public Long fileSizeBytes;
    public String sha256;
  }
}
