package io.bastida.storage.nfs;

/** Why an NFS probe failed, sorted into what the operator can act on. */
public class NfsException extends Exception {

  public enum Reason {
    /** Nothing answered: unknown host, connection refused, no route, timeout, no NFS service. */
    Unreachable,
    /** The server has no such export. */
    ExportNotFound,
    /** The server refused us: export ACL, credentials, or a non-privileged source port. */
    AccessDenied,
    /** The server answered something we did not expect. */
    ProtocolError
  }

  private static final long serialVersionUID = 1L;

  private final Reason reason;

  public NfsException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public NfsException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  /** Maps a failed mountstat3 (RFC 1813 §5.1.5). */
  static NfsException mountStatus(String context, int status) {
    Reason reason =
        switch (status) {
          case 2, 20 -> Reason.ExportNotFound; // NOENT, NOTDIR
          case 1, 13 -> Reason.AccessDenied; // PERM, ACCES
          default -> Reason.ProtocolError;
        };
    // Servers hide which paths exist: Linux mountd and nfs-ganesha answer ACCES for unknown ones.
    String hint = status == 13 ? ", not exported to us or no such export" : "";
    return new NfsException(reason, context + " failed: " + statusName("MNT3ERR_", status) + hint);
  }

  /** Maps a failed nfsstat3 (RFC 1813 §2.6). */
  static NfsException nfsStatus(String context, int status) {
    Reason reason =
        switch (status) {
          case 1, 13, 30 -> Reason.AccessDenied; // PERM, ACCES, ROFS
          default -> Reason.ProtocolError;
        };
    return new NfsException(reason, context + " failed: " + statusName("NFS3ERR_", status));
  }

  // mountstat3 shares its numbers with nfsstat3, so one table names both.
  private static String statusName(String prefix, int status) {
    String name =
        switch (status) {
          case 1 -> "PERM";
          case 2 -> "NOENT";
          case 5 -> "IO";
          case 13 -> "ACCES";
          case 17 -> "EXIST";
          case 20 -> "NOTDIR";
          case 21 -> "ISDIR";
          case 22 -> "INVAL";
          case 28 -> "NOSPC";
          case 30 -> "ROFS";
          case 63 -> "NAMETOOLONG";
          case 66 -> "NOTEMPTY";
          case 70 -> "STALE";
          case 10001 -> "BADHANDLE";
          case 10003 -> "BAD_COOKIE";
          case 10004 -> "NOTSUPP";
          case 10006 -> "SERVERFAULT";
          case 10008 -> "JUKEBOX";
          default -> null;
        };
    return name == null ? "status " + status : prefix + name + " (" + status + ")";
  }
}
