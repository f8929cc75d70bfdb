package io.bastida.operator.storage;

/** Reads the size of an NFS export from the operator itself (for Native access). */
@FunctionalInterface
public interface NfsExportProbe {

  Result stat(String server, String exportPath);

  /**
   * Sizes, or the reason (a condition reason such as {@code ExportUnreachable}) they are unknown.
   */
  record Result(Long capacityBytes, Long availableBytes, String failureReason, String message) {
    public static Result ok(long capacityBytes, long availableBytes) {
      return new Result(capacityBytes, availableBytes, null, null);
    }

    public static Result failed(String reason, String message) {
      return new Result(null, null, reason, message);
    }

    public boolean succeeded() {
      return failureReason == null;
    }
  }
}
