package io.bastida.operator.backup;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.bastida.api.v1alpha1.BackupMode;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What one backup run stored, written as {@code manifest.json} next to the files it describes and
 * after all of them, so that a folder with a manifest is a usable backup. It carries everything a
 * fresh cluster needs to restore from the files alone: whose backup it is, where it sits in its
 * chain of incrementals, and a checksum of every image.
 *
 * <p>Paths inside it are relative to the backup's own folder. Nullable: {@code policyName}, {@code
 * parentBackupName} (null for a full), {@code checkpointName} (null when the VM was not running),
 * {@code verified} (null until checked) and a full's {@code backingFile}s. Numbers and flags are
 * marked required because Jackson would read a missing one as 0 or false.
 */
@JsonPropertyOrder({"formatVersion"})
public record BackupManifest(
    String backupName,
    String namespace,
    String vmName,
    String vmUid,
    String policyName,
    String storageDomainName,
    String hostName,
    BackupMode mode,
    String parentBackupName,
    String chainBaseName,
    @JsonProperty(required = true) int chainLength,
    String checkpointName,
    Instant startedAt,
    Instant completedAt,
    @JsonProperty(required = true) long totalBytes,
    List<Disk> disks,
    String domainXmlFile,
    String vmSpecFile,
    Verification verified) {

  /** Changes only when an older Bastida could no longer read the manifest right. */
  public static final String FORMAT_VERSION = "bastida.io/backup-manifest/v1";

  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          // Newer Bastida versions may add fields within v1; older ones skip them.
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .build();

  // "\n" whatever the platform, so the same manifest is the same bytes everywhere.
  private static final ObjectWriter PRETTY =
      JSON.writer(
          new DefaultPrettyPrinter(
                  Separators.createDefaultInstance()
                      .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
              .withObjectIndenter(new DefaultIndenter("  ", "\n"))
              .withArrayIndenter(new DefaultIndenter("  ", "\n")));

  /**
   * One disk image of the backup.
   *
   * @param target the device the guest saw it as, e.g. {@code vda}
   * @param file the image, relative to the backup folder
   * @param fileSizeBytes the size of the stored file
   * @param sha256 of the stored file's bytes, lower-case hex
   * @param backingFile the parent's image, relative to this folder; null in a full (the qcow2
   *     header holds its absolute nfs:// URL, since QEMU cannot resolve relative names over NFS)
   */
  public record Disk(
      String name,
      String target,
      String file,
      String format,
      @JsonProperty(required = true) long virtualSizeBytes,
      @JsonProperty(required = true) long fileSizeBytes,
      String sha256,
      String backingFile) {
    public Disk {
      required(name, "name");
      required(target, "target");
      relative(required(file, "file"), "file");
      required(format, "format");
      if (virtualSizeBytes < 0 || fileSizeBytes < 0) {
        throw new IllegalArgumentException("disk sizes must not be negative");
      }
      if (!SHA256_HEX.matcher(required(sha256, "sha256")).matches()) {
        throw new IllegalArgumentException("sha256 must be 64 lower-case hex digits: " + sha256);
      }
      if (backingFile != null) {
        relative(backingFile, "backingFile");
      }
    }
  }

  /**
   * The last check of the stored files.
   *
   * @param method how they were checked, e.g. {@code sha256} or {@code qemu-img check}
   * @param message what the check found; may be null when it passed
   */
  public record Verification(
      Instant at, String method, @JsonProperty(required = true) boolean ok, String message) {
    public Verification {
      required(at, "at");
      required(method, "method");
    }
  }

  public BackupManifest {
    required(backupName, "backupName");
    required(namespace, "namespace");
    required(vmName, "vmName");
    required(vmUid, "vmUid");
    required(storageDomainName, "storageDomainName");
    required(hostName, "hostName");
    required(mode, "mode");
    required(chainBaseName, "chainBaseName");
    required(startedAt, "startedAt");
    required(completedAt, "completedAt");
    required(domainXmlFile, "domainXmlFile");
    required(vmSpecFile, "vmSpecFile");
    disks = List.copyOf(required(disks, "disks"));
    // Rediscovery rebuilds the backup's folder from these names, so they must make a valid one.
    new BackupLayout(namespace, vmName, backupName);
    checkChain(mode, backupName, parentBackupName, chainBaseName, chainLength);
    if (completedAt.isBefore(startedAt)) {
      throw new IllegalArgumentException(
          "completedAt " + completedAt + " is before startedAt " + startedAt);
    }
    if (totalBytes < 0) {
      throw new IllegalArgumentException("totalBytes must not be negative: " + totalBytes);
    }
    var names = new HashSet<String>();
    for (Disk disk : disks) {
      if (!names.add(disk.name())) {
        throw new IllegalArgumentException("disk " + disk.name() + " is listed twice");
      }
      if (mode == BackupMode.Full && disk.backingFile() != null) {
        throw new IllegalArgumentException(
            "disk " + disk.name() + " of a full backup has a backing file: " + disk.backingFile());
      }
    }
    relative(domainXmlFile, "domainXmlFile");
    relative(vmSpecFile, "vmSpecFile");
  }

  @JsonProperty("formatVersion")
  public String formatVersion() {
    return FORMAT_VERSION;
  }

  /** Pretty-printed, fields always in the same order, ending with a newline. */
  public String toJson() {
    try {
      return PRETTY.writeValueAsString(this) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write backup manifest " + backupName, e);
    }
  }

  /**
   * Reads a manifest written by this or a newer Bastida of the same format version.
   *
   * @throws IllegalArgumentException naming the field at fault, if the text is not JSON, is of
   *     another format version, or lacks or breaks a required field
   */
  public static BackupManifest parse(String json) {
    JsonNode tree;
    try {
      tree = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("backup manifest is not JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw new IllegalArgumentException("backup manifest is not a JSON object");
    }
    // Checked first: another version may not even have the fields this one requires.
    String version = tree.path("formatVersion").asText(null);
    if (!FORMAT_VERSION.equals(version)) {
      throw new IllegalArgumentException(
          "backup manifest formatVersion is "
              + version
              + ", this Bastida reads only "
              + FORMAT_VERSION);
    }
    try {
      return JSON.treeToValue(tree, BackupManifest.class);
    } catch (JsonMappingException e) {
      throw new IllegalArgumentException("invalid backup manifest: " + explain(e, tree), e);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("invalid backup manifest: " + e.getOriginalMessage(), e);
    }
  }

  /** The Full at the root of this backup's chain has chain length 1 and no parent. */
  private static void checkChain(
      BackupMode mode, String backupName, String parent, String chainBase, int chainLength) {
    if (mode == BackupMode.Full
        && (parent != null || chainLength != 1 || !chainBase.equals(backupName))) {
      throw new IllegalArgumentException(
          "a full backup has no parentBackupName, chainLength 1 and itself as chainBaseName");
    }
    if (mode == BackupMode.Incremental
        && (parent == null || chainLength < 2 || chainBase.equals(backupName))) {
      throw new IllegalArgumentException(
          "an incremental backup has a parentBackupName, a chainLength of at least 2"
              + " and another backup as chainBaseName");
    }
  }

  private static <T> T required(T value, String field) {
    if (value == null || value instanceof String text && text.isBlank()) {
      throw new IllegalArgumentException(field + " is required");
    }
    return value;
  }

  // The tree must still open after it is moved or mounted elsewhere.
  private static void relative(String path, String field) {
    if (path.startsWith("/") || path.contains("://")) {
      throw new IllegalArgumentException(field + " must be a relative path: " + path);
    }
  }

  /** Where in the manifest the mapping failed, e.g. {@code disks[1].sha256}, and why. */
  private static String explain(JsonMappingException e, JsonNode tree) {
    var where = new StringBuilder();
    JsonNode node = tree;
    for (JsonMappingException.Reference step : e.getPath()) {
      if (step.getFieldName() != null) {
        where.append(where.isEmpty() ? "" : ".").append(step.getFieldName());
        node = node.path(step.getFieldName());
      } else {
        where.append('[').append(step.getIndex()).append(']');
        node = node.path(step.getIndex());
      }
    }
    if (e.getCause() instanceof IllegalArgumentException invalid) {
      // Thrown by a record's own checks, which name the field themselves.
      return where.isEmpty() ? invalid.getMessage() : where + ": " + invalid.getMessage();
    }
    if (node.isMissingNode() || node.isNull()) {
      return where + " is required";
    }
    return where + ": " + e.getOriginalMessage();
  }
}
