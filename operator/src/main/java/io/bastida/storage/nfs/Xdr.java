package io.bastida.storage.nfs;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** The few XDR (RFC 4506) types that RPC, MOUNT and NFSv3 need: big-endian, 4-byte aligned. */
final class Xdr {
  private Xdr() {}

  /** Bytes needed to pad {@code length} up to the next multiple of four. */
  static int padding(int length) {
    return -length & 3;
  }

  static final class Encoder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Encoder putInt(int value) {
      out.write(value >>> 24);
      out.write(value >>> 16);
      out.write(value >>> 8);
      out.write(value);
      return this;
    }

    /** A hyper (64-bit) integer. */
    Encoder putLong(long value) {
      return putInt((int) (value >>> 32)).putInt((int) value);
    }

    /** Variable-length opaque data: length, bytes, zero padding. */
    Encoder putOpaque(byte[] data) {
      putInt(data.length);
      out.writeBytes(data);
      out.writeBytes(new byte[padding(data.length)]);
      return this;
    }

    /** Fixed-length opaque data: the bytes and zero padding, no length. */
    Encoder putFixedOpaque(byte[] data) {
      out.writeBytes(data);
      out.writeBytes(new byte[padding(data.length)]);
      return this;
    }

    Encoder putString(String value) {
      return putOpaque(value.getBytes(StandardCharsets.UTF_8));
    }

    byte[] toByteArray() {
      return out.toByteArray();
    }
  }

  /** Reads XDR data; running past the end is a protocol error, not a crash. */
  static final class Decoder {
    private final ByteBuffer in;

    Decoder(byte[] data) {
      in = ByteBuffer.wrap(data);
    }

    int getInt() throws NfsException {
      require(4);
      return in.getInt();
    }

    long getLong() throws NfsException {
      require(8);
      return in.getLong();
    }

    boolean getBoolean() throws NfsException {
      int value = getInt();
      if (value != 0 && value != 1) {
        throw new NfsException(NfsException.Reason.ProtocolError, "bad XDR boolean " + value);
      }
      return value == 1;
    }

    /** Variable-length opaque data of at most {@code maxLength} bytes. */
    byte[] getOpaque(int maxLength) throws NfsException {
      int length = getInt();
      if (length < 0 || length > maxLength) {
        throw new NfsException(
            NfsException.Reason.ProtocolError,
            "XDR opaque of " + Integer.toUnsignedString(length) + " bytes, limit " + maxLength);
      }
      return getFixedOpaque(length);
    }

    /** Fixed-length opaque data of exactly {@code length} bytes. */
    byte[] getFixedOpaque(int length) throws NfsException {
      require(length);
      byte[] data = new byte[length];
      in.get(data);
      skip(padding(length));
      return data;
    }

    void skip(int bytes) throws NfsException {
      require(bytes);
      in.position(in.position() + bytes);
    }

    private void require(int bytes) throws NfsException {
      if (in.remaining() < bytes) {
        throw new NfsException(NfsException.Reason.ProtocolError, "truncated XDR data");
      }
    }
  }
}
