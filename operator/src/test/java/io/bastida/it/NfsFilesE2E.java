package io.bastida.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.bastida.storage.nfs.NfsEntry;
import io.bastida.storage.nfs.NfsEntry.Type;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link NfsFiles} against the testbed's nfs-ganesha export, checked through the export's directory
 * on the local disk. Every run uses fresh names: nfs-ganesha serves a name that was removed and
 * made again behind its back from its cache.
 */
class NfsFilesE2E {
  private static final String RUN = "nfsfiles-e2e-" + UUID.randomUUID();

  private final NfsFiles files = new NfsFiles(Duration.ofSeconds(10));
  private Testbed testbed;
  private String server;
  private String export;

  @BeforeEach
  void setUp() {
    testbed = Testbed.get();
    server = testbed.nfsServer();
    export = testbed.nfsExport();
  }

  @AfterEach
  void cleanUp() throws NfsException {
    files.removeTree(server, export, RUN);
  }

  @Test
  void backupFolderHoldsFilesThatReadBackAndThenGoesAway() throws Exception {
    String backup = RUN + "/default/web/b1";
    files.mkdirs(server, export, backup);
    files.mkdirs(server, export, backup); // again: nothing to do
    byte[] manifest = "{\"disks\":[\"root\"]}".getBytes(StandardCharsets.UTF_8);
    byte[] domainXml = randomBytes(3 * 1024 * 1024 + 5); // several READ and WRITE chunks

    files.writeFile(server, export, backup + "/manifest.json", manifest);
    files.writeFile(server, export, backup + "/domain.xml", domainXml);

    assertThat(files.readFile(server, export, backup + "/manifest.json", 1024)).isEqualTo(manifest);
    assertThat(files.readFile(server, export, backup + "/domain.xml", domainXml.length))
        .isEqualTo(domainXml);
    assertThat(Files.readAllBytes(local(backup + "/domain.xml"))).isEqualTo(domainXml);
    assertThat(files.sha256(server, export, backup + "/domain.xml")).isEqualTo(sha256(domainXml));
    // No temporary file is left next to the written ones.
    assertThat(files.list(server, export, backup))
        .containsExactly(
            new NfsEntry("domain.xml", Type.FILE, domainXml.length),
            new NfsEntry("manifest.json", Type.FILE, manifest.length));
    assertThat(files.list(server, export, RUN + "/default"))
        .extracting(NfsEntry::name, NfsEntry::type)
        .containsExactly(tuple("web", Type.DIRECTORY));
    assertThat(files.stat(server, export, backup + "/manifest.json"))
        .contains(new NfsEntry("manifest.json", Type.FILE, manifest.length));
    assertThat(files.stat(server, export, backup + "/vm.json")).isEmpty();
    assertThatThrownBy(() -> files.readFile(server, export, backup + "/manifest.json", 4))
        .isInstanceOf(NfsException.class)
        .hasMessageContaining(backup + "/manifest.json");

    files.removeTree(server, export, RUN);

    assertThat(files.stat(server, export, RUN)).isEmpty();
    assertThat(local(RUN)).doesNotExist();
    files.removeTree(server, export, RUN); // already gone
  }

  @Test
  void rewrittenFileReplacesTheOldOne() throws Exception {
    String dir = RUN + "/rewrite";
    files.mkdirs(server, export, dir);
    byte[] first = "first and longer".getBytes(StandardCharsets.UTF_8);
    byte[] second = "second".getBytes(StandardCharsets.UTF_8);

    files.writeFile(server, export, dir + "/vm.json", first);
    files.writeFile(server, export, dir + "/vm.json", second);

    assertThat(Files.readAllBytes(local(dir + "/vm.json"))).isEqualTo(second);
    assertThat(files.list(server, export, dir))
        .extracting(NfsEntry::name)
        .containsExactly("vm.json");
  }

  @Test
  void sha256OfAQemuImageMatchesTheFileOnTheServersDisk() throws Exception {
    files.mkdirs(server, export, RUN + "/images");
    String image = RUN + "/images/x.qcow2";
    Process qemuImg =
        new ProcessBuilder(
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "nfs://" + server + export + "/" + image,
                "64M")
            .redirectErrorStream(true)
            .start();
    String output = new String(qemuImg.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(qemuImg.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(qemuImg.exitValue()).as(output).isZero();

    assertThat(files.sha256(server, export, image))
        .isEqualTo(sha256(Files.readAllBytes(local(image))));
    assertThat(files.stat(server, export, image).orElseThrow().sizeBytes())
        .isEqualTo(Files.size(local(image)));

    files.remove(server, export, image);
    files.remove(server, export, image); // already gone

    assertThat(local(image)).doesNotExist();
  }

  @Test
  void missingFileIsAnErrorNamingItsPath() {
    assertThatThrownBy(() -> files.sha256(server, export, RUN + "/missing.qcow2"))
        .isInstanceOf(NfsException.class)
        .hasMessage(
            "LOOKUP of "
                + RUN
                + "/missing.qcow2 in "
                + server
                + ":"
                + export
                + " failed: NFS3ERR_NOENT (2)");
  }

  private Path local(String path) {
    return testbed.nfsDirectory().resolve(path);
  }

  private static byte[] randomBytes(int length) {
    byte[] bytes = new byte[length];
    new Random(42).nextBytes(bytes);
    return bytes;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
