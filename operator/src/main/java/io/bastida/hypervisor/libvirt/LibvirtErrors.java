package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.HypervisorException.Failure;
import java.util.Locale;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;

/** Turns libvirt's errors into the failures users see as condition reasons. */
final class LibvirtErrors {
  private LibvirtErrors() {}

  static HypervisorException classify(String action, LibvirtException e) {
    ErrorNumber code = e.getError() == null ? ErrorNumber.VIR_ERR_UNKNOWN : e.getError().getCode();
    String message = e.getMessage() == null ? code.name() : e.getMessage();
    return new HypervisorException(failureOf(code, message), action + ": " + message, e);
  }

  static Failure failureOf(ErrorNumber code, String message) {
    String text = message.toLowerCase(Locale.ROOT);
    return switch (code) {
      case VIR_ERR_AUTH_FAILED,
          VIR_ERR_AUTH_CANCELLED,
          VIR_ERR_AUTH_UNAVAILABLE,
          VIR_ERR_ACCESS_DENIED ->
          Failure.AuthenticationFailed;
      case VIR_ERR_NO_DOMAIN, VIR_ERR_NO_STORAGE_POOL, VIR_ERR_NO_STORAGE_VOL, VIR_ERR_NO_NETWORK ->
          Failure.NotFound;
      case VIR_ERR_INVALID_CONN -> Failure.ConnectionLost;
      case VIR_ERR_SYSTEM_ERROR,
          VIR_ERR_NO_CONNECT,
          VIR_ERR_RPC,
          VIR_ERR_SSH,
          VIR_ERR_LIBSSH,
          VIR_ERR_GNUTLS_ERROR,
          VIR_ERR_UNKNOWN_HOST ->
          connectionFailure(text);
      default -> Failure.OperationFailed;
    };
  }

  // The transport errors all arrive as system errors; their text is the only way to tell them
  // apart.
  private static Failure connectionFailure(String text) {
    if (text.contains("host key verification failed")) {
      return Failure.HostKeyVerificationFailed;
    }
    if (text.contains("permission denied") || text.contains("authentication")) {
      return Failure.AuthenticationFailed;
    }
    // A missing unix socket means no daemon listens there: the local form of a refusal.
    if (text.contains("connection refused")
        || (text.contains("connect socket") && text.contains("no such file"))) {
      return Failure.ConnectionRefused;
    }
    if (text.contains("no route to host")
        || text.contains("timed out")
        || text.contains("name or service not known")
        || text.contains("unknown host")
        || text.contains("network is unreachable")) {
      return Failure.HostUnreachable;
    }
    if (text.contains("end of file")
        || text.contains("connection reset")
        || text.contains("broken pipe")
        || text.contains("client socket is closed")) {
      return Failure.ConnectionLost;
    }
    return Failure.ConnectionFailed;
  }
}
