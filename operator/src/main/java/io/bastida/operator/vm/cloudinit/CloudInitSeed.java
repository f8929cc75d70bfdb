package io.bastida.operator.vm.cloudinit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The files of a cloud-init NoCloud seed. Pure.
 *
 * @param metaData {@code meta-data}: instance id and host name, as YAML
 * @param userData {@code user-data}, exactly as the user wrote it
 * @param networkConfig {@code network-config}, or null to leave the guest's network to cloud-init
 */
public record CloudInitSeed(String metaData, String userData, String networkConfig) {

  /** What a VM without user data gets: a valid cloud-config that asks for nothing. */
  public static final String EMPTY_USER_DATA = "#cloud-config\n{}\n";

  // Strings are always quoted, so a name such as "123" or "true" stays a string.
  private static final YAMLMapper YAML =
      YAMLMapper.builder().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).build();

  public CloudInitSeed {
    Objects.requireNonNull(metaData, "metaData");
    Objects.requireNonNull(userData, "userData");
  }

  /**
   * The seed of a VM. The instance id is the resource's UID, so a re-created VM is a new instance
   * to cloud-init and runs its first-boot modules again.
   *
   * @param userData the user's user-data, or null for {@link #EMPTY_USER_DATA}
   * @param networkData the user's network-config, or null for none
   */
  public static CloudInitSeed of(String name, String uid, String userData, String networkData) {
    Map<String, String> metaData = new LinkedHashMap<>();
    metaData.put("instance-id", Objects.requireNonNull(uid, "uid"));
    metaData.put("local-hostname", Objects.requireNonNull(name, "name"));
    try {
      return new CloudInitSeed(
          YAML.writeValueAsString(metaData),
          userData == null ? EMPTY_USER_DATA : userData,
          networkData);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write meta-data", e);
    }
  }

  /** SHA-256 of the three files, in hex: it changes exactly when the image would. */
  public String digest() {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    // Length-prefixed, so that text moving from one file to the next changes the digest too.
    for (String file : new String[] {metaData, userData, networkConfig}) {
      if (file == null) {
        sha.update(ByteBuffer.allocate(Long.BYTES).putLong(-1).array());
        continue;
      }
      byte[] bytes = file.getBytes(StandardCharsets.UTF_8);
      sha.update(ByteBuffer.allocate(Long.BYTES).putLong(bytes.length).array());
      sha.update(bytes);
    }
    return HexFormat.of().formatHex(sha.digest());
  }
}
