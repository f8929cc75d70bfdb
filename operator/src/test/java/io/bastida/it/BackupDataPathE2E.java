package io.bastida.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.ConnectionTarget;
import io.bastida.hypervisor.Credentials;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.hypervisor.libvirt.LibvirtConnector;
import io.bastida.operator.vm.domain.DomainPlan;
import io.bastida.operator.vm.domain.DomainPlan.Bus;
import io.bastida.operator.vm.domain.DomainPlan.Cpu;
import io.bastida.operator.vm.domain.DomainPlan.Disk;
import io.bastida.operator.vm.domain.DomainPlan.DiskSource;
import io.bastida.operator.vm.domain.DomainPlan.Firmware;
import io.bastida.operator.vm.domain.DomainPlan.KernelBoot;
import io.bastida.operator.vm.domain.DomainPlan.Owner;
import io.bastida.operator.vm.domain.DomainXml;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.BackupCopier.CopyResult;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;

/**
 * The backup data path at port level on a real testbed host: a running guest's NFS disk is backed
 * up in full and then incrementally through libvirt pull-mode backups ({@link Hypervisor}), copied
 * off their NBD exports onto the NFS export ({@link BackupCopier}), and compared with the
 * point-in-time content while the jobs run. The guest's writes are made from the host side, at
 * known places, through QEMU's monitor.
 */
class BackupDataPathE2E {
  private static final String DOMAIN = "dp2-datapath";
  private static final String RUN = UUID.randomUUID().toString().substring(0, 8);
  private static final long DISK_BYTES = 128L << 20;
  private static final long RANDOM_BYTES = 48L << 20;
  // Two writes, 7 MiB in all (5.5 % of the disk): one over random data, one over zeros.
  private static final List<String> GUEST_WRITES =
      List.of("write -P 0x5a 16M 6M", "write -P 0xa5 100M 1M");
  private static final long WRITTEN_BYTES = 7L << 20;
  private static final int NBD_PORT = 10871;
  private static final String FIRST = "dp2-ck1-" + RUN;
  private static final String SECOND = "dp2-ck2-" + RUN;
  private static final String ABANDONED = "dp2-ck3-" + RUN;

  private static Testbed testbed;
  private static LibvirtConnector connector;
  private static Hypervisor hostA;
  private static BackupCopier copier;

  @BeforeAll
  static void connect() throws Exception {
    testbed = Testbed.get();
    connector = new LibvirtConnector(Duration.ofSeconds(5));
    hostA =
        connector.open(
            "hA",
            new ConnectionTarget(LibvirtUri.parse(testbed.tcpUri("hA")), Credentials.NONE, false));
    copier = new BackupCopier(Duration.ofMinutes(5));
    removeOurDomain();
  }

  @AfterAll
  static void cleanUp() throws Exception {
    try {
      removeOurDomain();
      try (var images = Files.newDirectoryStream(testbed.nfsDirectory(), DOMAIN + "-*.qcow2")) {
        for (Path image : images) {
          Files.delete(image);
        }
      }
    } finally {
      hostA.close();
      connector.close();
    }
  }

  @Test
  void fullThenIncrementalBackupEqualTheDiskAtEachJobsStart() throws Exception {
    String disk = nfsUrl("disk");
    String full = nfsUrl("full");
    String incremental = nfsUrl("inc");
    String restored = nfsUrl("restored");
    createDiskWithRandomData(disk);
    startGuest(disk);

    PullBackupRequest fullRequest =
        new PullBackupRequest(testbed.ip("hA"), NBD_PORT, List.of("vda"), null, FIRST);
    long started = System.nanoTime();
    BackupExport fullExport = hostA.beginPullBackup(DOMAIN, fullRequest);
    long beginMillis = millisSince(started);
    assertThat(fullExport.dirtyBitmapByDisk()).isEmpty();
    assertThat(hostA.beginPullBackup(DOMAIN, fullRequest))
        .as("no second job")
        .isEqualTo(fullExport);
    assertThat(hostA.runningBackup(DOMAIN)).contains(fullExport);

    started = System.nanoTime();
    CopyResult fullCopy = copier.copyFull(fullExport.nbdUrl("vda"), full, null);
    long fullCopyMillis = millisSince(started);
    started = System.nanoTime();
    assertThat(copier.identical(fullExport.nbdUrl("vda"), "raw", full)).isTrue();
    long compareMillis = millisSince(started);
    copier.check(full);
    hostA.endBackup(DOMAIN);
    assertThat(hostA.runningBackup(DOMAIN)).isEmpty();
    hostA.endBackup(DOMAIN); // no job any more: fine
    assertThat(fullCopy.bytesCopied()).isEqualTo(RANDOM_BYTES);

    for (String write : GUEST_WRITES) {
      writeFromTheHost(write);
    }

    PullBackupRequest incrementalRequest =
        new PullBackupRequest(testbed.ip("hA"), NBD_PORT, List.of("vda"), FIRST, SECOND);
    BackupExport incrementalExport = hostA.beginPullBackup(DOMAIN, incrementalRequest);
    assertThat(incrementalExport.dirtyBitmapByDisk())
        .containsEntry("vda", "qemu:dirty-bitmap:backup-vda");
    assertThat(copier.identical(incrementalExport.nbdUrl("vda"), "raw", full))
        .as("the disk changed since the full backup")
        .isFalse();
    started = System.nanoTime();
    CopyResult incrementalCopy =
        copier.copyIncremental(
            incrementalExport.host(),
            incrementalExport.port(),
            incrementalExport.exportByDisk().get("vda"),
            incrementalExport.dirtyBitmapByDisk().get("vda"),
            incremental,
            full,
            DISK_BYTES);
    long incrementalCopyMillis = millisSince(started);
    assertThat(copier.identical(incrementalExport.nbdUrl("vda"), "raw", incremental))
        .as("the chain full <- incremental is the disk at the job's start")
        .isTrue();
    copier.check(incremental);
    hostA.endBackup(DOMAIN);
    assertThat(incrementalCopy.bytesCopied())
        .as("the dirty ranges, in 64 KiB bitmap granules")
        .isBetween(WRITTEN_BYTES, WRITTEN_BYTES + (256L << 10));
    assertThat(hostA.checkpoints(DOMAIN)).containsExactly(FIRST, SECOND);

    // The guest wrote nothing since: the chain, now backed by the full image alone, is its disk.
    assertThat(copier.identical(disk, "qcow2", incremental)).isTrue();
    started = System.nanoTime();
    CopyResult restore = copier.copyImage(incremental, restored, 64L << 20);
    long restoreMillis = millisSince(started);
    assertThat(copier.identical(disk, "qcow2", restored)).isTrue();
    assertThat(restore.bytesCopied()).isGreaterThanOrEqualTo(RANDOM_BYTES);

    // A job that failed: its new checkpoint stays, and is deleted by the caller.
    hostA.beginPullBackup(
        DOMAIN,
        new PullBackupRequest(testbed.ip("hA"), NBD_PORT, List.of("vda"), SECOND, ABANDONED));
    hostA.endBackup(DOMAIN);
    assertThat(hostA.checkpoints(DOMAIN)).containsExactly(FIRST, SECOND, ABANDONED);
    hostA.deleteCheckpoint(DOMAIN, ABANDONED);
    hostA.deleteCheckpoint(DOMAIN, FIRST);
    hostA.deleteCheckpoint(DOMAIN, FIRST); // gone: fine
    assertThat(hostA.checkpoints(DOMAIN)).containsExactly(SECOND);

    System.out.printf(
        "BackupDataPathE2E: begin %d ms; full copy %d ms (%d bytes); compare %d ms; incremental"
            + " copy %d ms (%d bytes); restore at 64 MiB/s %d ms (%d bytes)%n",
        beginMillis,
        fullCopyMillis,
        fullCopy.bytesCopied(),
        compareMillis,
        incrementalCopyMillis,
        incrementalCopy.bytesCopied(),
        restoreMillis,
        restore.bytesCopied());
  }

  /** A qcow2 image on the NFS export whose first {@link #RANDOM_BYTES} are random. */
  private static void createDiskWithRandomData(String url) throws Exception {
    Path raw = Files.createTempFile(DOMAIN, ".raw");
    try {
      byte[] chunk = new byte[1 << 20];
      Random random = new Random(42);
      try (RandomAccessFile file = new RandomAccessFile(raw.toFile(), "rw")) {
        for (long written = 0; written < RANDOM_BYTES; written += chunk.length) {
          random.nextBytes(chunk);
          file.write(chunk);
        }
        file.setLength(DISK_BYTES); // the rest a hole: unallocated in the image
      }
      run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), url);
    } finally {
      Files.delete(raw);
    }
  }

  private static void startGuest(String diskUrl) throws Exception {
    Path guestDir = Testbed.guest();
    String diskPath = diskUrl.substring(("nfs://" + testbed.nfsServer()).length());
    DomainPlan plan =
        new DomainPlan(
            DOMAIN,
            UUID.randomUUID(),
            new Owner("dp2", DOMAIN, UUID.randomUUID().toString()),
            "qemu",
            new Cpu(1, 1, 1, 1, null),
            128,
            128,
            Firmware.BIOS,
            new KernelBoot(
                guestDir.resolve("vmlinuz").toString(),
                guestDir.resolve("initramfs.cpio.gz").toString(),
                "console=ttyS0 quiet bastida.tick=0"),
            List.of(
                new Disk(
                    "root",
                    "vda",
                    Bus.virtio,
                    null,
                    false,
                    false,
                    "qcow2",
                    new DiskSource.Nfs(testbed.nfsServer(), diskPath))),
            List.of(),
            List.of(),
            null,
            false,
            "/var/log/libvirt/qemu/" + DOMAIN + "-serial.log");
    hostA.defineDomain(DomainXml.render(plan));
    hostA.startDomain(DOMAIN);
  }

  /** Runs a qemu-io command on the guest's disk inside QEMU, as if the guest wrote. */
  private static void writeFromTheHost(String qemuIoCommand) throws Exception {
    Connect libvirt = new Connect(testbed.tcpUri("hA"), false);
    try {
      var domain = libvirt.domainLookupByName(DOMAIN);
      JsonNode blocks =
          new ObjectMapper()
              .readTree(domain.qemuMonitorCommand("{\"execute\":\"query-block\"}", 0))
              .path("return");
      String device = null;
      for (JsonNode block : blocks) {
        if (block.has("inserted") && !block.path("qdev").asText().isEmpty()) {
          device = block.path("qdev").asText();
        }
      }
      assertThat(device).as("the disk's device in QEMU").isNotNull();
      String reply =
          domain.qemuMonitorCommand(
              "qemu-io -d " + device + " \"" + qemuIoCommand + "\"", MONITOR_HMP);
      assertThat(reply).doesNotContain("error", "failed");
    } finally {
      libvirt.close();
    }
  }

  // VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
  private static final int MONITOR_HMP = 1;

  private static String nfsUrl(String role) {
    return "nfs://"
        + testbed.nfsServer()
        + testbed.nfsExport()
        + "/"
        + DOMAIN
        + "-"
        + RUN
        + "-"
        + role
        + ".qcow2";
  }

  private static void removeOurDomain() throws Exception {
    if (hostA.findDomain(DOMAIN).isPresent()) {
      hostA.destroyDomain(DOMAIN);
      hostA.undefineDomain(DOMAIN);
    }
    Path logs = testbed.qemuLogBacking("hA");
    Files.deleteIfExists(logs.resolve(DOMAIN + "-serial.log"));
    Files.deleteIfExists(logs.resolve(DOMAIN + ".log"));
  }

  private static void run(String... command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }
}
