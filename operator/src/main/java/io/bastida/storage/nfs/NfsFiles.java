package io.bastida.storage.nfs;

import io.bastida.storage.nfs.NfsEntry.Type;
import io.bastida.storage.nfs.NfsException.Reason;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Directories and files anywhere on an NFSv3 export (RFC 1813), over the operator's own client like
 * {@link NfsProbe}: what backups keep next to the disk images that QEMU writes over libnfs.
 *
 * <p>Paths are relative to the export's root, with {@code /} between names; absolute paths, empty
 * names, {@code .} and {@code ..} are refused, so no call can reach beyond the export or act on its
 * root itself.
 *
 * <p>Thread-safe: each call opens, and closes, its own session as root, like {@link NfsProbe}.
 */
public final class NfsFiles {
  private final Duration timeout;

  /** {@code timeout} bounds each connect and each wait for a reply. */
  public NfsFiles(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.timeout = timeout;
  }

  /** Creates directory {@code dir} and any missing parents; existing ones are fine. */
  public void mkdirs(String server, String exportPath, String dir) throws NfsException {
    RelativePath path = RelativePath.parse(dir);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      on(session).mkdirs(path);
    }
  }

  /**
   * The entries of directory {@code dir}, without {@code .} and {@code ..}, sorted by name.
   *
   * @throws NfsException also if {@code dir} does not exist
   */
  public List<NfsEntry> list(String server, String exportPath, String dir) throws NfsException {
    RelativePath path = RelativePath.parse(dir);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      return on(session).list(path);
    }
  }

  /** What is at {@code path}, or empty if nothing is. */
  public Optional<NfsEntry> stat(String server, String exportPath, String path)
      throws NfsException {
    RelativePath file = RelativePath.parse(path);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      return on(session).stat(file);
    }
  }

  /**
   * Writes a small file whole, replacing any file of that name at once: readers see the old file or
   * the new one, never part of it. Its directory must exist.
   */
  public void writeFile(String server, String exportPath, String path, byte[] content)
      throws NfsException {
    RelativePath file = RelativePath.parse(path);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      on(session).writeFile(file, content);
    }
  }

  /**
   * The content of a small file.
   *
   * @throws NfsException also if the file is longer than {@code maxBytes}
   */
  public byte[] readFile(String server, String exportPath, String path, int maxBytes)
      throws NfsException {
    RelativePath file = RelativePath.parse(path);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      return on(session).readFile(file, maxBytes);
    }
  }

  /** The SHA-256 of a file of any size, in lower-case hex, read in chunks. */
  public String sha256(String server, String exportPath, String path) throws NfsException {
    RelativePath file = RelativePath.parse(path);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      return on(session).sha256(file);
    }
  }

  /** Removes a file (not a directory). A file that is already gone is no error. */
  public void remove(String server, String exportPath, String path) throws NfsException {
    RelativePath file = RelativePath.parse(path);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      on(session).remove(file);
    }
  }

  /**
   * Removes {@code path} and, if it is a directory, everything in it, deepest first. What is
   * already gone is no error.
   */
  public void removeTree(String server, String exportPath, String path) throws NfsException {
    RelativePath tree = RelativePath.parse(path);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      on(session).removeTree(tree);
    }
  }

  /**
   * Removes a directory if it is empty; one that holds anything, or is already gone, stays as it
   * is. Returns whether it is gone.
   */
  public boolean removeIfEmpty(String server, String exportPath, String dir) throws NfsException {
    RelativePath path = RelativePath.parse(dir);
    try (NfsSession session = NfsSession.open(server, exportPath, timeout)) {
      return on(session).removeIfEmpty(path);
    }
  }

  private static Export on(NfsSession session) {
    return new Export(session::call, session.rootHandle(), session.export());
  }

  /** One NFSv3 call: the results of {@code procedure}, in a reply of at most the given size. */
  @FunctionalInterface
  interface NfsCaller {
    Xdr.Decoder call(int procedure, Consumer<Xdr.Encoder> arguments, int maxReplyBytes)
        throws NfsException;
  }

  /** A path checked to stay inside the export: one or more names, none of them . or .. */
  record RelativePath(String text, List<String> names) {
    private static final int MAX_NAME_BYTES = 255;

    static RelativePath parse(String path) {
      if (path == null || path.isEmpty() || path.startsWith("/")) {
        throw new IllegalArgumentException(
            "not a path relative to the export's root: " + quote(path));
      }
      List<String> names = List.of(path.split("/", -1));
      for (String name : names) {
        if (name.isEmpty()
            || name.equals(".")
            || name.equals("..")
            || name.indexOf('\0') >= 0
            || name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
          throw new IllegalArgumentException(
              "bad name " + quote(name) + " in path " + quote(path) + " on an NFS export");
        }
      }
      return new RelativePath(path, names);
    }

    String name() {
      return names.get(names.size() - 1);
    }

    /** The first {@code count} names, as a path of their own (for messages and walks). */
    RelativePath prefix(int count) {
      return new RelativePath(String.join("/", names.subList(0, count)), names.subList(0, count));
    }

    RelativePath parent() {
      return prefix(names.size() - 1);
    }

    RelativePath child(String name) {
      List<String> childNames = new ArrayList<>(names);
      childNames.add(name);
      return new RelativePath(text + "/" + name, List.copyOf(childNames));
    }

    private static String quote(String text) {
      return text == null ? "null" : "\"" + text + "\"";
    }
  }

  /** The NFSv3 procedures behind {@link NfsFiles}' calls, on one export. */
  static final class Export {
    static final int NFSPROC3_GETATTR = 1;
    static final int NFSPROC3_LOOKUP = 3;
    static final int NFSPROC3_READ = 6;
    static final int NFSPROC3_WRITE = 7;
    static final int NFSPROC3_CREATE = 8;
    static final int NFSPROC3_MKDIR = 9;
    static final int NFSPROC3_REMOVE = 12;
    static final int NFSPROC3_RMDIR = 13;
    static final int NFSPROC3_RENAME = 14;
    static final int NFSPROC3_READDIRPLUS = 17;

    private static final int NFS3_OK = 0;
    private static final int NFS3ERR_NOENT = 2;
    private static final int NFS3ERR_EXIST = 17;
    private static final int NFS3ERR_NOTDIR = 20;
    private static final int NFS3ERR_NOTEMPTY = 66;
    private static final int NF3REG = 1;
    private static final int NF3DIR = 2;
    private static final int GUARDED = 1; // createmode3: fail if the name exists
    private static final int FILE_SYNC = 2; // stable_how: on disk before the reply
    private static final int DONT_CHANGE = 0; // time_how
    // Backups hold VM definitions (which may carry secrets); QEMU and the operator act as root.
    private static final int DIRECTORY_MODE = 0700;
    private static final int FILE_MODE = 0600;

    // Replies without file data: READDIRPLUS pages of READDIR_MAXCOUNT are the largest.
    private static final int REPLY_BYTES = 64 * 1024;
    // Few round trips for images of GiBs, yet little memory. A server whose READ limit is lower
    // sends fewer bytes, and the next READ goes on from there: no need to ask it (FSINFO).
    static final int READ_CHUNK_BYTES = 1024 * 1024;
    private static final int READ_REPLY_BYTES = READ_CHUNK_BYTES + 4 * 1024;
    // Files written here are small; a server that takes less per WRITE says how much it took.
    static final int WRITE_CHUNK_BYTES = 64 * 1024;
    private static final int READDIR_DIRCOUNT = 8 * 1024;
    private static final int READDIR_MAXCOUNT = 32 * 1024;
    private static final int MAX_READDIR_PAGES = 100_000;
    private static final int FATTR3_BYTES = 84;
    private static final int WCC_ATTR_BYTES = 24;
    private static final int COOKIEVERF3_BYTES = 8;
    private static final int WRITEVERF3_BYTES = 8;
    private static final int MAX_NAME_BYTES = 1024;

    /** A file handle with what its attributes say, under the name it was found by. */
    private record Node(String name, byte[] handle, Attributes attributes) {
      Type type() {
        return attributes.type();
      }

      NfsEntry entry() {
        return new NfsEntry(name, attributes.type(), attributes.sizeBytes());
      }
    }

    private final NfsCaller nfs;
    private final byte[] root;
    private final String export;

    Export(NfsCaller nfs, byte[] root, String export) {
      this.nfs = nfs;
      this.root = root;
      this.export = export;
    }

    void mkdirs(RelativePath dir) throws NfsException {
      byte[] handle = root;
      for (int depth = 1; depth <= dir.names().size(); depth++) {
        RelativePath path = dir.prefix(depth);
        Optional<Node> existing = lookup(handle, path);
        Node node = existing.isPresent() ? existing.get() : mkdir(handle, path);
        if (node.type() != Type.DIRECTORY) {
          throw NfsException.nfsStatus(context("MKDIR", path), NFS3ERR_NOTDIR);
        }
        handle = node.handle();
      }
    }

    List<NfsEntry> list(RelativePath dir) throws NfsException {
      return readDirectory(directory(dir), dir).stream()
          .map(Node::entry)
          .sorted(Comparator.comparing(NfsEntry::name))
          .toList();
    }

    Optional<NfsEntry> stat(RelativePath path) throws NfsException {
      return find(path).map(Node::entry);
    }

    /** What is at {@code path}, or empty if it, or one of its parents, does not exist. */
    private Optional<Node> find(RelativePath path) throws NfsException {
      Optional<Node> parent = findDirectory(path.parent());
      return parent.isEmpty() ? Optional.empty() : lookup(parent.get().handle(), path);
    }

    void writeFile(RelativePath path, byte[] content) throws NfsException {
      byte[] directory = directory(path.parent());
      // Hidden and unique: a reader never takes it for the file, and writers never share one.
      RelativePath temporary = path.parent().child(".bastida-" + UUID.randomUUID() + ".tmp");
      byte[] file = create(directory, temporary);
      try {
        write(file, content, path);
        rename(directory, temporary, path);
      } catch (NfsException e) {
        try {
          removeFile(directory, temporary);
        } catch (NfsException cleanup) {
          e.addSuppressed(cleanup);
        }
        throw e;
      }
    }

    byte[] readFile(RelativePath path, int maxBytes) throws NfsException {
      Node file = existing(path);
      long size = file.attributes().sizeBytes();
      if (size > maxBytes) {
        throw tooLong(path, size, maxBytes);
      }
      ByteArrayOutputStream content = new ByteArrayOutputStream((int) size);
      read(
          file.handle(),
          path,
          chunk -> {
            // The file may have grown since we looked at its size.
            if (chunk.length > maxBytes - content.size()) {
              throw tooLong(path, (long) content.size() + chunk.length, maxBytes);
            }
            content.writeBytes(chunk);
          });
      return content.toByteArray();
    }

    String sha256(RelativePath path) throws NfsException {
      MessageDigest digest;
      try {
        digest = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every Java runtime has SHA-256", e);
      }
      read(existing(path).handle(), path, digest::update);
      return HexFormat.of().formatHex(digest.digest());
    }

    void remove(RelativePath path) throws NfsException {
      Optional<Node> parent = findDirectory(path.parent());
      if (parent.isPresent()) {
        removeFile(parent.get().handle(), path);
      }
    }

    void removeTree(RelativePath path) throws NfsException {
      Optional<Node> parent = findDirectory(path.parent());
      Optional<Node> top =
          parent.isEmpty() ? Optional.empty() : lookup(parent.get().handle(), path);
      if (top.isPresent()) {
        removeTree(parent.get().handle(), top.get(), path);
      }
    }

    private void removeTree(byte[] directory, Node node, RelativePath path) throws NfsException {
      if (node.type() != Type.DIRECTORY) {
        removeFile(directory, path);
        return;
      }
      // The whole listing first: removing entries between READDIRPLUS pages can upset cookies.
      for (Node child : readDirectory(node.handle(), path)) {
        removeTree(node.handle(), child, path.child(child.name()));
      }
      Xdr.Decoder reply = call(NFSPROC3_RMDIR, args -> putDirOp(args, directory, path));
      checkStatusAllowingNoent(reply, context("RMDIR", path));
    }

    boolean removeIfEmpty(RelativePath path) throws NfsException {
      Optional<Node> parent = findDirectory(path.parent());
      if (parent.isEmpty()) {
        return true;
      }
      Xdr.Decoder reply = call(NFSPROC3_RMDIR, args -> putDirOp(args, parent.get().handle(), path));
      int status = reply.getInt();
      if (status == NFS3ERR_NOTEMPTY || status == NFS3ERR_EXIST) {
        return false;
      }
      if (status != NFS3_OK && status != NFS3ERR_NOENT) {
        throw NfsException.nfsStatus(context("RMDIR", path), status);
      }
      return true;
    }

    private Optional<Node> findDirectory(RelativePath dir) throws NfsException {
      Optional<Node> node = Optional.of(new Node("", root, new Attributes(Type.DIRECTORY, 0)));
      for (int depth = 1; depth <= dir.names().size() && node.isPresent(); depth++) {
        node = lookup(node.get().handle(), dir.prefix(depth));
      }
      return node;
    }

    /** The handle of a directory that must exist: the export's root for an empty path. */
    private byte[] directory(RelativePath dir) throws NfsException {
      if (dir.names().isEmpty()) {
        return root;
      }
      Node node = existing(dir);
      if (node.type() != Type.DIRECTORY) {
        throw NfsException.nfsStatus(context("LOOKUP", dir), NFS3ERR_NOTDIR);
      }
      return node.handle();
    }

    private Node existing(RelativePath path) throws NfsException {
      Optional<Node> node = find(path);
      if (node.isEmpty()) {
        throw NfsException.nfsStatus(context("LOOKUP", path), NFS3ERR_NOENT);
      }
      return node.get();
    }

    /** LOOKUP3 of the last name of {@code path} in {@code directory}: empty if there is none. */
    private Optional<Node> lookup(byte[] directory, RelativePath path) throws NfsException {
      Xdr.Decoder reply = call(NFSPROC3_LOOKUP, args -> putDirOp(args, directory, path));
      int status = reply.getInt();
      if (status == NFS3ERR_NOENT) {
        return Optional.empty();
      }
      if (status != NFS3_OK) {
        throw NfsException.nfsStatus(context("LOOKUP", path), status);
      }
      byte[] handle = reply.getOpaque(NfsSession.FHSIZE3);
      Attributes attributes = reply.getBoolean() ? decodeAttributes(reply) : getattr(handle, path);
      return Optional.of(new Node(path.name(), handle, attributes));
    }

    /** For servers that leave attributes out of a reply: they are optional in most. */
    private Attributes getattr(byte[] handle, RelativePath path) throws NfsException {
      Xdr.Decoder reply = call(NFSPROC3_GETATTR, args -> args.putOpaque(handle));
      int status = reply.getInt();
      if (status != NFS3_OK) {
        throw NfsException.nfsStatus(context("GETATTR", path), status);
      }
      return decodeAttributes(reply);
    }

    /** The part of fattr3 that we keep. */
    private record Attributes(Type type, long sizeBytes) {}

    private static Attributes decodeAttributes(Xdr.Decoder fattr) throws NfsException {
      int type = fattr.getInt();
      fattr.skip(16); // mode, nlink, uid, gid
      long size = fattr.getLong();
      fattr.skip(FATTR3_BYTES - 28); // used, rdev, fsid, fileid and three times
      Type kind =
          switch (type) {
            case NF3REG -> Type.FILE;
            case NF3DIR -> Type.DIRECTORY;
            default -> Type.OTHER;
          };
      return new Attributes(kind, size);
    }

    private Node mkdir(byte[] directory, RelativePath path) throws NfsException {
      Xdr.Decoder reply =
          call(
              NFSPROC3_MKDIR,
              args -> putAttributes(putDirOp(args, directory, path), DIRECTORY_MODE));
      int status = reply.getInt();
      // EXIST: another writer made it between our LOOKUP and MKDIR, which is just as good.
      if (status != NFS3_OK && status != NFS3ERR_EXIST) {
        throw NfsException.nfsStatus(context("MKDIR", path), status);
      }
      // Rather than MKDIR's optional handle: one way to the directory for both outcomes.
      return lookup(directory, path)
          .orElseThrow(() -> NfsException.nfsStatus(context("LOOKUP", path), NFS3ERR_NOENT));
    }

    private byte[] create(byte[] directory, RelativePath path) throws NfsException {
      Xdr.Decoder reply =
          call(
              NFSPROC3_CREATE,
              args -> putAttributes(putDirOp(args, directory, path).putInt(GUARDED), FILE_MODE));
      int status = reply.getInt();
      if (status != NFS3_OK) {
        throw NfsException.nfsStatus(context("CREATE", path), status);
      }
      if (reply.getBoolean()) { // post_op_fh3: servers may leave the handle out
        return reply.getOpaque(NfsSession.FHSIZE3);
      }
      return lookup(directory, path)
          .orElseThrow(() -> NfsException.nfsStatus(context("LOOKUP", path), NFS3ERR_NOENT))
          .handle();
    }

    /** WRITEs the content from its start, resuming where a short write stopped. */
    private void write(byte[] file, byte[] content, RelativePath path) throws NfsException {
      int offset = 0;
      while (offset < content.length) {
        long start = offset;
        byte[] chunk =
            Arrays.copyOfRange(
                content, offset, offset + Math.min(WRITE_CHUNK_BYTES, content.length - offset));
        Xdr.Decoder reply =
            call(
                NFSPROC3_WRITE,
                args ->
                    args.putOpaque(file)
                        .putLong(start)
                        .putInt(chunk.length)
                        .putInt(FILE_SYNC)
                        .putOpaque(chunk));
        int status = reply.getInt();
        skipWccData(reply);
        if (status != NFS3_OK) {
          throw NfsException.nfsStatus(context("WRITE", path), status);
        }
        int written = reply.getInt();
        if (written <= 0 || written > chunk.length) {
          throw new NfsException(
              Reason.ProtocolError,
              context("WRITE", path) + ": server wrote " + written + " of " + chunk.length);
        }
        reply.getInt(); // committed: FILE_SYNC, as we asked
        reply.skip(WRITEVERF3_BYTES);
        offset += written;
      }
    }

    private void rename(byte[] directory, RelativePath from, RelativePath to) throws NfsException {
      Xdr.Decoder reply =
          call(NFSPROC3_RENAME, args -> putDirOp(putDirOp(args, directory, from), directory, to));
      int status = reply.getInt();
      if (status != NFS3_OK) {
        throw NfsException.nfsStatus(
            "RENAME of " + from.text() + " to " + to.text() + " in " + export, status);
      }
    }

    @FunctionalInterface
    private interface ChunkConsumer {
      void accept(byte[] chunk) throws NfsException;
    }

    /** READs the whole file in chunks, from its start until the server says end of file. */
    private void read(byte[] file, RelativePath path, ChunkConsumer consumer) throws NfsException {
      long offset = 0;
      while (true) {
        long start = offset;
        Xdr.Decoder reply =
            nfs.call(
                NFSPROC3_READ,
                args -> args.putOpaque(file).putLong(start).putInt(READ_CHUNK_BYTES),
                READ_REPLY_BYTES);
        int status = reply.getInt();
        skipPostOpAttributes(reply);
        if (status != NFS3_OK) {
          throw NfsException.nfsStatus(context("READ", path), status);
        }
        reply.getInt(); // count: the data's own length says the same
        boolean eof = reply.getBoolean();
        byte[] data = reply.getOpaque(READ_CHUNK_BYTES);
        consumer.accept(data);
        if (eof) {
          return;
        }
        if (data.length == 0) {
          throw new NfsException(
              Reason.ProtocolError,
              context("READ", path) + ": no data and no end of file at offset " + offset);
        }
        offset += data.length;
      }
    }

    private void removeFile(byte[] directory, RelativePath path) throws NfsException {
      Xdr.Decoder reply = call(NFSPROC3_REMOVE, args -> putDirOp(args, directory, path));
      checkStatusAllowingNoent(reply, context("REMOVE", path));
    }

    /** Every entry of a directory but . and .., page by page; in the server's order. */
    private List<Node> readDirectory(byte[] directory, RelativePath path) throws NfsException {
      List<Node> nodes = new ArrayList<>();
      long cookie = 0;
      byte[] verifier = new byte[COOKIEVERF3_BYTES];
      for (int page = 0; page < MAX_READDIR_PAGES; page++) {
        long after = cookie;
        byte[] pageVerifier = verifier;
        Xdr.Decoder reply =
            call(
                NFSPROC3_READDIRPLUS,
                args ->
                    args.putOpaque(directory)
                        .putLong(after)
                        .putFixedOpaque(pageVerifier)
                        .putInt(READDIR_DIRCOUNT)
                        .putInt(READDIR_MAXCOUNT));
        int status = reply.getInt();
        skipPostOpAttributes(reply);
        if (status != NFS3_OK) {
          throw NfsException.nfsStatus(context("READDIRPLUS", path), status);
        }
        verifier = reply.getFixedOpaque(COOKIEVERF3_BYTES);
        List<Entry> entries = new ArrayList<>();
        while (reply.getBoolean()) { // entryplus3 *: each entry preceded by "one follows"
          entries.add(decodeEntry(reply));
          cookie = entries.get(entries.size() - 1).cookie();
        }
        boolean eof = reply.getBoolean();
        for (Entry entry : entries) {
          if (!entry.name().equals(".") && !entry.name().equals("..")) {
            complete(directory, path, entry).ifPresent(nodes::add);
          }
        }
        if (eof) {
          return nodes;
        }
        if (entries.isEmpty()) {
          throw new NfsException(
              Reason.ProtocolError,
              context("READDIRPLUS", path) + ": no entries but no end of directory");
        }
      }
      throw new NfsException(
          Reason.ProtocolError,
          context("READDIRPLUS", path) + ": no end after " + MAX_READDIR_PAGES + " pages");
    }

    /** One entryplus3; its attributes and handle are each optional (null if left out). */
    private record Entry(String name, long cookie, Attributes attributes, byte[] handle) {}

    private static Entry decodeEntry(Xdr.Decoder reply) throws NfsException {
      reply.getLong(); // fileid
      String name = new String(reply.getOpaque(MAX_NAME_BYTES), StandardCharsets.UTF_8);
      long cookie = reply.getLong();
      Attributes attributes = reply.getBoolean() ? decodeAttributes(reply) : null;
      byte[] handle = reply.getBoolean() ? reply.getOpaque(NfsSession.FHSIZE3) : null;
      return new Entry(name, cookie, attributes, handle);
    }

    /** The entry's node, looked up if the server left something out; empty if gone since. */
    private Optional<Node> complete(byte[] directory, RelativePath path, Entry entry)
        throws NfsException {
      if (entry.attributes() == null || entry.handle() == null) {
        return lookup(directory, path.child(entry.name()));
      }
      return Optional.of(new Node(entry.name(), entry.handle(), entry.attributes()));
    }

    private Xdr.Decoder call(int procedure, Consumer<Xdr.Encoder> arguments) throws NfsException {
      return nfs.call(procedure, arguments, REPLY_BYTES);
    }

    private String context(String procedure, RelativePath path) {
      return procedure + " of " + path.text() + " in " + export;
    }

    private NfsException tooLong(RelativePath path, long size, int maxBytes) {
      return new NfsException(
          Reason.ProtocolError,
          path.text() + " in " + export + " has " + size + " bytes, more than " + maxBytes);
    }

    /** diropargs3: a directory's handle and the last name of {@code path}. */
    private static Xdr.Encoder putDirOp(Xdr.Encoder args, byte[] directory, RelativePath path) {
      return args.putOpaque(directory).putString(path.name());
    }

    /** sattr3 setting only the mode: owner and times are the server's (root, now). */
    private static Xdr.Encoder putAttributes(Xdr.Encoder args, int mode) {
      return args.putInt(1)
          .putInt(mode)
          .putInt(0) // uid
          .putInt(0) // gid
          .putInt(0) // size
          .putInt(DONT_CHANGE) // atime
          .putInt(DONT_CHANGE); // mtime
    }

    /** Status of a call for which NFS3ERR_NOENT means someone already did what we wanted. */
    private static void checkStatusAllowingNoent(Xdr.Decoder reply, String context)
        throws NfsException {
      int status = reply.getInt();
      if (status != NFS3_OK && status != NFS3ERR_NOENT) {
        throw NfsException.nfsStatus(context, status);
      }
      // The directory's wcc_data follows: nothing we need.
    }

    private static void skipPostOpAttributes(Xdr.Decoder reply) throws NfsException {
      if (reply.getBoolean()) {
        reply.skip(FATTR3_BYTES);
      }
    }

    private static void skipWccData(Xdr.Decoder reply) throws NfsException {
      if (reply.getBoolean()) { // pre_op_attr: size, mtime, ctime
        reply.skip(WCC_ATTR_BYTES);
      }
      skipPostOpAttributes(reply);
    }
  }
}
