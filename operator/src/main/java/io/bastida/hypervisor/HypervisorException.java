package io.bastida.hypervisor;

/** A failed call to a host, classified so callers can report a specific reason. */
public class HypervisorException extends Exception {

  /** What went wrong, named as the condition reason a user will see. */
  public enum Failure {
    InvalidURI,
    ConnectionRefused,
    HostUnreachable,
    AuthenticationFailed,
    HostKeyVerificationFailed,
    ConnectionFailed,
    ConnectionLost,
    NotFound,
    OperationFailed
  }

  private final Failure failure;

  public HypervisorException(Failure failure, String message) {
    super(message);
    this.failure = failure;
  }

  public HypervisorException(Failure failure, String message, Throwable cause) {
    super(message, cause);
    this.failure = failure;
  }

  public Failure failure() {
    return failure;
  }

  /** Whether this failure means the host itself cannot be reached or talked to. */
  public boolean isConnectionFailure() {
    return switch (failure) {
      case InvalidURI,
          ConnectionRefused,
          HostUnreachable,
          AuthenticationFailed,
          HostKeyVerificationFailed,
          ConnectionFailed,
          ConnectionLost ->
          true;
      case NotFound, OperationFailed -> false;
    };
  }
}
