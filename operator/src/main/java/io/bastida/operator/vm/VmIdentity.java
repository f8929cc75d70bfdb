package io.bastida.operator.vm;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * Names and identifiers derived from a VM, so that a restarted operator finds the domain and
 * volumes it made instead of making twins. Pure.
 */
public final class VmIdentity {
  private VmIdentity() {}

  /** {@code namespace_name}: both are DNS labels, so the underscore cannot be ambiguous. */
  public static String domainName(String namespace, String name) {
    return namespace + "_" + name;
  }

  /** The VM a domain name belongs to, if it is one of Bastida's names. */
  public static java.util.Optional<io.javaoperatorsdk.operator.processing.event.ResourceID>
      resourceOf(String domainName) {
    int separator = domainName.indexOf('_');
    if (separator <= 0 || separator == domainName.length() - 1) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.of(
        new io.javaoperatorsdk.operator.processing.event.ResourceID(
            domainName.substring(separator + 1), domainName.substring(0, separator)));
  }

  /** Stable for the life of the resource (its UID), different for a re-created one. */
  public static UUID domainUuid(String uid) {
    return UUID.nameUUIDFromBytes(("bastida.io/domain/" + uid).getBytes(StandardCharsets.UTF_8));
  }

  /** Cloud-init seed volumes are this prefix plus a digest of their content. */
  public static String seedVolumePrefix(String namespace, String name) {
    return namespace + "-" + name + "-cidata-";
  }

  public static String volumeName(String namespace, String name, String disk) {
    return namespace + "-" + name + "-" + disk + ".qcow2";
  }

  /**
   * A locally administered-looking address in QEMU's 52:54:00 range, derived from the VM's UID and
   * the interface name: stable across restarts, redefinitions and migrations.
   */
  public static String macAddress(String uid, String interfaceName) {
    byte[] hash = sha256(uid + "/" + interfaceName);
    return String.format("52:54:00:%02x:%02x:%02x", hash[0], hash[1], hash[2]);
  }

  /** A short digest of a domain definition, to tell whether it changed. */
  public static String revision(String domainXml) {
    return java.util.HexFormat.of().formatHex(sha256(domainXml)).substring(0, 16);
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
