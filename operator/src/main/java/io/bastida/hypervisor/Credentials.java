package io.bastida.hypervisor;

import java.util.Arrays;

/**
 * Secret material for a connection, as read from a Kubernetes Secret. {@code toString} never shows
 * the material: these values end up near log lines.
 */
public sealed interface Credentials {

  None NONE = new None();

  record None() implements Credentials {}

  /**
   * A private key for qemu+ssh, and optionally the host keys to trust (known_hosts format); without
   * them the operator's own known_hosts is used.
   */
  record SshKey(byte[] privateKey, byte[] knownHosts) implements Credentials {
    @Override
    public boolean equals(Object o) {
      return o instanceof SshKey other
          && Arrays.equals(privateKey, other.privateKey)
          && Arrays.equals(knownHosts, other.knownHosts);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(privateKey);
    }

    @Override
    public String toString() {
      return "SshKey[redacted]";
    }
  }

  /** Client certificate, key and CA for qemu+tls. */
  record TlsMaterial(byte[] caCertificate, byte[] clientCertificate, byte[] clientKey)
      implements Credentials {
    @Override
    public boolean equals(Object o) {
      return o instanceof TlsMaterial other
          && Arrays.equals(caCertificate, other.caCertificate)
          && Arrays.equals(clientCertificate, other.clientCertificate)
          && Arrays.equals(clientKey, other.clientKey);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(clientKey);
    }

    @Override
    public String toString() {
      return "TlsMaterial[redacted]";
    }
  }

  /** A SASL login (libvirtd with auth_tcp or auth_tls = "sasl"). */
  record SaslLogin(String username, String password) implements Credentials {
    @Override
    public String toString() {
      return "SaslLogin[" + username + ", password redacted]";
    }
  }
}
