package io.bastida.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bastida.hypervisor.ConnectionTarget;
import io.bastida.hypervisor.Credentials;
import io.bastida.hypervisor.HostFile;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.libvirt.LibvirtConnector;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Files on a real testbed host through libvirt alone (the port's host-file calls, which keep
 * backups on a host's local storage), checked against the host's directory as this namespace sees
 * it.
 */
class HostFilesE2E {
  private static final String RUN = UUID.randomUUID().toString().substring(0, 8);

  private static Testbed testbed;
  private static LibvirtConnector connector;
  private static Hypervisor hostA;
  private static String root;
  private static Path rootSeenHere;

  @BeforeAll
  static void connect() throws Exception {
    testbed = Testbed.get();
    connector = new LibvirtConnector(Duration.ofSeconds(5));
    hostA =
        connector.open(
            "hA",
            new ConnectionTarget(LibvirtUri.parse(testbed.tcpUri("hA")), Credentials.NONE, false));
    root = testbed.localDir() + "/hostfiles-" + RUN;
    rootSeenHere = testbed.localDirBacking("hA").resolve("hostfiles-" + RUN);
  }

  @AfterAll
  static void cleanUp() throws Exception {
    try {
      if (Files.exists(rootSeenHere)) {
        try (var walk = Files.walk(rootSeenHere)) {
          walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    } finally {
      hostA.close();
      connector.close();
    }
  }

  @Test
  void directoriesAndFilesAreMadeReadHashedListedAndDeleted() throws Exception {
    String folder = root + "/a/b";
    assertThat(hostA.listHostDirectory(folder)).as("missing directory").isEmpty();

    hostA.makeHostDirectory(folder);
    byte[] manifest = "{\"backup\":\"x\"}\n".getBytes(StandardCharsets.UTF_8);
    hostA.writeHostFile(folder + "/manifest.json", manifest);
    byte[] big = new byte[3 << 20];
    new Random(7).nextBytes(big);
    hostA.writeHostFile(folder + "/big.bin", big);
    hostA.writeHostFile(folder + "/manifest.json", "{}".getBytes(StandardCharsets.UTF_8));

    assertThat(Files.readString(rootSeenHere.resolve("a/b/manifest.json"))).isEqualTo("{}");
    assertThat(hostA.readHostFile(folder + "/big.bin", big.length)).isEqualTo(big);
    assertThatThrownBy(() -> hostA.readHostFile(folder + "/big.bin", 1024))
        .isInstanceOf(HypervisorException.class)
        .hasMessageContaining("larger than 1024");
    assertThat(hostA.sha256OfHostFile(folder + "/big.bin"))
        .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(big)));
    assertThat(hostA.listHostDirectory(root + "/a")).containsExactly(new HostFile("b", true, 0));
    assertThat(hostA.listHostDirectory(folder))
        .containsExactly(
            new HostFile("big.bin", false, big.length), new HostFile("manifest.json", false, 2));

    assertThatThrownBy(() -> hostA.deleteHostPath(root + "/a"))
        .as("a directory that is not empty stays")
        .isInstanceOf(HypervisorException.class);
    hostA.deleteHostPath(folder + "/big.bin");
    hostA.deleteHostPath(folder + "/manifest.json");
    hostA.deleteHostPath(folder + "/manifest.json"); // gone: fine
    hostA.deleteHostPath(root + "/never/made.json"); // its directory too: fine
    hostA.deleteHostPath(folder);
    hostA.deleteHostPath(root + "/a");
    assertThat(rootSeenHere.resolve("a")).doesNotExist();
  }

  @Test
  void imagesAreCreatedOverABackingImageAndCopiedFlattened() throws Exception {
    String folder = root + "/images";
    hostA.makeHostDirectory(folder);
    hostA.createHostImage(folder + "/base.qcow2", 8 << 20, null);
    hostA.createHostImage(folder + "/top.qcow2", 8 << 20, folder + "/base.qcow2");

    JsonNode top = info(rootSeenHere.resolve("images/top.qcow2"));
    assertThat(top.path("backing-filename").asText()).isEqualTo(folder + "/base.qcow2");
    assertThat(top.path("virtual-size").asLong()).isEqualTo(8 << 20);
    assertThat(top.path("format-specific").path("data").path("compat").asText())
        .as("qcow2 v3: checkpoint bitmaps fit")
        .isEqualTo("1.1");

    hostA.copyHostImage(folder + "/top.qcow2", folder + "/flat.qcow2");
    JsonNode flat = info(rootSeenHere.resolve("images/flat.qcow2"));
    assertThat(flat.has("backing-filename")).isFalse();
    assertThat(flat.path("virtual-size").asLong()).isEqualTo(8 << 20);
  }

  private static JsonNode info(Path image) throws Exception {
    Process process =
        new ProcessBuilder("qemu-img", "info", "--output=json", image.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as(out).isZero();
    return new ObjectMapper().readTree(out);
  }
}
