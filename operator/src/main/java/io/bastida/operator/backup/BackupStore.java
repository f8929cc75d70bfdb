package io.bastida.operator.backup;

import java.util.List;

/**
 * Where a storage domain keeps backups, as files under {@link BackupLayout} paths: an NFS export
 * the operator writes itself, or a directory on one host reached through libvirt. Paths are
 * relative to the storage domain's root.
 */
public sealed interface BackupStore permits NfsBackupStore, HostBackupStore {

  /** An entry of a folder of the store. */
  record Entry(String name, boolean directory, long sizeBytes) {}

  /** A store could not be read or written; the message says which and why. */
  final class StoreException extends Exception {
    private static final long serialVersionUID = 1L;

    StoreException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  void makeFolder(String folder) throws StoreException;

  /** Writes a whole file, replacing one that exists (see {@link BackupRun}: manifest last). */
  void write(String path, byte[] content) throws StoreException;

  byte[] read(String path, int maxBytes) throws StoreException;

  String sha256(String path) throws StoreException;

  /** The entries of a folder; empty when it does not exist. */
  List<Entry> list(String folder) throws StoreException;

  /** Removes a file; one that is gone is fine. */
  void removeFile(String path) throws StoreException;

  /** Removes a folder with everything in it; a folder that is gone is fine. */
  void removeTree(String folder) throws StoreException;

  /** Removes a folder if it is empty; returns whether it is gone. */
  boolean removeIfEmpty(String folder) throws StoreException;

  /** For messages: e.g. {@code nfs://server/export} or {@code host-a:/srv/vms}. */
  String describe();
}
