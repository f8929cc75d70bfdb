package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.hypervisor.HypervisorException.Failure;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.libvirt.Error.ErrorNumber;

class LibvirtErrorsTest {

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "VIR_ERR_SYSTEM_ERROR | unable to connect to server at 'h:16509': Connection refused | ConnectionRefused",
        "VIR_ERR_SYSTEM_ERROR | Failed to connect socket to '/run/x/libvirt-sock': No such file or directory | ConnectionRefused",
        "VIR_ERR_SYSTEM_ERROR | unable to connect to server at 'h:16509': No route to host | HostUnreachable",
        "VIR_ERR_SYSTEM_ERROR | Cannot recv data: Host key verification failed. | HostKeyVerificationFailed",
        "VIR_ERR_SYSTEM_ERROR | Cannot recv data: root@h: Permission denied (publickey). | AuthenticationFailed",
        "VIR_ERR_SYSTEM_ERROR | Cannot recv data: End of file while reading data | ConnectionLost",
        "VIR_ERR_AUTH_FAILED | authentication failed: Failed to start SASL negotiation | AuthenticationFailed",
        "VIR_ERR_NO_STORAGE_POOL | Storage pool not found: no storage pool with matching name | NotFound",
        "VIR_ERR_INVALID_CONN | invalid connection pointer | ConnectionLost",
        "VIR_ERR_OPERATION_FAILED | cannot start pool | OperationFailed",
      })
  void classifiesWhatLibvirtSaysIntoReasonsUsersCanActOn(
      ErrorNumber code, String message, Failure expected) {
    assertThat(LibvirtErrors.failureOf(code, message)).isEqualTo(expected);
  }
}
