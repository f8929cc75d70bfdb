package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.BackupMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Decides whether a new backup of a VM is a Full or an Incremental on top of the VM's latest
 * backup, and which backups a restore has to read. Pure.
 *
 * <p>An incremental copies only what changed since the parent's libvirt checkpoint (a dirty bitmap
 * in each qcow2 disk), so it needs a complete parent, that checkpoint still on the domain, the same
 * disks, and a running domain: libvirt takes backups and checkpoints of running domains only.
 * Whenever one is missing the backup falls back to a Full, and the reason says why.
 */
public final class BackupChainPlanner {
  private BackupChainPlanner() {}

  /** Why the backup has the mode it has; all but {@code Incremental} mean a Full. */
  public enum Reason {
    Incremental,
    FirstBackup,
    RequestedFull,
    /** The latest backup's chain already holds {@code fullEvery} backups. */
    FullEveryReached,
    VmNotRunning,
    /** The latest backup failed or is still running: nothing to build on. */
    ParentNotComplete,
    /** The parent's checkpoint is gone from the domain, e.g. after the domain was redefined. */
    CheckpointMissing,
    /** A disk was added or removed: the parent has no image to build on for it. */
    DisksChanged,
    /**
     * The parent is kept on another host's local storage (the VM moved since): QEMU writes an
     * incremental next to its parent, on the host where the VM runs.
     */
    ParentOnOtherHost
  }

  /**
   * The VM's latest earlier backup on the same storage domain.
   *
   * @param checkpointName the checkpoint created with it, or null if the VM was not running then
   * @param chainLength its place in its chain: 1 for a full
   * @param elsewhere the host keeping it on its local storage, when that is not the host the VM
   *     runs on now; null when the VM can build on it from where it runs
   */
  public record PreviousBackup(
      String name,
      boolean complete,
      String checkpointName,
      int chainLength,
      Set<String> diskNames,
      String elsewhere) {
    public PreviousBackup {
      diskNames = Set.copyOf(diskNames);
    }
  }

  /**
   * @param fullEvery at most this many backups in one chain, the full included; 1 means always full
   * @param latest the VM's latest earlier backup on this storage domain, or null if there is none
   * @param domainCheckpoints the checkpoints libvirt has for the domain now
   * @param vmDiskNames the VM's disks now
   */
  public record Inputs(
      BackupMode requested,
      int fullEvery,
      boolean domainRunning,
      PreviousBackup latest,
      Set<String> domainCheckpoints,
      Set<String> vmDiskNames) {
    public Inputs {
      if (fullEvery < 1) {
        throw new IllegalArgumentException("fullEvery must be at least 1: " + fullEvery);
      }
      domainCheckpoints = Set.copyOf(domainCheckpoints);
      vmDiskNames = Set.copyOf(vmDiskNames);
    }
  }

  /**
   * @param parentBackupName the backup an incremental builds on; null for a full
   * @param incrementFromCheckpoint the parent's checkpoint, where an incremental's changes start;
   *     null for a full
   * @param createCheckpoint whether to create a checkpoint with this backup, the start of the next
   *     incremental
   * @param chainLength the new backup's place in its chain
   * @param message for people, e.g. in a status condition
   */
  public record Plan(
      BackupMode mode,
      String parentBackupName,
      String incrementFromCheckpoint,
      boolean createCheckpoint,
      int chainLength,
      Reason reason,
      String message) {}

  /**
   * One backup as a restore sees it.
   *
   * @param parentBackupName null for a full
   * @param complete whether its manifest says it can be restored from
   */
  public record ChainLink(String parentBackupName, boolean complete) {}

  public static Plan plan(Inputs in) {
    PreviousBackup previous = in.latest();
    if (in.requested() == BackupMode.Full) {
      return full(in, Reason.RequestedFull, "Full backup: requested");
    }
    if (previous == null) {
      return full(
          in,
          Reason.FirstBackup,
          "Full backup: the VM has no earlier backup on this storage domain");
    }
    if (previous.chainLength() >= in.fullEvery()) {
      return full(
          in,
          Reason.FullEveryReached,
          "Full backup: the chain ending in "
              + previous.name()
              + " holds "
              + previous.chainLength()
              + " backups, fullEvery is "
              + in.fullEvery());
    }
    if (!in.domainRunning()) {
      return full(
          in,
          Reason.VmNotRunning,
          "Full backup: the VM is not running, so its disks are copied whole, without a"
              + " checkpoint");
    }
    if (!previous.complete()) {
      return full(
          in,
          Reason.ParentNotComplete,
          "Full backup: the previous backup " + previous.name() + " is not complete");
    }
    if (previous.elsewhere() != null) {
      return full(
          in,
          Reason.ParentOnOtherHost,
          "Full backup: the previous backup "
              + previous.name()
              + " is kept on host "
              + previous.elsewhere()
              + "'s local storage, and the VM runs on another host now");
    }
    if (previous.checkpointName() == null) {
      return full(
          in,
          Reason.CheckpointMissing,
          "Full backup: the previous backup "
              + previous.name()
              + " has no checkpoint (the VM was not running then)");
    }
    if (!in.domainCheckpoints().contains(previous.checkpointName())) {
      return full(
          in,
          Reason.CheckpointMissing,
          "Full backup: checkpoint "
              + previous.checkpointName()
              + " of the previous backup is missing on the domain");
    }
    if (!in.vmDiskNames().equals(previous.diskNames())) {
      return full(
          in,
          Reason.DisksChanged,
          "Full backup: the VM's disks changed since "
              + previous.name()
              + " (added "
              + sortedDifference(in.vmDiskNames(), previous.diskNames())
              + ", removed "
              + sortedDifference(previous.diskNames(), in.vmDiskNames())
              + ")");
    }
    return new Plan(
        BackupMode.Incremental,
        previous.name(),
        previous.checkpointName(),
        true,
        previous.chainLength() + 1,
        Reason.Incremental,
        "Incremental backup on top of "
            + previous.name()
            + " from checkpoint "
            + previous.checkpointName());
  }

  /**
   * The backups to read for a restore of {@code backupName}, its full first and the backup itself
   * last.
   *
   * @param byName every known backup of the VM by name
   * @throws IllegalArgumentException if a backup of the chain is missing or not complete, or the
   *     parents form a cycle
   */
  public static List<String> restoreChain(String backupName, Map<String, ChainLink> byName) {
    var newestFirst = new ArrayList<String>();
    var seen = new HashSet<String>();
    String current = backupName;
    while (current != null) {
      if (!seen.add(current)) {
        throw new IllegalArgumentException(
            "cannot restore " + backupName + ": its chain loops back to " + current);
      }
      ChainLink link = byName.get(current);
      if (link == null) {
        throw new IllegalArgumentException(
            "cannot restore " + backupName + ": backup " + current + " of its chain is missing");
      }
      if (!link.complete()) {
        throw new IllegalArgumentException(
            "cannot restore "
                + backupName
                + ": backup "
                + current
                + " of its chain is not complete");
      }
      newestFirst.add(current);
      current = link.parentBackupName();
    }
    Collections.reverse(newestFirst);
    return List.copyOf(newestFirst);
  }

  private static Plan full(Inputs in, Reason reason, String message) {
    // Only a running domain can have a checkpoint created.
    return new Plan(BackupMode.Full, null, null, in.domainRunning(), 1, reason, message);
  }

  private static Set<String> sortedDifference(Set<String> from, Set<String> without) {
    var difference = new TreeSet<>(from);
    difference.removeAll(without);
    return difference;
  }
}
