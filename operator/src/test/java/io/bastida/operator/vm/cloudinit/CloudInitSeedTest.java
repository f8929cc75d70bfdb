package io.bastida.operator.vm.cloudinit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CloudInitSeedTest {
  private static final String UID = "6f1c2b4e-9a57-4d0b-8a1e-3c2d5e7f9a10";
  private static final String USER_DATA = "#cloud-config\npackages: [nginx]\n";
  private static final String NETWORK = "version: 2\nethernets: {eth0: {dhcp4: true}}\n";

  @Test
  void metaDataNamesTheInstanceByUidAndTheHostByName() throws Exception {
    CloudInitSeed seed = CloudInitSeed.of("web", UID, USER_DATA, null);

    assertThat(parse(seed.metaData()))
        .containsExactly(Map.entry("instance-id", UID), Map.entry("local-hostname", "web"));
  }

  // Names YAML would otherwise read as numbers, booleans or null.
  @ParameterizedTest
  @ValueSource(strings = {"123", "true", "null", "1e3", "0x1f", "web.school"})
  void metaDataKeepsEveryNameAString(String name) throws Exception {
    assertThat(parse(CloudInitSeed.of(name, UID, null, null).metaData()))
        .containsEntry("local-hostname", name);
  }

  @Test
  void userAndNetworkDataPassThroughUnchanged() {
    String userData = "#cloud-config\r\n---\nruncmd: [\"echo $(id) \\\\ 'é' 🚀\"]\n...\n\uFEFF";

    CloudInitSeed seed = CloudInitSeed.of("web", UID, userData, NETWORK);

    assertThat(seed.userData()).isEqualTo(userData);
    assertThat(seed.networkConfig()).isEqualTo(NETWORK);
  }

  @Test
  void withoutUserDataTheGuestGetsAnEmptyCloudConfigAndNoNetworkConfig() throws Exception {
    CloudInitSeed seed = CloudInitSeed.of("web", UID, null, null);

    assertThat(seed.userData())
        .isEqualTo(CloudInitSeed.EMPTY_USER_DATA)
        .startsWith("#cloud-config\n");
    assertThat(parse(seed.userData())).isEmpty();
    assertThat(seed.networkConfig()).isNull();
  }

  @Test
  void digestIsStableHexAndChangesWithEveryFile() {
    CloudInitSeed seed = CloudInitSeed.of("web", UID, USER_DATA, NETWORK);

    assertThat(seed.digest())
        .matches("[0-9a-f]{64}")
        .isEqualTo(CloudInitSeed.of("web", UID, USER_DATA, NETWORK).digest())
        .isNotEqualTo(CloudInitSeed.of("web", "other-uid", USER_DATA, NETWORK).digest())
        .isNotEqualTo(CloudInitSeed.of("db", UID, USER_DATA, NETWORK).digest())
        .isNotEqualTo(CloudInitSeed.of("web", UID, USER_DATA + " ", NETWORK).digest())
        .isNotEqualTo(CloudInitSeed.of("web", UID, USER_DATA, NETWORK + "\n").digest())
        .isNotEqualTo(CloudInitSeed.of("web", UID, USER_DATA, null).digest());
  }

  @Test
  void digestTellsApartTextMovedBetweenFilesAndNoFileFromAnEmptyOne() {
    assertThat(new CloudInitSeed("m", "ab", "c").digest())
        .isNotEqualTo(new CloudInitSeed("m", "a", "bc").digest());
    assertThat(new CloudInitSeed("m", "u", null).digest())
        .isNotEqualTo(new CloudInitSeed("m", "u", "").digest());
  }

  private static Map<String, Object> parse(String yaml) throws Exception {
    Map<String, Object> map = new YAMLMapper().readValue(yaml, new TypeReference<>() {});
    return map == null ? Map.of() : map;
  }
}
