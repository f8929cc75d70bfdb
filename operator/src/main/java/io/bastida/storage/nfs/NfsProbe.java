package io.bastida.storage.nfs;

import io.bastida.storage.nfs.NfsException.Reason;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The operator's NFSv3 client (RFC 1813) for exports that QEMU opens itself over libnfs, so that
 * nothing is mounted and no kernel NFS client is needed: it measures an export, lists the files at
 * its root and removes one of them. Image contents are QEMU's business ({@code qemu-img}).
 *
 * <p>Thread-safe: each call opens, and closes, its own connections (portmapper, MOUNT, NFS), from a
 * reserved port if it may, as root.
 */
public final class NfsProbe {
  private static final int NFSPROC3_REMOVE = 12;
  private static final int NFSPROC3_READDIR = 16;
  private static final int NFSPROC3_FSSTAT = 18;
  private static final int NFS3_OK = 0;
  private static final int NFS3ERR_NOENT = 2;
  private static final int FATTR3_BYTES = 84;
  private static final int COOKIEVERF3_BYTES = 8;
  // READDIR's count: the most reply bytes we accept per page, well within one RPC record.
  private static final int READDIR_COUNT = 32 * 1024;
  // Linux allows 255 bytes; leave room for other servers but not for garbage.
  private static final int MAX_NAME_BYTES = 1024;
  // Pages of at most 32 KiB: far more than any real export root, and an end to a looping server.
  private static final int MAX_READDIR_PAGES = 100_000;

  private final Duration timeout;

  /** {@code timeout} bounds each connect and each wait for a reply. */
  public NfsProbe(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.timeout = timeout;
  }

  /** The export's capacity (FSSTAT of its root). */
  public NfsExportStats stat(String server, String exportPath) throws NfsException {
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      byte[] root = session.rootHandle();
      Xdr.Decoder reply = session.call(NFSPROC3_FSSTAT, args -> args.putOpaque(root));
      return decodeFsstat(reply, session.export());
    }
  }

  /**
   * The names of the entries (files, directories, anything) in the export's root directory, without
   * {@code .} and {@code ..}, sorted.
   */
  public List<String> list(String server, String exportPath) throws NfsException {
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      byte[] root = session.rootHandle();
      return readDirectory(
          (cookie, verifier) ->
              session.call(
                  NFSPROC3_READDIR, args -> readdirArguments(args, root, cookie, verifier)),
          "READDIR of " + session.export());
    }
  }

  /**
   * Removes a file from the export's root directory. A file that is already gone is no error.
   *
   * @throws IllegalArgumentException if {@code fileName} is not a single path component
   */
  public void remove(String server, String exportPath, String fileName) throws NfsException {
    checkFileName(fileName);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      byte[] root = session.rootHandle();
      Xdr.Decoder reply =
          session.call(NFSPROC3_REMOVE, args -> args.putOpaque(root).putString(fileName));
      decodeRemove(reply, "REMOVE of " + fileName + " in " + session.export());
    }
  }

  /** Decodes FSSTAT3res, of which we keep the three byte counts. */
  static NfsExportStats decodeFsstat(Xdr.Decoder reply, String export) throws NfsException {
    int status = reply.getInt();
    if (status != NFS3_OK) {
      throw NfsException.nfsStatus("FSSTAT of " + export, status);
    }
    skipPostOpAttributes(reply); // the export root's
    long total = size3(reply);
    long free = size3(reply);
    long available = size3(reply);
    return new NfsExportStats(total, free, available);
  }

  /** One READDIR call: the reply to a request for entries after {@code cookie}. */
  @FunctionalInterface
  interface DirectoryReader {
    Xdr.Decoder read(long cookie, byte[] cookieVerifier) throws NfsException;
  }

  /** Reads a whole directory page by page, resuming after the last cookie until eof. */
  static List<String> readDirectory(DirectoryReader reader, String context) throws NfsException {
    List<String> names = new ArrayList<>();
    long cookie = 0;
    byte[] verifier = new byte[COOKIEVERF3_BYTES];
    for (int page = 0; page < MAX_READDIR_PAGES; page++) {
      ReaddirPage entries = decodeReaddir(reader.read(cookie, verifier), context);
      for (String name : entries.names()) {
        if (!name.equals(".") && !name.equals("..")) {
          names.add(name);
        }
      }
      if (entries.eof()) {
        names.sort(null);
        return List.copyOf(names);
      }
      if (entries.names().isEmpty()) {
        throw new NfsException(
            Reason.ProtocolError, context + ": server sent no entries but no end of directory");
      }
      cookie = entries.lastCookie();
      verifier = entries.cookieVerifier();
    }
    throw new NfsException(
        Reason.ProtocolError,
        context + ": no end of directory after " + MAX_READDIR_PAGES + " pages");
  }

  /** READDIR3args (RFC 1813 §3.3.16). */
  static void readdirArguments(
      Xdr.Encoder args, byte[] directory, long cookie, byte[] cookieVerifier) {
    args.putOpaque(directory).putLong(cookie).putFixedOpaque(cookieVerifier).putInt(READDIR_COUNT);
  }

  /** One page of a directory, as READDIR3resok carries it. */
  record ReaddirPage(List<String> names, long lastCookie, byte[] cookieVerifier, boolean eof) {}

  /** Decodes READDIR3res. */
  static ReaddirPage decodeReaddir(Xdr.Decoder reply, String context) throws NfsException {
    int status = reply.getInt();
    if (status != NFS3_OK) {
      throw NfsException.nfsStatus(context, status);
    }
    skipPostOpAttributes(reply); // the directory's
    byte[] verifier = reply.getFixedOpaque(COOKIEVERF3_BYTES);
    List<String> names = new ArrayList<>();
    long lastCookie = 0;
    while (reply.getBoolean()) { // entry3 *: a linked list, each entry preceded by "one follows"
      reply.getLong(); // fileid
      names.add(new String(reply.getOpaque(MAX_NAME_BYTES), StandardCharsets.UTF_8));
      lastCookie = reply.getLong();
    }
    boolean eof = reply.getBoolean();
    return new ReaddirPage(List.copyOf(names), lastCookie, verifier, eof);
  }

  /** Decodes REMOVE3res: NFS3ERR_NOENT means someone was faster, which is what we wanted. */
  static void decodeRemove(Xdr.Decoder reply, String context) throws NfsException {
    int status = reply.getInt();
    if (status != NFS3_OK && status != NFS3ERR_NOENT) {
      throw NfsException.nfsStatus(context, status);
    }
    // The directory's wcc_data follows: nothing we need.
  }

  /** A name for one entry of a directory: not empty, not . or .., no / and no NUL. */
  static void checkFileName(String fileName) {
    if (fileName == null
        || fileName.isEmpty()
        || fileName.equals(".")
        || fileName.equals("..")
        || fileName.indexOf('/') >= 0
        || fileName.indexOf('\0') >= 0
        || fileName.getBytes(StandardCharsets.UTF_8).length > 255) {
      throw new IllegalArgumentException(
          "not a file name in the export's root directory: " + fileName);
    }
  }

  private static void skipPostOpAttributes(Xdr.Decoder reply) throws NfsException {
    if (reply.getBoolean()) {
      reply.skip(FATTR3_BYTES);
    }
  }

  // size3 is unsigned: 2^63 bytes or more can only mean "unlimited", which saturates.
  private static long size3(Xdr.Decoder reply) throws NfsException {
    long size = reply.getLong();
    return size < 0 ? Long.MAX_VALUE : size;
  }
}
