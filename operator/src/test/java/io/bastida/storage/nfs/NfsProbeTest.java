package io.bastida.storage.nfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.nfs.NfsException.Reason;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NfsProbeTest {
  private static final int XID = 77;
  private static final long TIB = 1L << 40;
  private static final NfsExportStats STATS = new NfsExportStats(4 * TIB, 3 * TIB, 3 * TIB - 4096);

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

  /** FSSTAT3res with NFS3_OK and {@link #STATS}, as RFC 1813 §3.3.18 lays it out. */
  private static Xdr.Encoder fsstatOk(Xdr.Encoder reply, boolean withAttributes) {
    reply.putInt(0).putInt(withAttributes ? 1 : 0);
    if (withAttributes) {
      reply
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
