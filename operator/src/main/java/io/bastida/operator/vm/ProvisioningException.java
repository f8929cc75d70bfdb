package io.bastida.operator.vm;

/** Something only the operator can find out is wrong with the VM's spec or its surroundings. */
final class ProvisioningException extends Exception {
  final String reason;

  ProvisioningException(String reason, String message) {
    super(message);
    this.reason = reason;
  }
}
