package io.bastida.operator.vm.cloudinit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SeedImageTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final int SECTOR = 2048;
  // Multi-document YAML, CRLF, a BOM, emoji, right-to-left and combining characters, shell syntax.
  private static final String HOSTILE_USER_DATA =
      "#cloud-config\r\n---\nruncmd: [\"echo $(id) `x` \\\\ ; rm -rf /\"]\n...\n---\n"
          + "\uFEFF🚀 עברית e\u0301 \u202Eevil\u202C ﷽ \uD834\uDD1E\ttrailing \n";

  @TempDir Path dir;

  static Stream<Named<List<String>>> mkisofs() {
    return Stream.of(
        Named.of("genisoimage", List.of("genisoimage")),
        Named.of("xorriso", List.of("xorriso", "-as", "mkisofs")));
  }

  @ParameterizedTest
  @MethodSource("mkisofs")
  void imageIsIso9660LabelledCidataWithTheFilesUnderTheirNames(List<String> mkisofs)
      throws Exception {
    CloudInitSeed seed =
        CloudInitSeed.of("web", "uid-1", HOSTILE_USER_DATA, "version: 2\nethernets: {}\n");

    Path image = Files.write(dir.resolve("seed.iso"), build(mkisofs, seed));

    byte[] bytes = Files.readAllBytes(image);
    int pvd = 16 * SECTOR;
    assertThat(bytes[pvd]).as("primary volume descriptor type").isEqualTo((byte) 1);
    assertThat(text(bytes, pvd + 1, pvd + 6)).isEqualTo("CD001");
    assertThat(text(bytes, pvd + 40, pvd + 72)).isEqualTo(String.format("%-32s", "cidata"));
    assertThat(isoinfo(image, "-f").lines())
        .containsExactlyInAnyOrder("/meta-data", "/user-data", "/network-config");
    assertThat(isoinfo(image, "-x", "/meta-data")).isEqualTo(seed.metaData());
    assertThat(isoinfo(image, "-x", "/user-data")).isEqualTo(HOSTILE_USER_DATA);
    assertThat(isoinfo(image, "-x", "/network-config")).isEqualTo(seed.networkConfig());
  }

  @Test
  void withoutNetworkConfigTheImageHasNone() throws Exception {
    Path image =
        Files.write(
            dir.resolve("seed.iso"),
            build(List.of("genisoimage"), CloudInitSeed.of("web", "uid-1", null, null)));

    assertThat(isoinfo(image, "-f").lines()).containsExactlyInAnyOrder("/meta-data", "/user-data");
    assertThat(isoinfo(image, "-x", "/user-data")).isEqualTo(CloudInitSeed.EMPTY_USER_DATA);
  }

  @Test
  void argumentsAreAListWithTheLabelJolietAndRockRidge() {
    SeedImage seedImage = new SeedImage(List.of("genisoimage"), TIMEOUT);

    assertThat(seedImage.arguments(Path.of("/w/cidata.iso"), Path.of("/w/content")))
        .containsExactly(
            "genisoimage",
            "-output",
            "/w/cidata.iso",
            "-volid",
            "cidata",
            "-joliet",
            "-rock",
            "/w/content");
  }

  // The tests below run a stand-in for genisoimage: a shell script.

  @Test
  void failureCarriesTheErrorOutputAndStagingIsPrivateAndRemoved() throws IOException {
    Path seen = dir.resolve("seen");
    SeedImage seedImage =
        stub(
            "w=$(dirname \"$2\"); { echo \"$w\"; stat -c %a \"$w\"; ls \"$7\"; } > "
                + seen
                + "; echo 'genisoimage: No space left on device' >&2; exit 3",
            TIMEOUT);

    assertThatThrownBy(() -> seedImage.build(CloudInitSeed.of("web", "uid-1", null, "x")))
        .isInstanceOf(IOException.class)
        .hasMessageEndingWith("failed (exit 3): genisoimage: No space left on device");
    List<String> lines = Files.readAllLines(seen);
    assertThat(lines.get(1)).as("staging directory mode").isEqualTo("700");
    assertThat(lines.subList(2, lines.size()))
        .containsExactly("meta-data", "network-config", "user-data");
    assertThat(Path.of(lines.get(0))).doesNotExist();
  }

  @Test
  void aHangingCommandIsStoppedAtTheTimeout() throws IOException {
    SeedImage seedImage = stub("exec sleep 30", Duration.ofMillis(300));

    long start = System.nanoTime();
    assertThatThrownBy(() -> seedImage.build(CloudInitSeed.of("web", "uid-1", null, null)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("timed out");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void aMissingBinaryIsAClearError() {
    SeedImage seedImage = new SeedImage(List.of(dir.resolve("none").toString()), TIMEOUT);

    assertThatThrownBy(() -> seedImage.build(CloudInitSeed.of("web", "uid-1", null, null)))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("cannot run " + dir.resolve("none"));
  }

  private static byte[] build(List<String> mkisofs, CloudInitSeed seed) throws IOException {
    Assumptions.assumeTrue(onPath(mkisofs.get(0)), mkisofs.get(0) + " not installed");
    return new SeedImage(mkisofs, TIMEOUT).build(seed);
  }

  private static String isoinfo(Path image, String... arguments) throws Exception {
    Assumptions.assumeTrue(onPath("isoinfo"), "isoinfo (genisoimage) not installed");
    List<String> command =
        Stream.concat(Stream.of("isoinfo", "-R", "-i", image.toString()), Arrays.stream(arguments))
            .toList();
    Process process =
        new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as(String.join(" ", command)).isZero();
    return output;
  }

  private static String text(byte[] bytes, int from, int to) {
    return new String(bytes, from, to - from, StandardCharsets.US_ASCII);
  }

  private static boolean onPath(String command) {
    return Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .anyMatch(directory -> Files.isExecutable(Path.of(directory, command)));
  }

  private SeedImage stub(String script, Duration timeout) throws IOException {
    Path binary = dir.resolve("genisoimage");
    Files.writeString(binary, "#!/bin/sh\n" + script + "\n");
    Files.setPosixFilePermissions(binary, PosixFilePermissions.fromString("rwx------"));
    return new SeedImage(List.of(binary.toString()), timeout);
  }
}
