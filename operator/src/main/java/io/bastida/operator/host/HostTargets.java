package io.bastida.operator.host;

import io.bastida.api.v1alpha1.CredentialsSecretReference;
import io.bastida.api.v1alpha1.Host;
import io.bastida.hypervisor.ConnectionTarget;
import io.bastida.hypervisor.Credentials;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.LibvirtUri.Transport;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * Turns a Host's spec and its credentials Secret into a {@link ConnectionTarget}. The Secret's keys
 * are chosen by the URI's transport, so material can never be offered to the wrong one.
 */
public final class HostTargets {
  private final KubernetesClient client;
  private final String operatorNamespace;

  public HostTargets(KubernetesClient client, String operatorNamespace) {
    this.client = client;
    this.operatorNamespace = operatorNamespace;
  }

  /** A Host that cannot be connected to as configured, with the reason a user will see. */
  public static final class InvalidTargetException extends Exception {
    private final String reason;

    public InvalidTargetException(String reason, String message) {
      super(message);
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  public ConnectionTarget targetFor(Host host) throws InvalidTargetException {
    LibvirtUri uri;
    try {
      uri = LibvirtUri.parse(host.getSpec().getUri());
    } catch (IllegalArgumentException e) {
      throw new InvalidTargetException("InvalidURI", "spec.uri: " + e.getMessage());
    }
    CredentialsSecretReference ref = host.getSpec().getCredentialsSecretRef();
    Credentials credentials =
        ref == null ? Credentials.NONE : credentialsFrom(readSecret(ref), ref, uri.transport());
    return new ConnectionTarget(
        uri, credentials, host.getSpec().isInsecureSkipHostKeyVerification());
  }

  private Secret readSecret(CredentialsSecretReference ref) throws InvalidTargetException {
    String namespace = ref.getNamespace() != null ? ref.getNamespace() : operatorNamespace;
    String where = namespace + "/" + ref.getName();
    try {
      Secret secret = client.secrets().inNamespace(namespace).withName(ref.getName()).get();
      if (secret == null) {
        throw new InvalidTargetException("SecretNotFound", "Secret " + where + " does not exist");
      }
      return secret;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 403) {
        throw new InvalidTargetException(
            "SecretForbidden",
            "the operator may not read Secret "
                + where
                + ": keep host credentials in namespace "
                + operatorNamespace);
      }
      throw e;
    }
  }

  private static Credentials credentialsFrom(
      Secret secret, CredentialsSecretReference ref, Transport transport)
      throws InvalidTargetException {
    Map<String, String> data = secret.getData() == null ? Map.of() : secret.getData();
    String name = ref.getName();
    return switch (transport) {
      case SSH ->
          new Credentials.SshKey(
              required(data, "ssh-privatekey", name), optional(data, "known_hosts"));
      case TLS ->
          new Credentials.TlsMaterial(
              required(data, "ca.crt", name),
              required(data, "tls.crt", name),
              required(data, "tls.key", name));
      case TCP, UNIX ->
          new Credentials.SaslLogin(
              new String(required(data, "username", name), StandardCharsets.UTF_8),
              new String(required(data, "password", name), StandardCharsets.UTF_8));
      case LOCAL ->
          throw new InvalidTargetException(
              "SecretInvalid",
              "a local URI takes no credentials: remove spec.credentialsSecretRef");
    };
  }

  private static byte[] optional(Map<String, String> data, String key) {
    String value = data.get(key);
    return value == null || value.isEmpty() ? null : Base64.getDecoder().decode(value);
  }

  private static byte[] required(Map<String, String> data, String key, String secretName)
      throws InvalidTargetException {
    String value = data.get(key);
    if (value == null || value.isEmpty()) {
      throw new InvalidTargetException(
          "SecretInvalid", "Secret " + secretName + " has no key '" + key + "'");
    }
    return Base64.getDecoder().decode(value);
  }
}
