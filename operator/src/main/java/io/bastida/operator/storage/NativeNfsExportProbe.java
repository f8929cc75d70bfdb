package io.bastida.operator.storage;

import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsExportStats;
import io.bastida.storage.nfs.NfsProbe;

/** {@link NfsExportProbe} over the operator's own NFSv3 client. */
public final class NativeNfsExportProbe implements NfsExportProbe {
  private final NfsProbe probe;

  public NativeNfsExportProbe(NfsProbe probe) {
    this.probe = probe;
  }

  @Override
  public Result stat(String server, String exportPath) {
    try {
      NfsExportStats stats = probe.stat(server, exportPath);
      return Result.ok(stats.totalBytes(), stats.availableBytes());
    } catch (NfsException e) {
      String reason =
          switch (e.reason()) {
            case Unreachable -> "ExportUnreachable";
            case ExportNotFound -> "ExportNotFound";
            case AccessDenied -> "ExportAccessDenied";
            case ProtocolError -> "ExportProtocolError";
          };
      return Result.failed(reason, "nfs://" + server + exportPath + ": " + e.getMessage());
    }
  }
}
