package io.bastida.storage.nfs;

import io.bastida.storage.nfs.NfsException.Reason;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/** One TCP connection to an ONC RPC v2 (RFC 5531) server, carrying one call at a time. */
final class RpcConnection implements Closeable {
  private static final int CALL = 0;
  private static final int REPLY = 1;
  private static final int MSG_ACCEPTED = 0;
  private static final int MSG_DENIED = 1;
  private static final int RPC_MISMATCH = 0; // reject_stat; the other one is AUTH_ERROR
  private static final int SUCCESS = 0; // accept_stat
  private static final int PROG_UNAVAIL = 1;
  private static final int PROG_MISMATCH = 2;
  private static final int PROC_UNAVAIL = 3;
  private static final int AUTH_NONE = 0;
  private static final int AUTH_SYS = 1;
  private static final int MAX_AUTH_BYTES = 400;
  private static final int MAX_REPLY_BYTES = 64 * 1024;

  // AUTH_SYS as root on "bastida": the probe must see the export as a hypervisor would.
  private static final byte[] CREDENTIAL =
      new Xdr.Encoder()
          .putInt(0) // stamp
          .putString("bastida")
          .putInt(0) // uid
          .putInt(0) // gid
          .putInt(0) // no supplementary gids
          .toByteArray();

  // Many servers only trust AUTH_SYS from reserved ports (Linux exports' "secure" default).
  private static final int HIGHEST_RESERVED_PORT = 1023;
  private static final int RESERVED_PORT_ATTEMPTS = 16;

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private RpcConnection(Socket socket) throws IOException {
    this.socket = socket;
    this.in = new BufferedInputStream(socket.getInputStream());
    this.out = socket.getOutputStream();
  }

  /** Connects from a reserved source port if one is free and we may bind it, else from any. */
  static RpcConnection open(InetSocketAddress server, Duration timeout) throws NfsException {
    for (int i = 0; i < RESERVED_PORT_ATTEMPTS; i++) {
      try {
        return connect(server, HIGHEST_RESERVED_PORT - i, timeout);
      } catch (BindException e) {
        // Port in use (or not root): try the next one.
      }
    }
    try {
      return connect(server, 0, timeout);
    } catch (BindException e) {
      throw unreachable(server, e);
    }
  }

  private static RpcConnection connect(InetSocketAddress server, int localPort, Duration timeout)
      throws BindException, NfsException {
    int millis = Math.toIntExact(timeout.toMillis());
    Socket socket = new Socket();
    try {
      // Lets a port whose last connection is in TIME_WAIT serve a different server or service.
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(localPort));
      socket.connect(server, millis);
      socket.setSoTimeout(millis);
      socket.setTcpNoDelay(true);
      return new RpcConnection(socket);
    } catch (BindException e) {
      closeQuietly(socket);
      throw e;
    } catch (IOException e) {
      closeQuietly(socket);
      throw unreachable(server, e);
    }
  }

  /**
   * Calls a procedure and returns its results, after checking that the server accepted the call.
   */
  Xdr.Decoder call(int program, int version, int procedure, Consumer<Xdr.Encoder> arguments)
      throws NfsException {
    return call(program, version, procedure, arguments, MAX_REPLY_BYTES);
  }

  /** As {@link #call(int, int, int, Consumer)}, for a reply of up to {@code maxReplyBytes}. */
  Xdr.Decoder call(
      int program, int version, int procedure, Consumer<Xdr.Encoder> arguments, int maxReplyBytes)
      throws NfsException {
    int xid = ThreadLocalRandom.current().nextInt();
    Xdr.Encoder message = callHeader(xid, program, version, procedure);
    arguments.accept(message);
    byte[] reply;
    try {
      out.write(RecordMarking.frame(message.toByteArray()));
      reply = RecordMarking.read(in, maxReplyBytes);
    } catch (SocketTimeoutException e) {
      throw new NfsException(
          Reason.Unreachable,
          "no reply from " + socket.getRemoteSocketAddress() + " to program " + program,
          e);
    } catch (IOException e) {
      throw unreachable(socket.getRemoteSocketAddress(), e);
    }
    return acceptedResults(xid, program, version, reply);
  }

  static Xdr.Encoder callHeader(int xid, int program, int version, int procedure) {
    return new Xdr.Encoder()
        .putInt(xid)
        .putInt(CALL)
        .putInt(2) // RPC version
        .putInt(program)
        .putInt(version)
        .putInt(procedure)
        .putInt(AUTH_SYS)
        .putOpaque(CREDENTIAL)
        .putInt(AUTH_NONE)
        .putOpaque(new byte[0]);
  }

  /** Checks a reply's header and returns a decoder positioned at the procedure's results. */
  static Xdr.Decoder acceptedResults(int xid, int program, int version, byte[] reply)
      throws NfsException {
    Xdr.Decoder in = new Xdr.Decoder(reply);
    if (in.getInt() != xid || in.getInt() != REPLY) {
      throw new NfsException(Reason.ProtocolError, "RPC reply does not match our call");
    }
    String callee = "program " + program + " v" + version;
    int replyStatus = in.getInt();
    if (replyStatus == MSG_DENIED) {
      if (in.getInt() == RPC_MISMATCH) {
        throw new NfsException(
            Reason.ProtocolError,
            "server speaks RPC v" + in.getInt() + " to v" + in.getInt() + ", not v2");
      }
      int authStatus = in.getInt();
      throw new NfsException(
          Reason.AccessDenied,
          callee + " rejected our AUTH_SYS credential: " + authName(authStatus));
    }
    if (replyStatus != MSG_ACCEPTED) {
      throw new NfsException(Reason.ProtocolError, "bad RPC reply_stat " + replyStatus);
    }
    in.getInt(); // the server's verifier: flavour and body, meaningless for AUTH_SYS
    in.getOpaque(MAX_AUTH_BYTES);
    int acceptStatus = in.getInt();
    String problem =
        switch (acceptStatus) {
          case SUCCESS -> null;
          case PROG_UNAVAIL -> callee + " is not served here";
          case PROG_MISMATCH ->
              callee + " is not served here, only v" + in.getInt() + " to v" + in.getInt();
          case PROC_UNAVAIL -> callee + " has no such procedure";
          default -> callee + " failed with accept_stat " + acceptStatus;
        };
    if (problem != null) {
      throw new NfsException(Reason.ProtocolError, problem);
    }
    return in;
  }

  private static String authName(int status) {
    return switch (status) {
      case 1 -> "AUTH_BADCRED";
      case 2 -> "AUTH_REJECTEDCRED";
      case 3 -> "AUTH_BADVERF";
      case 4 -> "AUTH_REJECTEDVERF";
      case 5 -> "AUTH_TOOWEAK (is our source port privileged?)";
      case 6 -> "AUTH_INVALIDRESP";
      case 7 -> "AUTH_FAILED";
      default -> "auth_stat " + status;
    };
  }

  private static NfsException unreachable(Object server, IOException cause) {
    return new NfsException(
        Reason.Unreachable, "cannot talk to " + server + ": " + cause.getMessage(), cause);
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // The socket is released either way and there is nothing left to read.
    }
  }

  @Override
  public void close() {
    closeQuietly(socket);
  }
}
