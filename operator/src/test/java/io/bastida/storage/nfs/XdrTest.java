package io.bastida.storage.nfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.nfs.NfsException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class XdrTest {

  @Test
  void intsAreBigEndianAndRoundTrip() throws NfsException {
    byte[] bytes = new Xdr.Encoder().putInt(0x01020304).putInt(-1).putInt(0).toByteArray();

    assertThat(bytes).startsWith(1, 2, 3, 4).hasSize(12);
    Xdr.Decoder in = new Xdr.Decoder(bytes);
    assertThat(in.getInt()).isEqualTo(0x01020304);
    assertThat(in.getInt()).isEqualTo(-1);
    assertThat(in.getInt()).isZero();
  }

  @Test
  void hypersAreEightBytesHighWordFirstAndRoundTrip() throws NfsException {
    long big = 0x0102030405060708L;
    byte[] bytes = new Xdr.Encoder().putLong(big).putLong(Long.MIN_VALUE).toByteArray();

    assertThat(bytes).startsWith(1, 2, 3, 4, 5, 6, 7, 8).hasSize(16);
    Xdr.Decoder in = new Xdr.Decoder(bytes);
    assertThat(in.getLong()).isEqualTo(big);
    assertThat(in.getLong()).isEqualTo(Long.MIN_VALUE);
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 63, 64})
  void opaqueIsLengthPrefixedAndZeroPaddedToFourBytes(int length) throws NfsException {
    byte[] data = new byte[length];
    Arrays.fill(data, (byte) 0x5a);

    byte[] bytes = new Xdr.Encoder().putOpaque(data).putInt(42).toByteArray();

    int padded = (length + 3) / 4 * 4;
    assertThat(bytes).hasSize(4 + padded + 4);
    for (int i = 4 + length; i < 4 + padded; i++) {
      assertThat(bytes[i]).as("padding byte %d", i).isZero();
    }
    Xdr.Decoder in = new Xdr.Decoder(bytes);
    assertThat(in.getOpaque(64)).isEqualTo(data);
    assertThat(in.getInt()).as("the item after the padding").isEqualTo(42);
  }

  @Test
  void stringIsUtf8Opaque() throws NfsException {
    byte[] bytes = new Xdr.Encoder().putString("/export").toByteArray();

    assertThat(bytes).containsExactly(0, 0, 0, 7, '/', 'e', 'x', 'p', 'o', 'r', 't', 0);
    assertThat(new String(new Xdr.Decoder(bytes).getOpaque(1024), StandardCharsets.UTF_8))
        .isEqualTo("/export");
  }

  @Test
  void booleansAreZeroOrOne() throws NfsException {
    Xdr.Decoder in = new Xdr.Decoder(new Xdr.Encoder().putInt(1).putInt(0).putInt(2).toByteArray());

    assertThat(in.getBoolean()).isTrue();
    assertThat(in.getBoolean()).isFalse();
    assertThatThrownBy(in::getBoolean)
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError));
  }

  @Test
  void skipMovesPastFixedSizeItems() throws NfsException {
    Xdr.Decoder in = new Xdr.Decoder(new Xdr.Encoder().putLong(7).putInt(9).toByteArray());

    in.skip(8);

    assertThat(in.getInt()).isEqualTo(9);
  }

  @Test
  void readingPastTheEndIsAProtocolError() {
    Xdr.Decoder in = new Xdr.Decoder(new byte[6]);

    assertThatThrownBy(in::getLong)
        .isInstanceOfSatisfying(
            NfsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ProtocolError))
        .hasMessageContaining("truncated");
  }

  @Test
  void opaqueLongerThanItsLimitOrTheDataIsAProtocolError() {
    byte[] handle = new Xdr.Encoder().putOpaque(new byte[65]).toByteArray();
    byte[] truncated = Arrays.copyOf(new Xdr.Encoder().putOpaque(new byte[8]).toByteArray(), 10);
    byte[] negative = new Xdr.Encoder().putInt(-4).toByteArray();

    assertThatThrownBy(() -> new Xdr.Decoder(handle).getOpaque(64))
        .hasMessageContaining("limit 64");
    assertThatThrownBy(() -> new Xdr.Decoder(truncated).getOpaque(64))
        .hasMessageContaining("truncated");
    assertThatThrownBy(() -> new Xdr.Decoder(negative).getOpaque(64))
        .hasMessageContaining("4294967292");
  }

  @Test
  void fixedOpaqueHasNoLengthAndIsPadded() throws NfsException {
    byte[] bytes =
        new Xdr.Encoder().putFixedOpaque(new byte[] {1, 2, 3, 4, 5}).putInt(9).toByteArray();

    assertThat(bytes).hasSize(12).startsWith(1, 2, 3, 4, 5, 0, 0, 0);
    Xdr.Decoder in = new Xdr.Decoder(bytes);
    assertThat(in.getFixedOpaque(5)).containsExactly(1, 2, 3, 4, 5);
    assertThat(in.getInt()).isEqualTo(9);
    assertThatThrownBy(() -> new Xdr.Decoder(new byte[4]).getFixedOpaque(8))
        .hasMessageContaining("truncated");
  }
}
