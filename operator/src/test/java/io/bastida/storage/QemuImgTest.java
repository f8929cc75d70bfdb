package io.bastida.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.QemuImg.ImageInfo;
import io.bastida.storage.QemuImg.QemuImgException;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class QemuImgTest {
  private static final String URL = "nfs://10.77.0.10/export/vm-1.qcow2";

  // qemu-img 7.2 info --output=json of a 64 MiB image it had just created on nfs-ganesha.
  private static final String INFO_QCOW2 =
      """
      {
          "virtual-size": 67108864,
          "filename": "nfs://10.77.0.10/export/probe-manual1.qcow2",
          "cluster-size": 65536,
          "format": "qcow2",
          "actual-size": 200704,
          "format-specific": {
              "type": "qcow2",
              "data": {
                  "compat": "1.1",
                  "compression-type": "zlib",
                  "lazy-refcounts": false,
                  "refcount-bits": 16,
                  "corrupt": false,
                  "extended-l2": false
              }
          },
          "dirty-flag": false
      }
      """;

  // qemu-img 7.2's complaints, captured against nfs-ganesha and a local path.
  private static final String NFS_NOENT =
      "qemu-img: Could not open 'nfs://10.77.0.10/export/missing.qcow2': Failed to open file :"
          + " open call failed with \"NFS: Lookup of /missing.qcow2 failed with"
          + " NFS3ERR_NOENT(-2)\"";
  private static final String LOCAL_NOENT =
      "qemu-img: Could not open '/tmp/nonexist.qcow2': Could not open '/tmp/nonexist.qcow2': No"
          + " such file or directory";
  private static final String MOUNT_ACCES =
      "qemu-img: Could not open 'nfs://10.77.0.10/nope/missing.qcow2': Failed to mount nfs share:"
          + " mount_cb: RPC error: Mount failed with error MNT3ERR_ACCES(13) Permission denied(13)";
  private static final String MOUNT_NOENT =
      "qemu-img: Could not open 'nfs://nas/gone/a.qcow2': Failed to mount nfs share: mount_cb:"
          + " RPC error: Mount failed with error MNT3ERR_NOENT(2) No such file or directory(2)";
  private static final String UNREACHABLE =
      "qemu-img: Could not open 'nfs://10.77.0.11/export/missing.qcow2': Failed to mount nfs"
          + " share: nfs_service failed";

  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({
    "10.77.0.10, /export, vm-1.qcow2, nfs://10.77.0.10/export/vm-1.qcow2",
    "nas.school.lan, /volume1/vms/, web_disk-0.qcow2, nfs://nas.school.lan/volume1/vms/web_disk-0.qcow2",
    "nas, /a.b/c-d_e, X, nfs://nas/a.b/c-d_e/X",
  })
  void nfsUrlJoinsCheckedParts(String server, String export, String file, String url) {
    assertThat(QemuImg.nfsUrl(server, export, file)).isEqualTo(url);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        ".",
        "..",
        "a/b",
        "../x.qcow2",
        "x..qcow2",
        "disk 1.qcow2",
        "a?b",
        "a#b",
        "a%2Fb",
        "a;rm",
        "ü.qcow2",
        "a\nb"
      })
  void nfsUrlRefusesFileNamesThatAreNotPlainNames(String file) {
    assertThatThrownBy(() -> QemuImg.nfsUrl("nas", "/export", file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("file name");
  }

  @Test
  void nfsUrlRefusesLongFileNames() {
    assertThat(QemuImg.nfsUrl("nas", "/e", "x".repeat(255))).endsWith("/e/" + "x".repeat(255));
    assertThatThrownBy(() -> QemuImg.nfsUrl("nas", "/e", "x".repeat(256)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "/", "export", "/a//b", "/a/../b", "/a/./b", "/a b", "/a?x=1"})
  void nfsUrlRefusesOddExportPaths(String export) {
    assertThatThrownBy(() -> QemuImg.nfsUrl("nas", export, "a.qcow2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("export path");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "fd00::1", "[fd00::1]", "user@nas", "nas:2049", "nas/x", "-nas"})
  void nfsUrlRefusesWhatIsNotAHostNameOrIpv4Address(String server) {
    assertThatThrownBy(() -> QemuImg.nfsUrl(server, "/export", "a.qcow2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("NFS server");
  }

  @Test
  void createMakesAThinQcow2AndInfoAsksForJsonWithoutTakingLocks() {
    assertThat(QemuImg.createArguments(URL, 64L << 20))
        .containsExactly("create", "-f", "qcow2", "-o", "preallocation=off", URL, "67108864");
    assertThat(QemuImg.infoArguments(URL)).containsExactly("info", "-U", "--output=json", URL);
  }

  @Test
  void infoJsonParses() throws IOException {
    assertThat(QemuImg.parseInfo(INFO_QCOW2))
        .isEqualTo(new ImageInfo("qcow2", 67_108_864, 200_704));
  }

  @Test
  void infoJsonTellsTheRamStateEachInternalSnapshotHolds() throws IOException {
    String json =
        "{\"format\": \"qcow2\", \"virtual-size\": 1024, \"snapshots\": ["
            + "{\"name\": \"with-ram\", \"vm-state-size\": 41943040},"
            + "{\"name\": \"disk-only\", \"vm-state-size\": 0}]}";

    assertThat(QemuImg.parseInfo(json).savedStateBytes())
        .containsOnly(Map.entry("with-ram", 41_943_040L), Map.entry("disk-only", 0L));
  }

  @Test
  void infoJsonWithoutActualSizeParses() throws IOException {
    assertThat(QemuImg.parseInfo("{\"format\": \"raw\", \"virtual-size\": 512}"))
        .isEqualTo(new ImageInfo("raw", 512, -1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "[]", "{\"format\": \"raw\"}", "{\"virtual-size\": 1}", "{oops"})
  void infoJsonWithoutFormatOrSizeIsRefused(String json) {
    assertThatThrownBy(() -> QemuImg.parseInfo(json)).isInstanceOf(IOException.class);
  }

  @Test
  void aMissingFileIsToldApartFromOtherFailures() {
    assertThat(QemuImg.isNoSuchFile(NFS_NOENT)).isTrue();
    assertThat(QemuImg.isNoSuchFile(LOCAL_NOENT)).isTrue();
    assertThat(QemuImg.isNoSuchFile(MOUNT_ACCES)).isFalse();
    assertThat(QemuImg.isNoSuchFile(MOUNT_NOENT)).as("a missing export is an error").isFalse();
    assertThat(QemuImg.isNoSuchFile(UNREACHABLE)).isFalse();
  }

  // The tests below run a stand-in for qemu-img: a shell script that prints what the real one
  // would, so the process handling is tested without QEMU.

  @Test
  void infoOfAMissingFileIsEmpty() throws IOException {
    QemuImg qemuImg = stub("echo \"" + NFS_NOENT.replace("\"", "\\\"") + "\" >&2; exit 1");

    assertThat(qemuImg.info(URL)).isEmpty();
  }

  @Test
  void infoReturnsWhatQemuImgPrints() throws IOException {
    QemuImg qemuImg = stub("cat <<'END'\n" + INFO_QCOW2 + "END");

    assertThat(qemuImg.info(URL)).contains(new ImageInfo("qcow2", 67_108_864, 200_704));
  }

  @Test
  void otherFailuresCarryTheCommandAndQemuImgsMessage() throws IOException {
    QemuImg qemuImg = stub("echo \"" + MOUNT_ACCES + "\" >&2; exit 1");

    assertThatThrownBy(() -> qemuImg.info(URL))
        .isInstanceOfSatisfying(
            QemuImgException.class,
            e -> {
              assertThat(e.exitCode()).isEqualTo(1);
              assertThat(e.stderr()).isEqualTo(MOUNT_ACCES);
            })
        .hasMessageEndingWith("info -U --output=json " + URL + " failed (exit 1): " + MOUNT_ACCES);
  }

  @Test
  void createRefusesToOverwriteAnExistingImage() throws IOException {
    Path created = dir.resolve("created");
    QemuImg qemuImg =
        stub(
            "case \"$1\" in info) echo '{\"format\":\"qcow2\",\"virtual-size\":1}';;"
                + " create) touch "
                + created
                + ";; esac");

    assertThatThrownBy(() -> qemuImg.create(URL, 1 << 20))
        .isInstanceOf(FileAlreadyExistsException.class)
        .hasMessageContaining(URL);
    assertThat(created).doesNotExist();
  }

  @Test
  void createRunsQemuImgCreateWhenNothingIsThere() throws IOException {
    Path arguments = dir.resolve("arguments");
    QemuImg qemuImg =
        stub(
            "case \"$1\" in info) echo \""
                + LOCAL_NOENT
                + "\" >&2; exit 1;;"
                + " create) echo \"$@\" > "
                + arguments
                + ";; esac");

    qemuImg.create(URL, 64L << 20);

    assertThat(arguments)
        .content()
        .isEqualTo("create -f qcow2 -o preallocation=off " + URL + " 67108864\n");
  }

  @Test
  void createRefusesEmptySizes() throws IOException {
    QemuImg qemuImg = stub("exit 0");

    assertThatThrownBy(() -> qemuImg.create(URL, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aHangingQemuImgIsStoppedAtTheTimeout() throws IOException {
    QemuImg qemuImg = stub("exec sleep 30", Duration.ofMillis(300));

    long start = System.nanoTime();
    assertThatThrownBy(() -> qemuImg.info(URL))
        .isInstanceOfSatisfying(QemuImgException.class, e -> assertThat(e.exitCode()).isEqualTo(-1))
        .hasMessageContaining("timed out");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void aMissingBinaryIsAClearError() {
    QemuImg qemuImg = new QemuImg(dir.resolve("no-qemu-img").toString(), Duration.ofSeconds(5));

    assertThatThrownBy(() -> qemuImg.info(URL))
        .isInstanceOf(QemuImgException.class)
        .hasMessageStartingWith("cannot run " + dir.resolve("no-qemu-img"));
  }

  @Test
  void timeoutMustBePositive() {
    assertThatThrownBy(() -> new QemuImg(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private QemuImg stub(String script) throws IOException {
    return stub(script, Duration.ofSeconds(10));
  }

  private QemuImg stub(String script, Duration timeout) throws IOException {
    Path binary = dir.resolve("qemu-img");
    Files.writeString(binary, "#!/bin/sh\n" + script + "\n");
    Files.setPosixFilePermissions(binary, PosixFilePermissions.fromString("rwx------"));
    return new QemuImg(binary.toString(), timeout);
  }
}
