package io.bastida.operator.backup;

/** A BackupPolicy's schedule or time zone cannot be used; the message names the field. */
public final class InvalidScheduleException extends Exception {
  InvalidScheduleException(String message) {
    super(message);
  }
}
