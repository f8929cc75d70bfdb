package io.bastida.storage.nfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.nfs.NfsException.Reason;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class RpcConnectionTest {
  private static final int XID = 0x1234_5678;

  @Test
  void callCarriesRootAuthSysCredentialFromBastida() throws NfsException {
    Xdr.Decoder call =
        new Xdr.Decoder(RpcConnection.callHeader(XID, 100005, 3, 1).putInt(99).toByteArray());

    assertThat(call.getInt()).as("xid").isEqualTo(XID);
    assertThat(call.getInt()).as("CALL").isZero();
    assertThat(call.getInt()).as("RPC version").isEqualTo(2);
    assertThat(call.getInt()).as("program").isEqualTo(100005);
    assertThat(call.getInt()).as("version").isEqualTo(3);
    assertThat(call.getInt()).as("procedure").isEqualTo(1);
    assertThat(call.getInt()).as("AUTH_SYS").isEqualTo(1);
    Xdr.Decoder credential = new Xdr.Decoder(call.getOpaque(400));
    assertThat(call.getInt()).as("verifier AUTH_NONE").isZero();
    assertThat(call.getOpaque(400)).isEmpty();
    assertThat(call.getInt()).as("arguments").isEqualTo(99);

    credential.getInt(); // stamp
    assertThat(new String(credential.getOpaque(255), StandardCharsets.UTF_8)).isEqualTo("bastida");
    assertThat(credential.getInt()).as("uid").isZero();
    assertThat(credential.getInt()).as("gid").isZero();
    assertThat(credential.getInt()).as("supplementary gids").isZero();
  }

  @Test
  void acceptedReplyYieldsTheResults() throws NfsException {
    byte[] reply = RpcReplies.accepted(XID).putInt(2049).toByteArray();

    assertThat(RpcConnection.acceptedResults(XID, 100000, 2, reply).getInt()).isEqualTo(2049);
  }

  @Test
  void replyToAnotherCallIsAProtocolError() {
    byte[] reply = RpcReplies.accepted(XID + 1).toByteArray();

    assertReason(reply, Reason.ProtocolError, "does not match");
  }

  @Test
  void authErrorIsAccessDeniedAndHintsAtThePrivilegedPort() {
    byte[] reply = RpcReplies.denied(XID, 1).putInt(5).toByteArray(); // AUTH_ERROR, AUTH_TOOWEAK

    assertReason(reply, Reason.AccessDenied, "AUTH_TOOWEAK (is our source port privileged?)");
  }

  @Test
  void rpcVersionMismatchIsAProtocolError() {
    byte[] reply = RpcReplies.denied(XID, 0).putInt(3).putInt(4).toByteArray();

    assertReason(reply, Reason.ProtocolError, "server speaks RPC v3 to v4, not v2");
  }

  @Test
  void unavailableProgramIsAProtocolError() {
    assertReason(
        RpcReplies.accepted(XID, 1).toByteArray(),
        Reason.ProtocolError,
        "program 100005 v3 is not served here");
  }

  @Test
  void programVersionMismatchNamesTheServedVersions() {
    byte[] reply = RpcReplies.accepted(XID, 2).putInt(1).putInt(2).toByteArray();

    assertReason(
        reply, Reason.ProtocolError, "program 100005 v3 is not served here, only v1 to v2");
  }

  @Test
  void otherAcceptStatusesAreProtocolErrors() {
    assertReason(
        RpcReplies.accepted(XID, 3).toByteArray(), Reason.ProtocolError, "no such procedure");
    assertReason(RpcReplies.accepted(XID, 5).toByteArray(), Reason.ProtocolError, "accept_stat 5");
  }

  @Test
  void truncatedReplyIsAProtocolError() {
    assertReason(new byte[] {0x12, 0x34}, Reason.ProtocolError, "truncated");
  }

  private static void assertReason(byte[] reply, Reason reason, String message) {
    assertThatThrownBy(() -> RpcConnection.acceptedResults(XID, 100005, 3, reply))
        .isInstanceOfSatisfying(NfsException.class, e -> assertThat(e.reason()).isEqualTo(reason))
        .hasMessageContaining(message);
  }
}
