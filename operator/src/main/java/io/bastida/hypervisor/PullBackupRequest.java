package io.bastida.hypervisor;

import java.util.List;

/**
 * A pull-mode backup of a running domain: the host exports the chosen disks' content as of the
 * job's start over NBD, for the operator to read, until the job ends.
 *
 * @param listenAddress the host address the NBD server listens on, reachable by the operator
 * @param port the NBD server's TCP port
 * @param diskTargets the disks to export, by target name (e.g. {@code vda}); the domain's other
 *     disks are left out
 * @param incrementalFromCheckpoint export, besides the content, which ranges changed since this
 *     checkpoint; null for a full backup
 * @param newCheckpoint a checkpoint to create at the job's start (tracking changes for the next
 *     incremental backup), or null for none
 */
public record PullBackupRequest(
    String listenAddress,
    int port,
    List<String> diskTargets,
    String incrementalFromCheckpoint,
    String newCheckpoint) {

  public PullBackupRequest {
    diskTargets = List.copyOf(diskTargets);
  }
}
