package io.bastida.storage.nfs;

import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_CREATE;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_GETATTR;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_LOOKUP;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_MKDIR;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_READDIRPLUS;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_REMOVE;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_RENAME;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_RMDIR;
import static io.bastida.storage.nfs.NfsFiles.Export.NFSPROC3_WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.nfs.NfsEntry.Type;
import io.bastida.storage.nfs.NfsException.Reason;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NfsFilesTest {
  private static final String EXPORT = "nas:/vms";
  private static final byte[] ROOT = {1, 1, 1, 1};
  private static final byte[] DIR = {2, 2, 2, 2, 2};
  private static final byte[] SUBDIR = {3, 3, 3};
  private static final byte[] FILE = {4, 4, 4, 4, 4, 4};
  private static final byte[] VERIFIER = {9, 8, 7, 6, 5, 4, 3, 2};
  private static final int NF3REG = 1;
  private static final int NF3DIR = 2;
  private static final int NF3LNK = 5;
  private static final int NOENT = 2;

  private final CannedServer server = new CannedServer();
  private final NfsFiles.Export export = new NfsFiles.Export(server, ROOT, EXPORT);

  @ParameterizedTest
  @ValueSource(strings = {"", "/b1", "a//b", "a/", "..", "a/../b", "./a", "a\0b"})
  void pathsOutsideTheExportOrWithEmptyNamesAreRefusedBeforeAnyCall(String path) {
    NfsFiles files = new NfsFiles(Duration.ofSeconds(1));

    assertThatThrownBy(() -> files.removeTree("nas", "/vms", path))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> files.writeFile("nas", "/vms", path, new byte[1]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void namesUpTo255BytesAreAccepted() {
    String longName = "x".repeat(255);

    assertThat(NfsFiles.RelativePath.parse("bastida-backups/" + longName).names())
        .containsExactly("bastida-backups", longName);
    assertThatThrownBy(() -> NfsFiles.RelativePath.parse("x".repeat(256)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void timeoutMustBePositive() {
    assertThatThrownBy(() -> new NfsFiles(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void mkdirsMakesOnlyMissingDirectoriesAndAcceptsOneMadeMeanwhile() throws NfsException {
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(failure(NOENT))
        .reply(
            new Xdr.Encoder().putInt(0).putInt(1).putOpaque(SUBDIR).putInt(0).putInt(0).putInt(0))
        .reply(lookupOk(SUBDIR, NF3DIR, 4096))
        .reply(failure(NOENT))
        .reply(failure(17)) // NFS3ERR_EXIST: another creator was faster
        .reply(lookupOk(FILE, NF3DIR, 4096));

    export.mkdirs(path("bastida-backups/ns/vm"));

    assertThat(server.procedures())
        .containsExactly(
            NFSPROC3_LOOKUP,
            NFSPROC3_LOOKUP,
            NFSPROC3_MKDIR,
            NFSPROC3_LOOKUP,
            NFSPROC3_LOOKUP,
            NFSPROC3_MKDIR,
            NFSPROC3_LOOKUP);
    Xdr.Decoder mkdir = server.calls.get(2).arguments();
    assertThat(mkdir.getOpaque(64)).isEqualTo(DIR);
    assertThat(string(mkdir)).isEqualTo("ns");
    assertThat(mkdir.getBoolean()).as("set mode").isTrue();
    assertThat(mkdir.getInt()).isEqualTo(0700);
    assertThat(server.calls.get(5).arguments().getOpaque(64)).isEqualTo(SUBDIR);
  }

  @Test
  void mkdirsThroughAFileFails() {
    server.reply(lookupOk(FILE, NF3REG, 10));

    assertThatThrownBy(() -> export.mkdirs(path("b1/disks")))
        .hasMessage("MKDIR of b1 in nas:/vms failed: NFS3ERR_NOTDIR (20)");
  }

  @Test
  void writeFileWritesATemporaryFileInChunksThenRenamesItOntoTheName() throws NfsException {
    byte[] content = bytes(NfsFiles.Export.WRITE_CHUNK_BYTES + 10);
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(createOk(FILE))
        .reply(writeOk(NfsFiles.Export.WRITE_CHUNK_BYTES))
        .reply(writeOk(10))
        .reply(okWithWcc(2));

    export.writeFile(path("b1/manifest.json"), content);

    assertThat(server.procedures())
        .containsExactly(
            NFSPROC3_LOOKUP, NFSPROC3_CREATE, NFSPROC3_WRITE, NFSPROC3_WRITE, NFSPROC3_RENAME);
    Xdr.Decoder create = server.calls.get(1).arguments();
    assertThat(create.getOpaque(64)).isEqualTo(DIR);
    String temporary = string(create);
    assertThat(temporary).startsWith(".").doesNotContain("manifest.json");
    assertThat(create.getInt()).as("GUARDED").isEqualTo(1);
    assertThat(create.getBoolean()).as("set mode").isTrue();
    assertThat(create.getInt()).isEqualTo(0600);

    assertThat(writtenBytes(server.calls.subList(2, 4))).isEqualTo(content);

    Xdr.Decoder rename = server.calls.get(4).arguments();
    assertThat(rename.getOpaque(64)).isEqualTo(DIR);
    assertThat(string(rename)).isEqualTo(temporary);
    assertThat(rename.getOpaque(64)).isEqualTo(DIR);
    assertThat(string(rename)).isEqualTo("manifest.json");
  }

  @Test
  void shortWriteResumesWhereTheServerStopped() throws NfsException {
    byte[] content = bytes(10);
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(createOk(FILE))
        .reply(writeOk(4))
        .reply(writeOk(6))
        .reply(okWithWcc(2));

    export.writeFile(path("b1/vm.json"), content);

    Xdr.Decoder resumed = server.calls.get(3).arguments();
    assertThat(resumed.getOpaque(64)).isEqualTo(FILE);
    assertThat(resumed.getLong()).as("offset").isEqualTo(4);
    assertThat(resumed.getInt()).as("count").isEqualTo(6);
    assertThat(resumed.getInt()).as("FILE_SYNC").isEqualTo(2);
    assertThat(resumed.getOpaque(64)).isEqualTo(Arrays.copyOfRange(content, 4, 10));
  }

  @Test
  void failedWriteRemovesTheTemporaryFile() throws NfsException {
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(createOk(FILE))
        .reply(failure(28)) // NFS3ERR_NOSPC
        .reply(okWithWcc(1));

    assertThatThrownBy(() -> export.writeFile(path("b1/domain.xml"), bytes(100)))
        .hasMessage("WRITE of b1/domain.xml in nas:/vms failed: NFS3ERR_NOSPC (28)");

    assertThat(server.procedures())
        .containsExactly(NFSPROC3_LOOKUP, NFSPROC3_CREATE, NFSPROC3_WRITE, NFSPROC3_REMOVE);
    Xdr.Decoder create = server.calls.get(1).arguments();
    create.getOpaque(64);
    Xdr.Decoder remove = server.calls.get(3).arguments();
    assertThat(remove.getOpaque(64)).isEqualTo(DIR);
    assertThat(string(remove)).isEqualTo(string(create));
  }

  @Test
  void writeIntoAMissingDirectoryNamesIt() {
    server.reply(failure(NOENT));

    assertThatThrownBy(() -> export.writeFile(path("b1/vm.json"), bytes(1)))
        .isInstanceOf(NfsException.class)
        .hasMessage("LOOKUP of b1 in nas:/vms failed: NFS3ERR_NOENT (2)");
  }

  @Test
  void readFileJoinsChunksFromOffsetsUntilEndOfFile() throws NfsException {
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(lookupOk(FILE, NF3REG, 5))
        .reply(readOk("abc", false))
        .reply(readOk("de", true));

    byte[] content = export.readFile(path("b1/vm.json"), 5);

    assertThat(new String(content, StandardCharsets.UTF_8)).isEqualTo("abcde");
    for (int i = 0; i < 2; i++) {
      Call read = server.calls.get(2 + i);
      Xdr.Decoder args = read.arguments();
      assertThat(args.getOpaque(64)).isEqualTo(FILE);
      assertThat(args.getLong()).as("offset").isEqualTo(i == 0 ? 0 : 3);
      assertThat(args.getInt()).as("count").isEqualTo(1024 * 1024);
      assertThat(read.maxReplyBytes()).isGreaterThan(1024 * 1024);
    }
  }

  @Test
  void readFileRefusesAFileLongerThanAsked() {
    server.reply(lookupOk(FILE, NF3REG, 10));

    assertThatThrownBy(() -> export.readFile(path("manifest.json"), 4))
        .hasMessage("manifest.json in nas:/vms has 10 bytes, more than 4");
    assertThat(server.procedures()).containsExactly(NFSPROC3_LOOKUP);
  }

  @Test
  void readFileRefusesAFileThatGrewWhileRead() {
    server.reply(lookupOk(FILE, NF3REG, 2)).reply(readOk("abc", true));

    assertThatThrownBy(() -> export.readFile(path("manifest.json"), 2))
        .hasMessage("manifest.json in nas:/vms has 3 bytes, more than 2");
  }

  @Test
  void sha256DigestsEveryChunkInOrder() throws NfsException {
    server.reply(lookupOk(FILE, NF3REG, 3)).reply(readOk("ab", false)).reply(readOk("c", true));

    // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
    assertThat(export.sha256(path("disk.qcow2")))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }

  @Test
  void readWithoutDataOrEndOfFileIsAProtocolError() {
    server.reply(lookupOk(FILE, NF3REG, 3)).reply(readOk("", false));

    assertThatThrownBy(() -> export.sha256(path("disk.qcow2")))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError))
        .hasMessageContaining("READ of disk.qcow2 in nas:/vms");
  }

  @Test
  void listFollowsCookiesSkipsDotEntriesAndLooksUpWhatTheServerLeftOut() throws NfsException {
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(
            readdirplusOk(
                false,
                entry(".", 1, NF3DIR, 4096, DIR),
                entry("..", 2, NF3DIR, 4096, ROOT),
                entry("manifest.json", 3, NF3REG, 17, FILE)))
        .reply(
            readdirplusOk(
                true,
                new Xdr.Encoder()
                    .putInt(1)
                    .putLong(40)
                    .putString("disk.qcow2")
                    .putLong(9)
                    .putInt(0) // no attributes
                    .putInt(0), // no handle
                entry("latest", 12, NF3LNK, 2, SUBDIR)))
        .reply(lookupOk(FILE, NF3REG, 1000));

    List<NfsEntry> entries = export.list(path("b1"));

    assertThat(entries)
        .containsExactly(
            new NfsEntry("disk.qcow2", Type.FILE, 1000),
            new NfsEntry("latest", Type.OTHER, 2),
            new NfsEntry("manifest.json", Type.FILE, 17));
    Xdr.Decoder secondPage = server.calls.get(2).arguments();
    assertThat(secondPage.getOpaque(64)).isEqualTo(DIR);
    assertThat(secondPage.getLong()).as("cookie").isEqualTo(3);
    assertThat(secondPage.getFixedOpaque(8)).as("cookieverf").isEqualTo(VERIFIER);
    Xdr.Decoder lookup = server.calls.get(3).arguments();
    assertThat(lookup.getOpaque(64)).isEqualTo(DIR);
    assertThat(string(lookup)).isEqualTo("disk.qcow2");
  }

  @Test
  void pageWithNeitherEntriesNorEndIsAProtocolError() {
    server.reply(lookupOk(DIR, NF3DIR, 4096)).reply(readdirplusOk(false));

    assertThatThrownBy(() -> export.list(path("b1")))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError))
        .hasMessage("READDIRPLUS of b1 in nas:/vms: no entries but no end of directory");
  }

  @Test
  void statOfAPathUnderAMissingDirectoryIsEmpty() throws NfsException {
    server.reply(failure(NOENT));

    assertThat(export.stat(path("bastida-backups/ns/vm/b1/manifest.json"))).isEmpty();
    assertThat(server.procedures()).containsExactly(NFSPROC3_LOOKUP);
  }

  @Test
  void statAsksForAttributesTheLookupLeftOut() throws NfsException {
    server
        .reply(new Xdr.Encoder().putInt(0).putOpaque(FILE).putInt(0).putInt(0))
        .reply(putAttributes(new Xdr.Encoder().putInt(0), NF3REG, 123));

    assertThat(export.stat(path("vm.json"))).contains(new NfsEntry("vm.json", Type.FILE, 123));
    assertThat(server.calls.get(1).procedure()).isEqualTo(NFSPROC3_GETATTR);
    assertThat(server.calls.get(1).arguments().getOpaque(64)).isEqualTo(FILE);
  }

  @Test
  void lookupErrorNamesTheStatusAndThePath() {
    server.reply(lookupOk(DIR, NF3DIR, 4096)).reply(failure(13));

    assertThatThrownBy(() -> export.stat(path("b1/vm.json")))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.AccessDenied))
        .hasMessage("LOOKUP of b1/vm.json in nas:/vms failed: NFS3ERR_ACCES (13)");
  }

  @Test
  void removeOfAFileAlreadyGoneIsDone() throws NfsException {
    server.reply(lookupOk(DIR, NF3DIR, 4096)).reply(failure(NOENT));

    export.remove(path("b1/x.qcow2"));

    assertThat(server.procedures()).containsExactly(NFSPROC3_LOOKUP, NFSPROC3_REMOVE);
  }

  @Test
  void removeInAMissingDirectoryCallsNoRemove() throws NfsException {
    server.reply(failure(NOENT));

    export.remove(path("b1/x.qcow2"));

    assertThat(server.procedures()).containsExactly(NFSPROC3_LOOKUP);
  }

  @Test
  void removeTreeEmptiesEachDirectoryBeforeRemovingIt() throws NfsException {
    server
        .reply(lookupOk(DIR, NF3DIR, 4096))
        .reply(
            readdirplusOk(
                true,
                entry("disk.qcow2", 1, NF3REG, 1 << 20, FILE),
                entry("old", 2, NF3DIR, 4096, SUBDIR)))
        .reply(okWithWcc(1))
        .reply(readdirplusOk(true, entry("vm.json", 1, NF3REG, 9, new byte[] {7})))
        .reply(failure(NOENT)) // vm.json: someone else removed it first
        .reply(okWithWcc(1))
        .reply(okWithWcc(1));

    export.removeTree(path("b1"));

    assertThat(server.calls)
        .extracting(Call::describe)
        .containsExactly(
            "LOOKUP b1 in [1, 1, 1, 1]",
            "READDIRPLUS of [2, 2, 2, 2, 2]",
            "REMOVE disk.qcow2 in [2, 2, 2, 2, 2]",
            "READDIRPLUS of [3, 3, 3]",
            "REMOVE vm.json in [3, 3, 3]",
            "RMDIR old in [2, 2, 2, 2, 2]",
            "RMDIR b1 in [1, 1, 1, 1]");
  }

  @Test
  void removeTreeOfNothingIsDone() throws NfsException {
    server.reply(failure(NOENT));

    export.removeTree(path("b1"));

    assertThat(server.procedures()).containsExactly(NFSPROC3_LOOKUP);
  }

  @Test
  void directoryThatCannotBeRemovedIsAnErrorNamingIt() {
    server.reply(lookupOk(DIR, NF3DIR, 4096)).reply(readdirplusOk(true)).reply(failure(66));

    assertThatThrownBy(() -> export.removeTree(path("b1")))
        .hasMessage("RMDIR of b1 in nas:/vms failed: NFS3ERR_NOTEMPTY (66)");
  }

  /** Plays the server: answers each call with the next canned results and keeps the calls. */
  private static final class CannedServer implements NfsFiles.NfsCaller {
    private final Deque<byte[]> replies = new ArrayDeque<>();
    final List<Call> calls = new ArrayList<>();

    CannedServer reply(Xdr.Encoder results) {
      replies.add(results.toByteArray());
      return this;
    }

    @Override
    public Xdr.Decoder call(int procedure, Consumer<Xdr.Encoder> arguments, int maxReplyBytes) {
      Xdr.Encoder encoded = new Xdr.Encoder();
      arguments.accept(encoded);
      calls.add(new Call(procedure, encoded.toByteArray(), maxReplyBytes));
      assertThat(replies)
          .as("a reply for call %d, procedure %d", calls.size(), procedure)
          .isNotEmpty();
      return new Xdr.Decoder(replies.removeFirst());
    }

    List<Integer> procedures() {
      return calls.stream().map(Call::procedure).toList();
    }
  }

  private record Call(int procedure, byte[] encodedArguments, int maxReplyBytes) {
    Xdr.Decoder arguments() {
      return new Xdr.Decoder(encodedArguments);
    }

    /** The procedure and its directory (and name), for the procedures that take diropargs3. */
    String describe() {
      try {
        Xdr.Decoder args = arguments();
        String handle = Arrays.toString(args.getOpaque(64));
        return switch (procedure) {
          case NFSPROC3_LOOKUP -> "LOOKUP " + string(args) + " in " + handle;
          case NFSPROC3_REMOVE -> "REMOVE " + string(args) + " in " + handle;
          case NFSPROC3_RMDIR -> "RMDIR " + string(args) + " in " + handle;
          case NFSPROC3_READDIRPLUS -> "READDIRPLUS of " + handle;
          default -> "procedure " + procedure;
        };
      } catch (NfsException e) {
        throw new AssertionError(e);
      }
    }
  }

  private static NfsFiles.RelativePath path(String path) {
    return NfsFiles.RelativePath.parse(path);
  }

  private static String string(Xdr.Decoder in) throws NfsException {
    return new String(in.getOpaque(1024), StandardCharsets.UTF_8);
  }

  private static byte[] bytes(int length) {
    byte[] bytes = new byte[length];
    for (int i = 0; i < length; i++) {
      bytes[i] = (byte) (i * 31);
    }
    return bytes;
  }

  /** The data of consecutive WRITE calls, checking each starts where the last one ended. */
  private static byte[] writtenBytes(List<Call> writes) throws NfsException {
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    for (Call write : writes) {
      Xdr.Decoder args = write.arguments();
      assertThat(args.getOpaque(64)).isEqualTo(FILE);
      assertThat(args.getLong()).as("offset").isEqualTo(written.size());
      int count = args.getInt();
      assertThat(args.getInt()).as("FILE_SYNC").isEqualTo(2);
      byte[] data = args.getOpaque(1 << 20);
      assertThat(data).hasSize(count);
      written.writeBytes(data);
    }
    return written.toByteArray();
  }

  // Results as RFC 1813 §3.3 lays them out, without the RPC header (see RpcConnectionTest).

  /** An error status, then absent attributes: fits post_op_attr and wcc_data alike. */
  private static Xdr.Encoder failure(int status) {
    return new Xdr.Encoder().putInt(status).putInt(0).putInt(0);
  }

  private static Xdr.Encoder lookupOk(byte[] handle, int type, long size) {
    Xdr.Encoder reply = new Xdr.Encoder().putInt(0).putOpaque(handle).putInt(1);
    return putAttributes(reply, type, size).putInt(0); // no directory attributes
  }

  /** NFS3_OK and {@code count} wcc_data with neither pre- nor post-operation attributes. */
  private static Xdr.Encoder okWithWcc(int count) {
    Xdr.Encoder reply = new Xdr.Encoder().putInt(0);
    for (int i = 0; i < count; i++) {
      reply.putInt(0).putInt(0);
    }
    return reply;
  }

  private static Xdr.Encoder createOk(byte[] handle) {
    return new Xdr.Encoder().putInt(0).putInt(1).putOpaque(handle).putInt(0).putInt(0).putInt(0);
  }

  private static Xdr.Encoder writeOk(int count) {
    return okWithWcc(1).putInt(count).putInt(2).putFixedOpaque(VERIFIER);
  }

  private static Xdr.Encoder readOk(String data, boolean eof) {
    byte[] bytes = data.getBytes(StandardCharsets.UTF_8);
    return new Xdr.Encoder()
        .putInt(0)
        .putInt(0)
        .putInt(bytes.length)
        .putInt(eof ? 1 : 0)
        .putOpaque(bytes);
  }

  private static Xdr.Encoder entry(String name, long cookie, int type, long size, byte[] handle) {
    Xdr.Encoder entry = new Xdr.Encoder().putInt(1).putLong(1000 + cookie).putString(name);
    entry.putLong(cookie).putInt(1);
    return putAttributes(entry, type, size).putInt(1).putOpaque(handle);
  }

  private static Xdr.Encoder readdirplusOk(boolean eof, Xdr.Encoder... entries) {
    Xdr.Encoder reply = new Xdr.Encoder().putInt(0).putInt(0).putFixedOpaque(VERIFIER);
    for (Xdr.Encoder entry : entries) {
      reply.putFixedOpaque(entry.toByteArray());
    }
    return reply.putInt(0).putInt(eof ? 1 : 0);
  }

  /** fattr3. */
  private static Xdr.Encoder putAttributes(Xdr.Encoder reply, int type, long size) {
    return reply
        .putInt(type)
        .putInt(0600) // mode
        .putInt(1) // nlink
        .putInt(0) // uid
        .putInt(0) // gid
        .putLong(size)
        .putLong(size) // used
        .putInt(0) // rdev
        .putInt(0)
        .putLong(0x42) // fsid
        .putLong(77) // fileid
        .putInt(1_700_000_000) // atime, mtime, ctime
        .putInt(0)
        .putInt(1_700_000_000)
        .putInt(0)
        .putInt(1_700_000_000)
        .putInt(0);
  }
}
