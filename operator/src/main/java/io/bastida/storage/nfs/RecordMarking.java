package io.bastida.storage.nfs;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * RPC record marking over TCP (RFC 5531 §11): each fragment is preceded by a 4-byte header, the
 * high bit marking the record's last fragment and the other 31 bits the fragment's length.
 */
final class RecordMarking {
  static final int LAST_FRAGMENT = 0x8000_0000;

  private RecordMarking() {}

  /** The record as a single last fragment, header included, ready for one write. */
  static byte[] frame(byte[] record) {
    return ByteBuffer.allocate(4 + record.length)
        .putInt(LAST_FRAGMENT | record.length)
        .put(record)
        .array();
  }

  /** Reads fragments until the last one and returns their concatenation. */
  static byte[] read(InputStream stream, int maxLength) throws IOException, NfsException {
    DataInputStream in = new DataInputStream(stream);
    byte[] record = new byte[0];
    boolean last;
    do {
      int header = in.readInt();
      last = (header & LAST_FRAGMENT) != 0;
      int length = header & ~LAST_FRAGMENT;
      if (length > maxLength - record.length) {
        throw new NfsException(
            NfsException.Reason.ProtocolError, "RPC record longer than " + maxLength + " bytes");
      }
      int offset = record.length;
      record = Arrays.copyOf(record, offset + length);
      in.readFully(record, offset, length);
    } while (!last);
    return record;
  }
}
