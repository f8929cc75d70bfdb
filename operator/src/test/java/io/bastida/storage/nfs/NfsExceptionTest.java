package io.bastida.storage.nfs;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.storage.nfs.NfsException.Reason;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NfsExceptionTest {

  @ParameterizedTest
  @CsvSource({
    "2, ExportNotFound, MNT3ERR_NOENT (2)",
    "20, ExportNotFound, MNT3ERR_NOTDIR (20)",
    "13, AccessDenied, 'MNT3ERR_ACCES (13), not exported to us or no such export'",
    "1, AccessDenied, MNT3ERR_PERM (1)",
    "5, ProtocolError, MNT3ERR_IO (5)",
    "10006, ProtocolError, MNT3ERR_SERVERFAULT (10006)",
    "77, ProtocolError, status 77",
  })
  void mountStatuses(int status, Reason reason, String name) {
    NfsException e = NfsException.mountStatus("mount of nas:/vms", status);

    assertThat(e.reason()).isEqualTo(reason);
    assertThat(e).hasMessage("mount of nas:/vms failed: " + name);
  }

  @ParameterizedTest
  @CsvSource({
    "13, AccessDenied, NFS3ERR_ACCES (13)",
    "1, AccessDenied, NFS3ERR_PERM (1)",
    "30, AccessDenied, NFS3ERR_ROFS (30)",
    "21, ProtocolError, NFS3ERR_ISDIR (21)",
    "10003, ProtocolError, NFS3ERR_BAD_COOKIE (10003)",
    "70, ProtocolError, NFS3ERR_STALE (70)",
    "10001, ProtocolError, NFS3ERR_BADHANDLE (10001)",
    "10008, ProtocolError, NFS3ERR_JUKEBOX (10008)",
  })
  void nfsStatuses(int status, Reason reason, String name) {
    NfsException e = NfsException.nfsStatus("FSSTAT of nas:/vms", status);

    assertThat(e.reason()).isEqualTo(reason);
    assertThat(e).hasMessage("FSSTAT of nas:/vms failed: " + name);
  }
}
