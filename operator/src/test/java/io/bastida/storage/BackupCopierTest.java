package io.bastida.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.storage.BackupCopier.Extent;
import io.bastida.storage.QemuImg.QemuImgException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupCopierTest {
  private static final String NBD = "nbd://10.77.0.1:10871/vda";
  private static final String FULL = "nfs://10.77.0.10/export/b/full-vda.qcow2";
  private static final String INC = "nfs://10.77.0.10/export/b/inc-vda.qcow2";
  private static final long MIB = 1 << 20;

  // Shaped like qemu-img 7.2's map of a 128 MiB export through its dirty bitmap, with 16M+6M and
  // 100M+1M written since the checkpoint: the dirty ranges come back as "data": false.
  private static final String DIRTY_MAP =
      """
      [{ "start": 0, "length": 16777216, "depth": 0, "present": true, "zero": false, "data": true},
      { "start": 16777216, "length": 4194304, "depth": 0, "present": false, "zero": false, "data": false},
      { "start": 20971520, "length": 2097152, "depth": 0, "present": false, "zero": true, "data": false},
      { "start": 23068672, "length": 81788928, "depth": 0, "present": true, "zero": false, "data": true},
      { "start": 104857600, "length": 1048576, "depth": 0, "present": false, "zero": false, "data": false},
      { "start": 105906176, "length": 28311552, "depth": 0, "present": true, "zero": false, "data": true}]
      """;

  // Shaped like a plain qemu-img map of the same export: 48 MiB of data, the rest zeros.
  private static final String DATA_MAP =
      """
      [{ "start": 0, "length": 50331648, "depth": 0, "present": true, "zero": false, "data": true},
      { "start": 50331648, "length": 83886080, "depth": 0, "present": true, "zero": true, "data": false}]
      """;

  @TempDir Path dir;

  @Test
  void dirtyExtentsAreTheRangesTheBitmapReportsAsNoData() throws IOException {
    assertThat(BackupCopier.dirtyExtents(DIRTY_MAP))
        .containsExactly(new Extent(16 * MIB, 6 * MIB), new Extent(100 * MIB, MIB));
    assertThat(BackupCopier.dirtyExtents("[]")).isEmpty();
  }

  @Test
  void dataBytesCountAllocatedNonZeroRanges() throws IOException {
    assertThat(BackupCopier.dataBytes(DATA_MAP)).isEqualTo(48 * MIB);
  }

  @Test
  void unreadableMapsAreErrorsNotEmptyDiffs() {
    for (String output : List.of("", "{}", "[{\"start\": 0}]", "[{\"start\": 0, \"length\": 1")) {
      assertThatThrownBy(() -> BackupCopier.dirtyExtents(output))
          .as(output)
          .isInstanceOf(QemuImgException.class);
    }
  }

  @Test
  void theDirtyMapReadsTheBitmapThroughNbdOptions() {
    assertThat(BackupCopier.dirtyMapArguments("10.77.0.1", 10871, "vda", "qemu:dirty-bitmap:b,x"))
        .containsExactly(
            "map",
            "--output=json",
            "--image-opts",
            "driver=nbd,server.type=inet,server.host=10.77.0.1,server.port=10871,export=vda,"
                + "x-dirty-bitmap=qemu:dirty-bitmap:b,,x");
  }

  @Test
  void copiesConvertToQcow2WithAnOptionalRateLimit() {
    assertThat(BackupCopier.convertArguments("raw", NBD, FULL, null))
        .containsExactly("convert", "-f", "raw", "-O", "qcow2", NBD, FULL);
    assertThat(BackupCopier.convertArguments("qcow2", INC, FULL, 64 * MIB))
        .containsExactly("convert", "-f", "qcow2", "-O", "qcow2", "-r", "67108864", INC, FULL);
    assertThatThrownBy(() -> BackupCopier.convertArguments("raw", NBD, FULL, 0L))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anIncrementalIsAnOverlayOfTheExportRebasedOntoItsParent() {
    assertThat(BackupCopier.overlayArguments(NBD, INC, 128 * MIB))
        .containsExactly("create", "-f", "qcow2", "-u", "-F", "raw", "-b", NBD, INC, "134217728");
    assertThat(BackupCopier.rebaseArguments(INC, FULL))
        .containsExactly("rebase", "-u", "-F", "qcow2", "-b", FULL, INC);
  }

  @Test
  void dirtyExtentsAreReadWithCopyOnReadInOneProcessWhenFew() {
    assertThat(
            BackupCopier.copyOnReadArguments(
                List.of(new Extent(16 * MIB, 6 * MIB), new Extent(100 * MIB, MIB)), INC))
        .containsExactly(
            List.of(
                "-C",
                "-f",
                "qcow2",
                "-c",
                "aio_read -q 16777216 6291456",
                "-c",
                "aio_read -q 104857600 1048576",
                "-c",
                "aio_flush",
                INC));
    assertThat(BackupCopier.copyOnReadArguments(List.of(), INC)).isEmpty();
  }

  @Test
  void largeExtentsAreSplitAndReadsInFlightBounded() {
    long length = 3 * BackupCopier.MAX_BYTES_IN_FLIGHT;
    List<List<String>> runs = BackupCopier.copyOnReadArguments(List.of(new Extent(0, length)), INC);

    assertThat(runs).hasSize(1);
    List<String> commands = commandsOf(runs.get(0));
    long inFlight = 0;
    long read = 0;
    for (String command : commands) {
      if (command.equals("aio_flush")) {
        inFlight = 0;
        continue;
      }
      String[] parts = command.split(" ");
      long offset = Long.parseLong(parts[2]);
      long size = Long.parseLong(parts[3]);
      assertThat(offset).isEqualTo(read);
      assertThat(size).isLessThanOrEqualTo(BackupCopier.MAX_READ_BYTES);
      inFlight += size;
      read += size;
      assertThat(inFlight).isLessThanOrEqualTo(BackupCopier.MAX_BYTES_IN_FLIGHT);
    }
    assertThat(read).isEqualTo(length);
    assertThat(commands).last().isEqualTo("aio_flush");
  }

  @Test
  void manyExtentsAreSpreadOverSeveralProcessesEachEndingInAFlush() {
    List<Extent> extents = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      extents.add(new Extent(i * 2 * 65536L, 65536));
    }

    List<List<String>> runs = BackupCopier.copyOnReadArguments(extents, INC);

    assertThat(runs).hasSize(3);
    assertThat(runs)
        .allSatisfy(
            run -> {
              assertThat(commandsOf(run))
                  .hasSizeLessThanOrEqualTo(BackupCopier.MAX_COMMANDS_PER_PROCESS);
              assertThat(commandsOf(run)).last().isEqualTo("aio_flush");
              assertThat(run).last().isEqualTo(INC);
            });
    assertThat(
            runs.stream()
                .mapToLong(
                    run -> commandsOf(run).stream().filter(c -> c.startsWith("aio_read")).count())
                .sum())
        .isEqualTo(10_000);
  }

  @Test
  void copyIncrementalRunsMapOverlayReadsAndRebaseInThatOrder() throws IOException {
    Path log = dir.resolve("log");
    Path map = dir.resolve("map.json");
    Files.writeString(map, DIRTY_MAP);
    BackupCopier copier =
        new BackupCopier(
            script(
                "qemu-img",
                "echo \"qemu-img $1\" >> " + log + "; [ \"$1\" = map ] && cat " + map + "; exit 0"),
            script("qemu-io", "echo \"qemu-io $@\" >> " + log),
            Duration.ofSeconds(10));

    var result =
        copier.copyIncremental(
            "10.77.0.1", 10871, "vda", "qemu:dirty-bitmap:backup-vda", INC, FULL, 128 * MIB);

    assertThat(result.bytesCopied()).isEqualTo(7 * MIB);
    assertThat(Files.readAllLines(log))
        .containsExactly(
            "qemu-img map",
            "qemu-img create",
            "qemu-io -C -f qcow2 -c aio_read -q 16777216 6291456 -c aio_read -q 104857600 1048576"
                + " -c aio_flush "
                + INC,
            "qemu-img rebase");
  }

  @Test
  void compareTellsIdenticalFromDifferentAndFailsOnErrors() throws IOException {
    assertThat(copierWithQemuImg("exit 0").identical(NBD, "raw", FULL)).isTrue();
    assertThat(
            copierWithQemuImg("echo 'Content mismatch at offset 0!'; exit 1")
                .identical(NBD, "raw", FULL))
        .isFalse();
    assertThatThrownBy(
            () ->
                copierWithQemuImg("echo \"qemu-img: Could not open '" + NBD + "'\" >&2; exit 2")
                    .identical(NBD, "raw", FULL))
        .isInstanceOf(QemuImgException.class)
        .hasMessageContaining("Could not open");
  }

  @Test
  void checkFailsWithWhatQemuImgFound() throws IOException {
    copierWithQemuImg("echo 'No errors were found on the image.'").check(FULL);

    assertThatThrownBy(
            () ->
                copierWithQemuImg(
                        "echo 'ERROR cluster 5 refcount=0 reference=1'; echo '1 errors were found on"
                            + " the image.'; exit 2")
                    .check(FULL))
        .isInstanceOfSatisfying(QemuImgException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("ERROR cluster 5");
  }

  private static List<String> commandsOf(List<String> qemuIoArguments) {
    List<String> commands = new ArrayList<>();
    for (int i = 0; i < qemuIoArguments.size() - 1; i++) {
      if (qemuIoArguments.get(i).equals("-c")) {
        commands.add(qemuIoArguments.get(i + 1));
      }
    }
    return commands;
  }

  private BackupCopier copierWithQemuImg(String body) throws IOException {
    return new BackupCopier(
        script("qemu-img", body), script("qemu-io", "exit 1"), Duration.ofSeconds(10));
  }

  private String script(String name, String body) throws IOException {
    Path binary = dir.resolve(name);
    Files.writeString(binary, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(binary, PosixFilePermissions.fromString("rwx------"));
    return binary.toString();
  }
}
