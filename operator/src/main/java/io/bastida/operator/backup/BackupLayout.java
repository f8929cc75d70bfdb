package io.bastida.operator.backup;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where one backup run's files live on a storage domain, as '/'-separated paths relative to the
 * domain's root:
 *
 * <pre>
 * bastida-backups/&lt;namespace&gt;/&lt;vmName&gt;/&lt;backupName&gt;/
 *     &lt;diskName&gt;.qcow2   domain.xml   vm.json   manifest.json
 * </pre>
 *
 * The folder describes itself, so a fresh cluster can rediscover backups by listing manifests.
 * Every name is checked against the Kubernetes naming rules, which also rules out "/" and "..": a
 * name can never reach outside its folder.
 */
public record BackupLayout(String namespace, String vmName, String backupName) {
  public static final String ROOT = "bastida-backups";
  public static final String MANIFEST_FILE = "manifest.json";
  public static final String DOMAIN_XML_FILE = "domain.xml";
  public static final String VM_SPEC_FILE = "vm.json";
  public static final String DISK_FORMAT = "qcow2";

  // Namespaces and VM disks are DNS-1123 labels; VMs and backups are DNS-1123 subdomains.
  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final int MAX_LABEL_LENGTH = 63;
  private static final int MAX_SUBDOMAIN_LENGTH = 253;

  /**
   * @throws IllegalArgumentException if a name is not a valid Kubernetes name
   */
  public BackupLayout {
    checkLabel("namespace", namespace);
    checkSubdomain("VM name", vmName);
    checkSubdomain("backup name", backupName);
  }

  /** The folder holding every backup of one VM, each in a subfolder of its own. */
  public static String vmFolder(String namespace, String vmName) {
    checkLabel("namespace", namespace);
    checkSubdomain("VM name", vmName);
    return ROOT + "/" + namespace + "/" + vmName;
  }

  public String folder() {
    return vmFolder(namespace, vmName) + "/" + backupName;
  }

  /** The name of a disk's image inside a backup folder. */
  public static String diskFile(String diskName) {
    checkLabel("disk name", diskName);
    return diskName + "." + DISK_FORMAT;
  }

  public String diskPath(String diskName) {
    return folder() + "/" + diskFile(diskName);
  }

  /**
   * The qcow2 backing file an incremental image records for its parent's image. Relative to the
   * incremental's own folder, so the tree still opens when mounted or copied somewhere else.
   */
  public static String backingReference(String parentBackupName, String diskName) {
    checkSubdomain("parent backup name", parentBackupName);
    return "../" + parentBackupName + "/" + diskFile(diskName);
  }

  /** Where {@code verify} puts the overlay a throwaway copy boots from; removed after. */
  public String verifyOverlayPath(String diskName) {
    return folder() + "/verify-" + diskFile(diskName);
  }

  public String domainXmlPath() {
    return folder() + "/" + DOMAIN_XML_FILE;
  }

  public String vmSpecPath() {
    return folder() + "/" + VM_SPEC_FILE;
  }

  /** Written last: a backup folder without it is an unfinished or failed run. */
  public String manifestPath() {
    return folder() + "/" + MANIFEST_FILE;
  }

  /**
   * The backup a manifest found by listing belongs to. The path may carry a prefix before {@value
   * #ROOT} (a mount point, an export path); anything that is not a manifest in the layout above,
   * including one with names Bastida could not have written, is empty rather than an error, because
   * a listing of a shared export can hold anything.
   */
  public static Optional<BackupLayout> fromManifestPath(String path) {
    String[] segments = path.split("/", -1);
    int count = segments.length;
    if (count < 5
        || !segments[count - 1].equals(MANIFEST_FILE)
        || !segments[count - 5].equals(ROOT)) {
      return Optional.empty();
    }
    try {
      return Optional.of(
          new BackupLayout(segments[count - 4], segments[count - 3], segments[count - 2]));
    } catch (IllegalArgumentException notOurs) {
      return Optional.empty();
    }
  }

  private static void checkLabel(String what, String name) {
    check(
        what,
        name,
        LABEL,
        MAX_LABEL_LENGTH,
        "a DNS-1123 label (lower-case letters, digits and '-')");
  }

  private static void checkSubdomain(String what, String name) {
    check(
        what,
        name,
        SUBDOMAIN,
        MAX_SUBDOMAIN_LENGTH,
        "a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')");
  }

  private static void check(String what, String name, Pattern pattern, int maxLength, String kind) {
    if (name == null || name.length() > maxLength || !pattern.matcher(name).matches()) {
      throw new IllegalArgumentException(
          what + " must be " + kind + " of at most " + maxLength + " characters: " + name);
    }
  }
}
