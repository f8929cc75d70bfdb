package io.bastida.storage.nfs;

/** Builds RPC reply messages (RFC 5531 §9) the way a server would send them. */
final class RpcReplies {
  private RpcReplies() {}

  /** A reply header up to the results, for a call the server accepted and ran. */
  static Xdr.Encoder accepted(int xid) {
    return accepted(xid, 0);
  }

  /** A reply header for an accepted call: MSG_ACCEPTED, AUTH_NONE verifier, accept_stat. */
  static Xdr.Encoder accepted(int xid, int acceptStatus) {
    return new Xdr.Encoder()
        .putInt(xid)
        .putInt(1) // REPLY
        .putInt(0) // MSG_ACCEPTED
        .putInt(0) // AUTH_NONE
        .putOpaque(new byte[0])
        .putInt(acceptStatus);
  }

  /** A reply refusing the call: MSG_DENIED and the reject_stat; details follow. */
  static Xdr.Encoder denied(int xid, int rejectStatus) {
    return new Xdr.Encoder().putInt(xid).putInt(1).putInt(1).putInt(rejectStatus);
  }
}
