package io.bastida.storage.nfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.nfs.NfsException.Reason;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RecordMarkingTest {

  @Test
  void frameIsOneLastFragmentWithItsLength() {
    byte[] framed = RecordMarking.frame(new byte[] {1, 2, 3, 4, 5});

    assertThat(framed).containsExactly(0x80, 0, 0, 5, 1, 2, 3, 4, 5);
  }

  @Test
  void framedRecordReadsBack() throws Exception {
    byte[] record = "hello, rpc".getBytes(StandardCharsets.US_ASCII);

    assertThat(read(RecordMarking.frame(record), 100)).isEqualTo(record);
  }

  @Test
  void fragmentsAreReassembledUntilTheLastOne() throws Exception {
    byte[] stream = concat(fragment(false, 1, 2, 3), fragment(false), fragment(true, 4, 5));

    assertThat(read(stream, 100)).containsExactly(1, 2, 3, 4, 5);
  }

  @Test
  void readStopsAtTheEndOfItsRecord() throws Exception {
    ByteArrayInputStream in =
        new ByteArrayInputStream(concat(fragment(true, 1), fragment(true, 2, 3)));

    assertThat(RecordMarking.read(in, 100)).containsExactly(1);
    assertThat(RecordMarking.read(in, 100)).containsExactly(2, 3);
  }

  @Test
  void recordsOverTheLimitAreRefusedBeforeAllocation() {
    byte[] huge = ByteBuffer.allocate(4).putInt(RecordMarking.LAST_FRAGMENT | 0x7fff_ffff).array();
    byte[] tooManyFragments = concat(fragment(false, 1, 2, 3), fragment(true, 4, 5));

    assertThatThrownBy(() -> read(huge, 1024))
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError));
    assertThatThrownBy(() -> read(tooManyFragments, 4)).isInstanceOf(NfsException.class);
  }

  @Test
  void streamEndingInsideAFragmentIsAnEofError() {
    byte[] cut = Arrays.copyOf(fragment(true, 1, 2, 3), 6);

    assertThatThrownBy(() -> read(cut, 100)).isInstanceOf(EOFException.class);
  }

  private static byte[] read(byte[] stream, int maxLength) throws Exception {
    return RecordMarking.read(new ByteArrayInputStream(stream), maxLength);
  }

  private static byte[] fragment(boolean last, int... payload) {
    ByteBuffer buffer = ByteBuffer.allocate(4 + payload.length);
    buffer.putInt((last ? RecordMarking.LAST_FRAGMENT : 0) | payload.length);
    for (int b : payload) {
      buffer.put((byte) b);
    }
    return buffer.array();
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }
}
