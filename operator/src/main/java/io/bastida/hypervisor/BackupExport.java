package io.bastida.hypervisor;

import java.util.Map;

/**
 * Where a running pull-mode backup job serves its disks over NBD.
 *
 * @param exportByDisk the NBD export name of each backed-up disk, by target name
 * @param dirtyBitmapByDisk for an incremental backup, the NBD metadata context that tells each
 *     disk's changed ranges (e.g. {@code qemu:dirty-bitmap:backup-vda}); empty for a full one
 */
public record BackupExport(
    String host,
    int port,
    Map<String, String> exportByDisk,
    Map<String, String> dirtyBitmapByDisk) {

  public BackupExport {
    exportByDisk = Map.copyOf(exportByDisk);
    dirtyBitmapByDisk = Map.copyOf(dirtyBitmapByDisk);
  }

  /**
   * {@code nbd://host:port/export} of the disk.
   *
   * @throws IllegalArgumentException when the disk is not part of this backup
   */
  public String nbdUrl(String disk) {
    String export = exportByDisk.get(disk);
    if (export == null) {
      throw new IllegalArgumentException(
          "disk " + disk + " is not exported, only " + exportByDisk.keySet());
    }
    String address = host.contains(":") ? "[" + host + "]" : host;
    return "nbd://" + address + ":" + port + "/" + export;
  }
}
