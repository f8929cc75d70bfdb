package io.bastida.hypervisor;

import java.util.Map;

/**
 * A push-mode backup of a running domain: QEMU itself writes the chosen disks' content as of the
 * job's start into images on the host, which must exist already ({@link
 * Hypervisor#createHostImage}); an incremental writes only what changed since the checkpoint, into
 * an image backed by the previous backup's.
 *
 * @param targetImageByDisk host path of the image to write, by disk target name (e.g. {@code vda});
 *     the domain's other disks are left out
 * @param incrementalFromCheckpoint write only what changed since this checkpoint; null for a full
 * @param newCheckpoint a checkpoint to create at the job's start, or null for none
 */
public record PushBackupRequest(
    Map<String, String> targetImageByDisk, String incrementalFromCheckpoint, String newCheckpoint) {

  public PushBackupRequest {
    targetImageByDisk = Map.copyOf(targetImageByDisk);
  }
}
