package io.bastida.storage.nfs;

/**
 * A file, directory or anything else on an NFS export, as its server describes it.
 *
 * @param name its name in its directory
 * @param type what it is
 * @param sizeBytes its length in bytes as the server reports it (for a directory, whatever the
 *     server's file system says)
 */
public record NfsEntry(String name, Type type, long sizeBytes) {

  public enum Type {
    FILE,
    DIRECTORY,
    /** A symbolic link, device, socket or pipe: nothing that Bastida writes. */
    OTHER
  }
}
