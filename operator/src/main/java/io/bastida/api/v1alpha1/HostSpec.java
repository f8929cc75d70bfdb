package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

public class HostSpec {
  // Both rules avoid backslashes: a regex escaped for Java, then CEL, then YAML is unreadable.
  @Required
  @Size(min = 1, max = 1024)
  @ValidationRule(
      value = "self.matches('^(test|qemu|qemu[+](unix|tcp|tls|ssh)):')",
      message =
          "must use a libvirt scheme: test, qemu, qemu+unix, qemu+tcp, qemu+tls or qemu+ssh"
              + " (for example qemu+ssh://root@host1.example.org/system)")
  @ValidationRule(
      value = "self.matches('^[a-z+]+://([^/@ ]+@)?[^/ ?#@]*/[^ ?#]+([?][^ #]*)?$')",
      message =
          "must be a libvirt URI of the form scheme://[user@]host[:port]/path[?parameters]"
              + " (for example qemu+tcp://10.0.0.5/system or qemu:///system)")
  @ValidationRule(
      value =
          "!self.matches('[?&](keyfile|command|no_verify|pkipath|known_hosts|known_hosts_verify"
              + "|sshauth)=')",
      message =
          "must not set keyfile, command, no_verify, pkipath, known_hosts or sshauth: Bastida sets"
              + " them from spec.credentialsSecretRef and spec.insecureSkipHostKeyVerification")
  @JsonPropertyDescription(
      "libvirt connection URI, e.g. qemu+ssh://root@host1/system, qemu+tls://host1/system,"
          + " qemu:///system or test:///default.")
  private String uri;

  @JsonPropertyDescription(
      "Secret with the credentials for the connection: ssh-privatekey for qemu+ssh, with"
          + " known_hosts to trust (else the operator's own known_hosts is used); ca.crt, tls.crt"
          + " and tls.key for qemu+tls; username and password for SASL over qemu+tcp.")
  private CredentialsSecretReference credentialsSecretRef;

  @Default("false")
  @JsonPropertyDescription(
      "Put the host into maintenance: no new VMs are placed on it and its VMs are moved away.")
  private boolean maintenance;

  @JsonPropertyDescription("How far CPU and memory may be overcommitted on this host.")
  private Overcommit overcommit;

  @Size(max = 253)
  @Pattern("^[A-Za-z0-9.:-]+$")
  @JsonPropertyDescription(
      "Address other hosts use for migration traffic to this host; defaults to the URI's host.")
  private String migrationAddress;

  @Default("Auto")
  @JsonPropertyDescription(
      "Auto: hardware virtualization (KVM) where the host offers it, else software emulation."
          + " Software: always emulate (TCG), e.g. where nested KVM is broken. Hardware: KVM only.")
  private Virtualization virtualization;

  /** How guests on the host are run. */
  public enum Virtualization {
    Auto,
    Hardware,
    Software
  }

  @Default("false")
  @JsonPropertyDescription(
      "Skip SSH host key verification for qemu+ssh. Leave false outside throwaway labs: it"
          + " allows a man in the middle to impersonate the host.")
  private boolean insecureSkipHostKeyVerification;

  public String getUri() {
    return uri;
  }

  public void setUri(String uri) {
    this.uri = uri;
  }

  public CredentialsSecretReference getCredentialsSecretRef() {
    return credentialsSecretRef;
  }

  public void setCredentialsSecretRef(CredentialsSecretReference credentialsSecretRef) {
    this.credentialsSecretRef = credentialsSecretRef;
  }

  public boolean isMaintenance() {
    return maintenance;
  }

  public void setMaintenance(boolean maintenance) {
    this.maintenance = maintenance;
  }

  public Overcommit getOvercommit() {
    return overcommit;
  }

  public void setOvercommit(Overcommit overcommit) {
    this.overcommit = overcommit;
  }

  public String getMigrationAddress() {
    return migrationAddress;
  }

  public void setMigrationAddress(String migrationAddress) {
    this.migrationAddress = migrationAddress;
  }

  public Virtualization getVirtualization() {
    return virtualization;
  }

  public void setVirtualization(Virtualization virtualization) {
    this.virtualization = virtualization;
  }

  public boolean isInsecureSkipHostKeyVerification() {
    return insecureSkipHostKeyVerification;
  }

  public void setInsecureSkipHostKeyVerification(boolean insecureSkipHostKeyVerification) {
    this.insecureSkipHostKeyVerification = insecureSkipHostKeyVerification;
  }
}
