package io.bastida.storage.nfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.nfs.NfsException.Reason;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NfsProbeTest {
  private static final int XID = 77;
  private static final long TIB = 1L << 40;
  private static final NfsExportStats STATS = new NfsExportStats(4 * TIB, 3 * TIB, 3 * TIB - 4096);
  private static final byte[] ROOT = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  private static final byte[] VERIFIER = {9, 8, 7, 6, 5, 4, 3, 2};
  private static final String CONTEXT = "READDIR of nas:/vms";

  @Test
  void fsstatReplyWithAttributesSplitInTwoFragmentsDecodes() throws Exception {
    byte[] reply = fsstatOk(RpcReplies.accepted(XID), true).toByteArray();
    // A server may split its reply anywhere: cut it in the middle of the byte counts.
    int cut = reply.length - 50;
    byte[] stream =
        RecordMarkingTest.concat(
            fragmentHeader(false, cut),
            Arrays.copyOf(reply, cut),
            fragmentHeader(true, reply.length - cut),
            Arrays.copyOfRange(reply, cut, reply.length));

    byte[] record = RecordMarking.read(new ByteArrayInputStream(stream), 1024);
    Xdr.Decoder results = RpcConnection.acceptedResults(XID, 100003, 3, record);

    assertThat(NfsProbe.decodeFsstat(results, "nas:/vms")).isEqualTo(STATS);
  }

  @Test
  void fsstatReplyWithoutAttributesDecodes() throws NfsException {
    byte[] results = fsstatOk(new Xdr.Encoder(), false).toByteArray();

    assertThat(NfsProbe.decodeFsstat(new Xdr.Decoder(results), "nas:/vms")).isEqualTo(STATS);
  }

  @Test
  void sizesBeyondLongSaturate() throws NfsException {
    byte[] results =
        new Xdr.Encoder().putInt(0).putInt(0).putLong(-1).putLong(-1).putLong(-1).toByteArray();

    assertThat(NfsProbe.decodeFsstat(new Xdr.Decoder(results), "nas:/vms"))
        .isEqualTo(new NfsExportStats(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE));
  }

  @Test
  void fsstatErrorIsMapped() {
    byte[] results = new Xdr.Encoder().putInt(13).putInt(0).toByteArray();

    assertThatThrownBy(() -> NfsProbe.decodeFsstat(new Xdr.Decoder(results), "nas:/vms"))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.AccessDenied))
        .hasMessage("FSSTAT of nas:/vms failed: NFS3ERR_ACCES (13)");
  }

  @Test
  void timeoutMustBePositive() {
    assertThatThrownBy(() -> new NfsProbe(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void readdirArgumentsFollowRfc1813() throws NfsException {
    Xdr.Encoder args = new Xdr.Encoder();
    NfsProbe.readdirArguments(args, ROOT, 0x1_0000_0002L, VERIFIER);

    Xdr.Decoder in = new Xdr.Decoder(args.toByteArray());
    assertThat(in.getOpaque(64)).as("dir").isEqualTo(ROOT);
    assertThat(in.getLong()).as("cookie").isEqualTo(0x1_0000_0002L);
    assertThat(in.getFixedOpaque(8)).as("cookieverf").isEqualTo(VERIFIER);
    assertThat(in.getInt()).as("count").isEqualTo(32 * 1024);
    assertThatThrownBy(in::getInt).hasMessageContaining("truncated");
  }

  @Test
  void readdirReplyDecodesThroughTheRpcLayer() throws Exception {
    byte[] reply =
        readdirOk(RpcReplies.accepted(XID), true, true, entry(".", 1), entry("disk.qcow2", 7))
            .toByteArray();
    Xdr.Decoder results = RpcConnection.acceptedResults(XID, 100003, 3, reply);

    NfsProbe.ReaddirPage page = NfsProbe.decodeReaddir(results, CONTEXT);

    assertThat(page.names()).containsExactly(".", "disk.qcow2");
    assertThat(page.lastCookie()).isEqualTo(7);
    assertThat(page.cookieVerifier()).isEqualTo(VERIFIER);
    assertThat(page.eof()).isTrue();
  }

  @Test
  void emptyReaddirPageWithoutAttributesDecodes() throws NfsException {
    byte[] reply = readdirOk(new Xdr.Encoder(), false, true).toByteArray();

    NfsProbe.ReaddirPage page = NfsProbe.decodeReaddir(new Xdr.Decoder(reply), CONTEXT);

    assertThat(page.names()).isEmpty();
    assertThat(page.eof()).isTrue();
  }

  @Test
  void listingFollowsCookiesUntilEofAndSkipsDotEntries() throws NfsException {
    List<String> requests = new ArrayList<>();
    List<byte[]> pages =
        List.of(
            readdirOk(new Xdr.Encoder(), true, false, entry(".", 1), entry("..", 2)).toByteArray(),
            readdirOk(new Xdr.Encoder(), false, false, entry("vm-b.qcow2", 3), entry("iso", 9))
                .toByteArray(),
            readdirOk(new Xdr.Encoder(), true, true, entry("vm-a.qcow2", 12)).toByteArray());

    List<String> names =
        NfsProbe.readDirectory(
            (cookie, verifier) -> {
              requests.add(cookie + "/" + verifier[0]);
              return new Xdr.Decoder(pages.get(requests.size() - 1));
            },
            CONTEXT);

    assertThat(names).containsExactly("iso", "vm-a.qcow2", "vm-b.qcow2");
    // The first call starts from cookie 0 with a zero verifier, the next from the last cookie.
    assertThat(requests).containsExactly("0/0", "2/9", "9/9");
  }

  @Test
  void pageWithNeitherEntriesNorEofIsAProtocolError() {
    byte[] empty = readdirOk(new Xdr.Encoder(), false, false).toByteArray();

    assertThatThrownBy(() -> NfsProbe.readDirectory((c, v) -> new Xdr.Decoder(empty), CONTEXT))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError))
        .hasMessage("READDIR of nas:/vms: server sent no entries but no end of directory");
  }

  @Test
  void readdirErrorIsMapped() {
    byte[] reply = new Xdr.Encoder().putInt(13).putInt(0).toByteArray();

    assertThatThrownBy(() -> NfsProbe.decodeReaddir(new Xdr.Decoder(reply), CONTEXT))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.AccessDenied))
        .hasMessage("READDIR of nas:/vms failed: NFS3ERR_ACCES (13)");
  }

  @Test
  void truncatedReaddirReplyIsAProtocolError() {
    byte[] reply = readdirOk(new Xdr.Encoder(), false, true, entry("disk.qcow2", 7)).toByteArray();
    byte[] truncated = Arrays.copyOf(reply, reply.length - 6);

    assertThatThrownBy(() -> NfsProbe.decodeReaddir(new Xdr.Decoder(truncated), CONTEXT))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError));
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 2}) // NFS3_OK, NFS3ERR_NOENT
  void removeSucceedsWhenTheFileIsGoneAfterwards(int status) throws NfsException {
    byte[] reply = removeReply(status).toByteArray();

    NfsProbe.decodeRemove(new Xdr.Decoder(reply), "REMOVE of a.qcow2 in nas:/vms");
  }

  @Test
  void removeErrorIsMapped() {
    byte[] reply = removeReply(13).toByteArray();

    assertThatThrownBy(
            () -> NfsProbe.decodeRemove(new Xdr.Decoder(reply), "REMOVE of a.qcow2 in nas:/vms"))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.AccessDenied))
        .hasMessage("REMOVE of a.qcow2 in nas:/vms failed: NFS3ERR_ACCES (13)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", ".", "..", "a/b", "/a", "a\0b"})
  void removeRefusesAnythingButOneFileName(String fileName) {
    assertThatThrownBy(() -> NfsProbe.checkFileName(fileName))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new NfsProbe(Duration.ofSeconds(1)).remove("nas", "/vms", fileName))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void fileNamesUpTo255BytesAreAccepted() {
    NfsProbe.checkFileName("vm-1_disk.0.qcow2");
    NfsProbe.checkFileName("x".repeat(255));
    assertThatThrownBy(() -> NfsProbe.checkFileName("x".repeat(256)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private record Entry(String name, long cookie) {}

  private static Entry entry(String name, long cookie) {
    return new Entry(name, cookie);
  }

  /** READDIR3res with NFS3_OK, as RFC 1813 §3.3.16 lays it out. */
  private static Xdr.Encoder readdirOk(
      Xdr.Encoder reply, boolean withAttributes, boolean eof, Entry... entries) {
    reply.putInt(0);
    putPostOpAttributes(reply, withAttributes);
    reply.putFixedOpaque(VERIFIER);
    for (Entry entry : entries) {
      reply
          .putInt(1)
          .putLong(1000 + entry.cookie())
          .putString(entry.name())
          .putLong(entry.cookie());
    }
    return reply.putInt(0).putInt(eof ? 1 : 0);
  }

  /** REMOVE3res: status, then the directory's wcc_data (pre_op_attr and post_op_attr). */
  private static Xdr.Encoder removeReply(int status) {
    Xdr.Encoder reply = new Xdr.Encoder().putInt(status);
    reply.putInt(1).putLong(4096).putInt(1_700_000_000).putInt(0).putInt(1_700_000_000).putInt(0);
    return putPostOpAttributes(reply, true);
  }

  private static Xdr.Encoder putPostOpAttributes(Xdr.Encoder reply, boolean present) {
    reply.putInt(present ? 1 : 0);
    if (present) {
      putDirectoryAttributes(reply);
    }
    return reply;
  }

  private static Xdr.Encoder putDirectoryAttributes(Xdr.Encoder reply) {
    return reply
        .putInt(2) // NF3DIR
        .putInt(0755) // mode
        .putInt(2) // nlink
        .putInt(0) // uid
        .putInt(0) // gid
        .putLong(4096) // size
        .putLong(4096) // used
        .putInt(0) // rdev
        .putInt(0)
        .putLong(0x42) // fsid
        .putLong(1) // fileid
        .putInt(1_700_000_000) // atime, mtime, ctime
        .putInt(0)
        .putInt(1_700_000_000)
        .putInt(0)
        .putInt(1_700_000_000)
        .putInt(0);
  }

  /** FSSTAT3res with NFS3_OK and {@link #STATS}, as RFC 1813 §3.3.18 lays it out. */
  private static Xdr.Encoder fsstatOk(Xdr.Encoder reply, boolean withAttributes) {
    reply.putInt(0);
    putPostOpAttributes(reply, withAttributes);
    return reply
        .putLong(STATS.totalBytes())
        .putLong(STATS.freeBytes())
        .putLong(STATS.availableBytes())
        .putLong(1000) // tfiles
        .putLong(900) // ffiles
        .putLong(900) // afiles
        .putInt(0); // invarsec
  }

  private static byte[] fragmentHeader(boolean last, int length) {
    return ByteBuffer.allocate(4).putInt((last ? RecordMarking.LAST_FRAGMENT : 0) | length).array();
  }
}
