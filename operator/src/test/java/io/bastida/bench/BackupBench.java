package io.bastida.bench;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupSpec;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.it.Resources;
import io.bastida.it.TestCluster;
import io.bastida.it.Testbed;
import io.bastida.operator.status.Conditions;
import io.bastida.storage.nfs.NfsFiles;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.libvirt.Connect;
import org.libvirt.Domain;

/**
 * Backups through the operator against a bare {@code qemu-img convert} of the same running guest's
 * disk to the same NFS export, in one run (run by {@code bench/backup.sh}, never by the test
 * suite). See bench/backup.sh for what is measured and how.
 *
 * <p>Every name carries the run's id (namespace, Host, StorageDomain and its export folder, backup
 * folders, baseline files): nfs-ganesha caches names that were deleted and made again, and the
 * testbed is shared with other tests.
 *
 * <p>System properties: {@code bench.operatorJar} (required), {@code bench.out} (JSON), {@code
 * bench.operatorLog}, {@code bench.operatorJvmOpts}, {@code bench.rounds} (3), {@code
 * bench.diskMiB} (1024), {@code bench.dataPercent} (70), {@code bench.changePercent} (5), {@code
 * bench.pauseMillis} (2000), {@code bench.pollMillis} (20).
 */
public final class BackupBench {
  private static final String RUN_ID =
      LocalDateTime.now().format(DateTimeFormatter.ofPattern("MMddHHmmss"));
  private static final String PREFIX = "bench-backup-";
  private static final String NS = PREFIX + RUN_ID;
  private static final String HOST = PREFIX + RUN_ID + "-ha";
  private static final String TESTBED_HOST = "hA";
  // Also the export folder the StorageDomain owns: /export/<STORAGE>.
  private static final String STORAGE = PREFIX + RUN_ID;
  // Backups kept on the host itself (push mode), in the host's private directory.
  private static final String LOCAL_STORAGE = PREFIX + RUN_ID + "-local";
  private static final String VM = "guest";
  private static final String DOMAIN = NS + "_" + VM;
  private static final String DISK_VOLUME = "guest-disk.qcow2";
  // Unique on the testbed's guest segment: other tests and benchmarks use .150-.231.
  private static final String GUEST_IP = "10.77.1.241";
  private static final Map<String, String> LABELS = Map.of("bastida.io/bench", "backup-" + RUN_ID);
  private static final long MIB = 1024 * 1024;
  private static final Duration BACKUP_TIMEOUT = Duration.ofMinutes(10);
  private static final Duration DELETE_TIMEOUT = Duration.ofMinutes(2);

  private final int diskMiB = Integer.getInteger("bench.diskMiB", 1024);
  private final int dataPercent = Integer.getInteger("bench.dataPercent", 70);
  private final int changePercent = Integer.getInteger("bench.changePercent", 5);
  private final long pauseMillis = Long.getLong("bench.pauseMillis", 2000);

  private final Map<String, Object> result = new LinkedHashMap<>();
  private final List<Map<String, Object>> rounds = new ArrayList<>();
  private final Map<String, Long> completeSeenAt = new ConcurrentHashMap<>();
  private final Map<String, String> failedSeen = new ConcurrentHashMap<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final NfsFiles nfs = new NfsFiles(Duration.ofMinutes(2));
  private final List<String> baselineFiles = new ArrayList<>();
  private Testbed testbed;
  private KubernetesClient client;
  private Watch backupWatch;
  private Process operator;
  private Path operatorLog;
  private ChildProcessTimeline operatorChildren;
  private long t0;

  public static void main(String[] args) throws Exception {
    int exit = 1;
    try {
      exit = new BackupBench().run() ? 0 : 2;
    } catch (Throwable t) {
      t.printStackTrace(System.out);
    } finally {
      System.exit(exit); // shutdown hooks stop the API server and etcd
    }
  }

  private boolean run() throws Exception {
    Path out = Path.of(System.getProperty("bench.out", "backup.json"));
    operatorLog = Path.of(System.getProperty("bench.operatorLog", "operator.log"));
    t0 = System.currentTimeMillis();
    result.put("startedAt", Instant.now().toString());
    result.put("runId", RUN_ID);
    result.put("cpus", Runtime.getRuntime().availableProcessors());
    result.put("namespace", NS);
    boolean done = false;
    try {
      testbed = Testbed.get();
      Path guestDir = Testbed.guest();
      removeEarlierRuns();
      log("starting the API server (kube-api-test) and installing the CRDs");
      TestCluster cluster = TestCluster.get();
      client = cluster.newClient();
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
          .serverSideApply();
      watchBackups();
      startOperator(cluster.kubeconfig());
      long pollMillis = Long.getLong("bench.pollMillis", 20);
      operatorChildren = new ChildProcessTimeline(operator.toHandle(), pollMillis);
      result.put("childProcessPollMillis", pollMillis);
      setUp(guestDir);
      int count = Integer.getInteger("bench.rounds", 3);
      for (int round = 1; round <= count; round++) {
        rounds.add(round(round));
      }
      done = true;
    } catch (Exception | AssertionError e) {
      log("FAILED: " + e);
      e.printStackTrace(System.out);
      result.put("error", e.toString());
    } finally {
      guarded("clean-up", this::cleanUp);
      result.put("rounds", rounds);
      try {
        result.put("summary", summary());
      } catch (RuntimeException e) {
        e.printStackTrace(System.out);
        result.put("summary", Map.of());
      }
      result.put("completed", done);
      result.put("totalSeconds", (System.currentTimeMillis() - t0) / 1000.0);
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(
          out,
          Serialization.jsonMapper().writerWithDefaultPrettyPrinter().writeValueAsString(result));
      printTable(out);
    }
    return done;
  }

  // ---------------------------------------------------------------------------------------------
  // Set-up

  private void setUp(Path guestDir) throws Exception {
    long start = System.currentTimeMillis();
    Files.createDirectories(exportDir());
    client
        .resource(
            Resources.emulated(
                Resources.withLabels(
                    Resources.host(HOST, testbed.tcpUri(TESTBED_HOST)),
                    new LinkedHashMap<>(LABELS))))
        .create();
    Resources.awaitCondition(
        () -> client.resources(Host.class).withName(HOST).get(), "Ready", Resources.status("True"));
    client
        .resource(
            Resources.selecting(
                Resources.nativeNfsDomain(STORAGE, testbed.nfsServer(), exportPath()), LABELS))
        .create();
    Resources.awaitCondition(
        () -> client.resources(StorageDomain.class).withName(STORAGE).get(),
        "Ready",
        Resources.status("True"));
    StorageDomain local =
        Resources.selecting(
            Resources.localDomain(LOCAL_STORAGE, testbed.localDir() + "/" + LOCAL_STORAGE), LABELS);
    local.getSpec().setContent(List.of(StorageContent.Backups));
    client.resource(local).create();
    Resources.awaitCondition(
        () -> client.resources(StorageDomain.class).withName(LOCAL_STORAGE).get(),
        "Ready",
        Resources.status("True"));
    writeGuestDisk();
    VirtualMachine vm = testbed.tinyGuestVm(NS, VM, GUEST_IP, guestDir, STORAGE, LABELS);
    VirtualMachineSpec.Disk disk = vm.getSpec().disks.get(0);
    disk.blank = null;
    disk.image = new VirtualMachineSpec.VolumeRef();
    disk.image.storageDomainName = STORAGE;
    disk.image.volume = DISK_VOLUME;
    client.resource(vm).create();
    await(
        "VM " + VM + " Ready",
        Duration.ofSeconds(180),
        () -> {
          VirtualMachine current =
              client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).get();
          return current != null
              && current.getStatus() != null
              && Conditions.isTrue(current.getStatus().conditions, "Ready");
        });
    await("the guest answers HTTP", Duration.ofSeconds(180), this::guestAnswers);
    result.put("setUpSeconds", (System.currentTimeMillis() - start) / 1000.0);
    log("guest " + VM + " up at " + GUEST_IP + "; settling");
    Thread.sleep(3000);
  }

  /**
   * The guest's disk, before it boots: a {@code diskMiB} qcow2 on the export with {@code
   * dataPercent} of its MiB blocks random (spread evenly, holes between), written as a sparse raw
   * file here and converted onto the export with qemu-img (which skips the holes).
   */
  private void writeGuestDisk() throws Exception {
    Path raw = Files.createTempFile("bastida-bench-backup-", ".raw");
    try {
      SplittableRandom random = new SplittableRandom();
      byte[] block = new byte[(int) MIB];
      long written = 0;
      try (RandomAccessFile file = new RandomAccessFile(raw.toFile(), "rw")) {
        file.setLength(diskMiB * MIB);
        for (long i = 0; i < diskMiB; i++) {
          // Block i holds data when the running share of data blocks steps up here.
          if ((i + 1) * dataPercent / 100 > i * dataPercent / 100) {
            random.nextBytes(block);
            file.seek(i * MIB);
            file.write(block);
            written++;
          }
        }
      }
      long start = System.currentTimeMillis();
      run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), diskUrl());
      Map<String, Object> disk = new LinkedHashMap<>();
      disk.put("url", diskUrl());
      disk.put("virtualMiB", diskMiB);
      disk.put("randomMiBWritten", written);
      disk.put("dataMiB", round(dataBytes() / (double) MIB));
      disk.put("fileMiB", round(Files.size(exportDir().resolve(DISK_VOLUME)) / (double) MIB));
      disk.put("writeSeconds", (System.currentTimeMillis() - start) / 1000.0);
      result.put("disk", disk);
      log("wrote the guest's disk: " + disk);
    } finally {
      Files.deleteIfExists(raw);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One round: a full backup and a bare copy (alternating which goes first), a change from inside
  // the guest, an incremental backup; then both backups are deleted.

  private Map<String, Object> round(int round) throws Exception {
    Map<String, Object> sample = new LinkedHashMap<>();
    sample.put("round", round);
    long data = dataBytes();
    sample.put("diskDataMiB", round(data / (double) MIB));
    boolean bareFirst = round % 2 == 1;
    sample.put("first", bareFirst ? "bare" : "operator");
    String full = "full-" + round;
    String incremental = "incremental-" + round;
    if (bareFirst) {
      sample.put("bare", bareCopy(round, data));
      pause();
      sample.put("full", operatorBackup(full, BackupMode.Full, data));
    } else {
      sample.put("full", operatorBackup(full, BackupMode.Full, data));
      pause();
      sample.put("bare", bareCopy(round, data));
    }
    pause();
    sample.put("guestChange", changeFromTheGuest(round));
    pause();
    Map<String, Object> incrementalSample = operatorBackup(incremental, BackupMode.Incremental, 0);
    sample.put("incremental", incrementalSample);
    if (!full.equals(incrementalSample.get("parent"))) {
      throw new IllegalStateException(
          incremental + " was not built on " + full + ": " + incrementalSample);
    }
    deleteBackup(incremental);
    deleteBackup(full);
    pause();
    // The same disk into the host's own local storage: the operator's push-mode backup against
    // QEMU's bare push of it, the same job without the operator.
    String localFull = "local-full-" + round;
    if (bareFirst) {
      sample.put("barePush", barePush(round, data));
      pause();
      sample.put("localFull", localBackup(localFull, data));
    } else {
      sample.put("localFull", localBackup(localFull, data));
      pause();
      sample.put("barePush", barePush(round, data));
    }
    log("round " + round + ": " + brief(sample));
    deleteBackup(localFull);
    pause();
    return sample;
  }

  /**
   * A VirtualMachineBackup made and timed from this client: create → the watch sees Complete. The
   * operator's qemu-img runs in the meantime show where the time went; afterwards (untimed) the
   * stored image is checked and checksummed again by this process with the operator's own tools, to
   * tell those apart from the rest of the time after the copy.
   */
  private Map<String, Object> operatorBackup(String name, BackupMode mode, long dataBytes)
      throws Exception {
    Map<String, Object> sample = new LinkedHashMap<>();
    VirtualMachineBackup backup = new VirtualMachineBackup();
    backup.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    VirtualMachineBackupSpec spec = new VirtualMachineBackupSpec();
    spec.vmName = VM;
    spec.storageDomainName = STORAGE;
    spec.mode = mode;
    backup.setSpec(spec);
    double busyBefore = ProcessStats.machineBusySeconds();
    double operatorCpuBefore = ProcessStats.cpuSeconds(operator.pid());
    long created = System.currentTimeMillis();
    client.resource(backup).create();
    await(
        "backup " + name + " Complete",
        BACKUP_TIMEOUT,
        () -> {
          if (failedSeen.containsKey(name)) {
            throw new IllegalStateException("backup " + name + " failed: " + failedSeen.get(name));
          }
          return completeSeenAt.containsKey(name);
        },
        20);
    long complete = completeSeenAt.get(name);
    long millis = complete - created;
    sample.put("wallMillis", millis);
    sample.put("machineBusyPercent", busyPercent(busyBefore, millis));
    sample.put(
        "operatorCpuSeconds", round(ProcessStats.cpuSeconds(operator.pid()) - operatorCpuBefore));
    if (dataBytes > 0) {
      sample.put("diskDataMiBPerSecond", round(dataBytes / (double) MIB / (millis / 1000.0)));
    }
    VirtualMachineBackup done =
        client.resources(VirtualMachineBackup.class).inNamespace(NS).withName(name).get();
    var status = done.getStatus();
    sample.put("mode", status.mode.toString());
    sample.put("parent", status.parentBackupName);
    sample.put("storedBytes", status.totalBytes);
    sample.put("storedMiB", round(status.totalBytes / (double) MIB));
    sample.put("statusStartTime", status.startTime);
    sample.put("statusCompletionTime", status.completionTime);
    // This backup's tools only (its folder or libvirt's NBD export), not the VM reconciler's.
    List<ChildProcessTimeline.ChildRun> tools =
        operatorChildren.between(created, complete).stream()
            .filter(
                t -> {
                  String command = String.join(" ", t.command());
                  return command.contains("/" + name + "/") || command.contains("nbd");
                })
            .toList();
    sample.put("operatorTools", toolRuns(tools, created));
    sample.put("phases", phases(tools, created, complete));
    if (dataBytes > 0) {
      tools.stream()
          .filter(t -> t.tool().equals("qemu-img convert"))
          .findFirst()
          .ifPresent(
              convert ->
                  sample.put(
                      "copyMiBPerSecond",
                      round(dataBytes / (double) MIB / (convert.millis() / 1000.0))));
    }
    String image = status.location + "/" + status.disks.get(0).file;
    sample.put(
        "checkMillisMeasuredAfter",
        timed(() -> run("qemu-img", "check", "-f", "qcow2", url(image))));
    sample.put(
        "sha256MillisMeasuredAfter",
        timed(() -> nfs.sha256(testbed.nfsServer(), exportPath(), image)));
    return sample;
  }

  /**
   * Where the time between create and Complete went, from the operator's child processes:
   * beforeCopy (admission, status write, libvirt's backup job, folders), copy (first tool's start →
   * the end of the last copying tool: qemu-img map + convert for a full; map, create, qemu-io,
   * rebase for an incremental), afterCopy (qemu-img check and info, the sha256 over NFS, manifest,
   * the end of the libvirt job, the status write and the watch).
   */
  private static Map<String, Object> phases(
      List<ChildProcessTimeline.ChildRun> tools, long created, long complete) {
    Map<String, Object> phases = new LinkedHashMap<>();
    List<ChildProcessTimeline.ChildRun> copying =
        tools.stream()
            .filter(t -> !t.tool().equals("qemu-img check") && !t.tool().equals("qemu-img info"))
            .toList();
    if (copying.isEmpty()) {
      return phases;
    }
    long copyStart = copying.get(0).startMs();
    long copyEnd = copying.stream().mapToLong(ChildProcessTimeline.ChildRun::endMs).max().orElse(0);
    phases.put("beforeCopyMillis", copyStart - created);
    phases.put("copyMillis", copyEnd - copyStart);
    tools.stream()
        .filter(t -> t.tool().equals("qemu-img convert"))
        .findFirst()
        .ifPresent(convert -> phases.put("convertMillis", convert.millis()));
    phases.put("afterCopyMillis", complete - copyEnd);
    return phases;
  }

  private static List<Map<String, Object>> toolRuns(
      List<ChildProcessTimeline.ChildRun> tools, long created) {
    List<Map<String, Object>> runs = new ArrayList<>();
    for (ChildProcessTimeline.ChildRun tool : tools) {
      Map<String, Object> run = new LinkedHashMap<>();
      run.put("tool", tool.tool());
      run.put("startAfterCreateMillis", tool.startMs() - created);
      run.put("millis", tool.millis());
      run.put("command", String.join(" ", tool.command()));
      runs.add(run);
    }
    return runs;
  }

  /**
   * The baseline: qemu-img convert of the running guest's disk (-U: QEMU has it open) to a new
   * qcow2 on the same export, what a person would type. Then, apart, the same check and checksum a
   * backup does, so the bare job can be compared whole too.
   */
  private Map<String, Object> bareCopy(int round, long dataBytes) throws Exception {
    String file = "baseline-" + RUN_ID + "-" + round + ".qcow2";
    baselineFiles.add(file);
    Map<String, Object> sample = new LinkedHashMap<>();
    double busyBefore = ProcessStats.machineBusySeconds();
    long millis =
        timed(
            () ->
                run(
                    "qemu-img",
                    "convert",
                    "-U",
                    "-f",
                    "qcow2",
                    "-O",
                    "qcow2",
                    diskUrl(),
                    url(file)));
    sample.put("convertMillis", millis);
    sample.put("machineBusyPercent", busyPercent(busyBefore, millis));
    sample.put("diskDataMiBPerSecond", round(dataBytes / (double) MIB / (millis / 1000.0)));
    sample.put("storedMiB", round(Files.size(exportDir().resolve(file)) / (double) MIB));
    sample.put("checkMillis", timed(() -> run("qemu-img", "check", "-f", "qcow2", url(file))));
    sample.put("sha256Millis", timed(() -> nfs.sha256(testbed.nfsServer(), exportPath(), file)));
    Files.delete(exportDir().resolve(file));
    return sample;
  }

  /** A Full VirtualMachineBackup onto the host's local storage, create → Complete. */
  private Map<String, Object> localBackup(String name, long dataBytes) {
    Map<String, Object> sample = new LinkedHashMap<>();
    VirtualMachineBackup backup = new VirtualMachineBackup();
    backup.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    VirtualMachineBackupSpec spec = new VirtualMachineBackupSpec();
    spec.vmName = VM;
    spec.storageDomainName = LOCAL_STORAGE;
    spec.mode = BackupMode.Full;
    backup.setSpec(spec);
    double busyBefore = ProcessStats.machineBusySeconds();
    long created = System.currentTimeMillis();
    client.resource(backup).create();
    await(
        "backup " + name + " Complete",
        BACKUP_TIMEOUT,
        () -> {
          if (failedSeen.containsKey(name)) {
            throw new IllegalStateException("backup " + name + " failed: " + failedSeen.get(name));
          }
          return completeSeenAt.containsKey(name);
        },
        20);
    long millis = completeSeenAt.get(name) - created;
    sample.put("wallMillis", millis);
    sample.put("machineBusyPercent", busyPercent(busyBefore, millis));
    sample.put("diskDataMiBPerSecond", round(dataBytes / (double) MIB / (millis / 1000.0)));
    var status =
        client
            .resources(VirtualMachineBackup.class)
            .inNamespace(NS)
            .withName(name)
            .get()
            .getStatus();
    sample.put("storedMiB", round(status.totalBytes / (double) MIB));
    return sample;
  }

  /**
   * The local baseline: QEMU's own push-mode backup of the running guest's disk into a new file in
   * the same host directory, begun and watched through libvirt here (begin → the job is gone);
   * then, apart, a sha256 of that file read here, as the operator's is read back.
   */
  private Map<String, Object> barePush(int round, long dataBytes) throws Exception {
    String file = "bare-push-" + RUN_ID + "-" + round + ".qcow2";
    String hostPath = testbed.localDir() + "/" + LOCAL_STORAGE + "/" + file;
    Path seenHere = testbed.localDirBacking(TESTBED_HOST).resolve(LOCAL_STORAGE).resolve(file);
    String xml =
        "<domainbackup mode='push'><disks><disk name='vda' backup='yes' type='file'>"
            + "<target file='"
            + hostPath
            + "'/><driver type='qcow2'/></disk></disks></domainbackup>";
    Map<String, Object> sample = new LinkedHashMap<>();
    Connect libvirt = new Connect(testbed.tcpUri(TESTBED_HOST));
    try {
      Domain domain = libvirt.domainLookupByName(DOMAIN);
      double busyBefore = ProcessStats.machineBusySeconds();
      long started = System.nanoTime();
      domain.backupBegin(xml, null, 0);
      while (domain.getJobStats(0).type != 0) { // VIR_DOMAIN_JOB_NONE: ended
        Thread.sleep(10);
      }
      long millis = (System.nanoTime() - started) / 1_000_000;
      int outcome = domain.getJobStats(1).type; // completed stats: 3 completed, 4 failed
      if (outcome != 3) {
        throw new IllegalStateException("the bare push backup ended with job type " + outcome);
      }
      sample.put("pushMillis", millis);
      sample.put("machineBusyPercent", busyPercent(busyBefore, millis));
      sample.put("diskDataMiBPerSecond", round(dataBytes / (double) MIB / (millis / 1000.0)));
      sample.put("storedMiB", round(Files.size(seenHere) / (double) MIB));
      sample.put("sha256Millis", timed(() -> sha256(seenHere)));
    } finally {
      libvirt.close();
      Files.deleteIfExists(seenHere);
    }
    return sample;
  }

  private static String sha256(Path file) {
    try (var in = Files.newInputStream(file)) {
      var digest = java.security.MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 20];
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
      return java.util.HexFormat.of().formatHex(digest.digest());
    } catch (IOException | java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * changePercent of the disk rewritten with random data by the guest itself, in three ranges (each
   * round elsewhere), each answered only once flushed to the image.
   */
  private Map<String, Object> changeFromTheGuest(int round) throws Exception {
    int pieces = 3;
    int pieceMiB = Math.max(1, Math.round(diskMiB * changePercent / 100f / pieces));
    int third = diskMiB / pieces;
    List<String> ranges = new ArrayList<>();
    long start = System.currentTimeMillis();
    for (int piece = 0; piece < pieces; piece++) {
      int offset = piece * third + (round * 37) % Math.max(1, third - pieceMiB);
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(
                      URI.create(
                          "http://"
                              + GUEST_IP
                              + ":8080/cgi-bin/write?offset="
                              + offset
                              + "&size="
                              + pieceMiB))
                  .timeout(Duration.ofMinutes(5))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200 || !response.body().contains("wrote")) {
        throw new IllegalStateException(
            "the guest's write failed: " + response.statusCode() + " " + response.body());
      }
      ranges.add(offset + "+" + pieceMiB + " MiB");
    }
    Map<String, Object> change = new LinkedHashMap<>();
    change.put("changedMiB", pieces * pieceMiB);
    change.put("percentOfDisk", round(100.0 * pieces * pieceMiB / diskMiB));
    change.put("ranges", ranges);
    change.put("millis", System.currentTimeMillis() - start);
    return change;
  }

  private void deleteBackup(String name) {
    client.resources(VirtualMachineBackup.class).inNamespace(NS).withName(name).delete();
    await(
        "backup " + name + " deleted",
        DELETE_TIMEOUT,
        () ->
            client.resources(VirtualMachineBackup.class).inNamespace(NS).withName(name).get()
                == null);
  }

  /** The allocated, non-zero bytes of the guest's disk, as qemu-img map counts them. */
  private long dataBytes() throws Exception {
    String map = run("qemu-img", "map", "-U", "--output=json", "-f", "qcow2", diskUrl());
    long bytes = 0;
    for (var extent : Serialization.jsonMapper().readTree(map)) {
      if (extent.path("data").asBoolean() && !extent.path("zero").asBoolean()) {
        bytes += extent.path("length").asLong();
      }
    }
    return bytes;
  }

  // ---------------------------------------------------------------------------------------------
  // The operator, as its own JVM

  private void startOperator(Path kubeconfig) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessStats.jdkTool("java").toString());
    String jvmOpts = System.getProperty("bench.operatorJvmOpts", "-Xmx384m -XX:+UseSerialGC");
    command.addAll(Arrays.stream(jvmOpts.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList());
    command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    command.add("-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS");
    command.add("-jar");
    command.add(System.getProperty("bench.operatorJar"));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().put("KUBECONFIG", kubeconfig.toString());
    builder.environment().put("BASTIDA_LEADER_ELECTION", "false");
    builder.environment().put("BASTIDA_HEALTH_PORT", "0");
    builder.environment().put("BASTIDA_NAMESPACE", TestCluster.OPERATOR_NAMESPACE);
    builder
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(operatorLog.toFile()));
    operator = builder.start();
    Process started = operator;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stopOperator(started)));
    result.put(
        "operator",
        Map.of("pid", operator.pid(), "jvmOptions", jvmOpts, "log", operatorLog.toString()));
    log("operator started as pid " + operator.pid() + ", log " + operatorLog);
    await(
        "the operator's backup controller started",
        Duration.ofSeconds(60),
        () -> {
          if (!operator.isAlive()) {
            throw new IllegalStateException("the operator exited: see " + operatorLog);
          }
          try {
            return Files.readString(operatorLog)
                .contains("'virtualmachinebackup' controller started");
          } catch (IOException e) {
            return false;
          }
        });
  }

  private static void stopOperator(Process process) {
    if (process == null || !process.isAlive()) {
      return;
    }
    process.destroy(); // SIGTERM to the PID we started
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void watchBackups() {
    backupWatch =
        client
            .resources(VirtualMachineBackup.class)
            .inNamespace(NS)
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, VirtualMachineBackup backup) {
                    long now = System.currentTimeMillis();
                    var status = backup.getStatus();
                    if (action == Action.DELETED || status == null) {
                      return;
                    }
                    String name = backup.getMetadata().getName();
                    if (Conditions.isTrue(status.conditions, "Complete")) {
                      completeSeenAt.putIfAbsent(name, now);
                    }
                    if (Conditions.isTrue(status.conditions, "Failed")) {
                      failedSeen.putIfAbsent(name, String.valueOf(status.conditions));
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {
                    log("backup watch closed: " + cause);
                  }
                });
  }

  // ---------------------------------------------------------------------------------------------
  // Clean-up

  /** Domains and export folders that a killed earlier run of this benchmark left behind. */
  private void removeEarlierRuns() throws IOException {
    String uri = testbed.tcpUri(TESTBED_HOST);
    for (String domain : Virsh.run(uri, "list", "--all", "--name").orThrow().out().split("\n")) {
      if (domain.strip().startsWith(PREFIX) && domain.strip().endsWith("_" + VM)) {
        log("removing domain " + domain.strip() + " of an earlier run");
        Virsh.run(uri, "destroy", domain.strip());
        Virsh.run(uri, "undefine", "--checkpoints-metadata", domain.strip());
      }
    }
    try (Stream<Path> folders = Files.list(testbed.nfsDirectory())) {
      for (Path folder :
          folders.filter(f -> f.getFileName().toString().startsWith(PREFIX)).toList()) {
        log("removing export folder " + folder + " of an earlier run");
        deleteTree(folder);
      }
    }
  }

  /**
   * Backups (newest first: a parent goes after what is built on it), the VM, the guest's disk and
   * baseline files, the StorageDomain, the Host, the namespace; then the operator. Whatever the
   * operator did not remove is recorded, then removed here.
   */
  private void cleanUp() {
    if (client != null && operator != null && operator.isAlive()) {
      guarded(
          "deleting backups",
          () ->
              client
                  .resources(VirtualMachineBackup.class)
                  .inNamespace(NS)
                  .list()
                  .getItems()
                  .stream()
                  .sorted(
                      Comparator.comparing(
                              (VirtualMachineBackup b) -> b.getMetadata().getCreationTimestamp())
                          .reversed())
                  .forEach(b -> deleteBackup(b.getMetadata().getName())));
      guarded(
          "deleting the VM",
          () -> {
            client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).delete();
            await(
                "VM deleted",
                DELETE_TIMEOUT,
                () ->
                    client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).get()
                        == null);
          });
      guarded(
          "deleting the guest's disk and the baseline files",
          () -> {
            try {
              Files.deleteIfExists(exportDir().resolve(DISK_VOLUME));
              for (String file : baselineFiles) {
                Files.deleteIfExists(exportDir().resolve(file));
              }
            } catch (IOException e) {
              throw new IllegalStateException(e);
            }
          });
      guarded(
          "deleting the StorageDomain",
          () -> {
            client.resources(StorageDomain.class).withName(STORAGE).delete();
            await(
                "StorageDomain deleted",
                DELETE_TIMEOUT,
                () -> client.resources(StorageDomain.class).withName(STORAGE).get() == null);
          });
      guarded(
          "deleting the local StorageDomain",
          () -> {
            client.resources(StorageDomain.class).withName(LOCAL_STORAGE).delete();
            await(
                "local StorageDomain deleted",
                DELETE_TIMEOUT,
                () -> client.resources(StorageDomain.class).withName(LOCAL_STORAGE).get() == null);
          });
      guarded(
          "deleting the Host",
          () -> {
            client.resources(Host.class).withName(HOST).delete();
            await(
                "Host deleted",
                DELETE_TIMEOUT,
                () -> client.resources(Host.class).withName(HOST).get() == null);
          });
      guarded("deleting the namespace", () -> client.namespaces().withName(NS).delete());
    }
    if (backupWatch != null) {
      backupWatch.close();
    }
    if (operatorChildren != null) {
      operatorChildren.close();
    }
    stopOperator(operator);
    guarded(
        "checking for leftovers",
        () -> {
          List<String> leftovers = new ArrayList<>();
          String uri = testbed.tcpUri(TESTBED_HOST);
          if (Virsh.run(uri, "domstate", DOMAIN).exit() == 0) {
            leftovers.add("domain " + DOMAIN);
            Virsh.run(uri, "destroy", DOMAIN);
            Virsh.run(uri, "undefine", "--checkpoints-metadata", DOMAIN);
          }
          try {
            if (Files.exists(exportDir())) {
              try (Stream<Path> tree = Files.walk(exportDir())) {
                tree.filter(p -> !p.equals(exportDir()))
                    .forEach(p -> leftovers.add(exportDir().relativize(p).toString()));
              }
              deleteTree(exportDir());
            }
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
          try {
            Path local = testbed.localDirBacking(TESTBED_HOST).resolve(LOCAL_STORAGE);
            if (Files.exists(local)) {
              try (Stream<Path> tree = Files.walk(local)) {
                tree.filter(p -> !p.equals(local) && !Files.isDirectory(p))
                    .forEach(p -> leftovers.add(LOCAL_STORAGE + "/" + local.relativize(p)));
              }
              deleteTree(local);
            }
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
          result.put("leftAfterCleanUp", leftovers);
          if (!leftovers.isEmpty()) {
            log("removed what the operator left: " + leftovers);
          }
        });
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> tree = Files.walk(root)) {
      for (Path path : tree.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Figures

  private Map<String, Object> summary() {
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("operatorFullMillis", stats(samples("full", "wallMillis")));
    summary.put("operatorFullMiBPerSecond", stats(samples("full", "diskDataMiBPerSecond")));
    summary.put("operatorFullConvertMillis", stats(phaseSamples("full", "convertMillis")));
    summary.put("operatorFullCopyMiBPerSecond", stats(samples("full", "copyMiBPerSecond")));
    summary.put("operatorFullBeforeCopyMillis", stats(phaseSamples("full", "beforeCopyMillis")));
    summary.put("operatorFullCopyPhaseMillis", stats(phaseSamples("full", "copyMillis")));
    summary.put("operatorFullAfterCopyMillis", stats(phaseSamples("full", "afterCopyMillis")));
    summary.put("fullCheckMillisMeasuredAfter", stats(samples("full", "checkMillisMeasuredAfter")));
    summary.put(
        "fullSha256MillisMeasuredAfter", stats(samples("full", "sha256MillisMeasuredAfter")));
    summary.put("operatorFullStoredMiB", stats(samples("full", "storedMiB")));
    summary.put("bareConvertMillis", stats(samples("bare", "convertMillis")));
    summary.put("bareMiBPerSecond", stats(samples("bare", "diskDataMiBPerSecond")));
    summary.put("bareCheckMillis", stats(samples("bare", "checkMillis")));
    summary.put("bareSha256Millis", stats(samples("bare", "sha256Millis")));
    List<Double> bareWhole = new ArrayList<>();
    for (Map<String, Object> round : rounds) {
      Map<?, ?> bare = (Map<?, ?>) round.get("bare");
      bareWhole.add(
          number(bare.get("convertMillis"))
              + number(bare.get("checkMillis"))
              + number(bare.get("sha256Millis")));
    }
    summary.put("bareConvertCheckSha256Millis", stats(bareWhole));
    summary.put("incrementalMillis", stats(samples("incremental", "wallMillis")));
    summary.put("incrementalStoredMiB", stats(samples("incremental", "storedMiB")));
    summary.put("incrementalCopyPhaseMillis", stats(phaseSamples("incremental", "copyMillis")));
    summary.put(
        "incrementalAfterCopyMillis", stats(phaseSamples("incremental", "afterCopyMillis")));
    summary.put(
        "incrementalBeforeCopyMillis", stats(phaseSamples("incremental", "beforeCopyMillis")));
    summary.put("guestChangeMiB", stats(samples("guestChange", "changedMiB")));
    // Throughput ratios are of medians; same bytes on both sides, so they are inverse time ratios.
    summary.put(
        "ratioFullWholeToBareConvert",
        ratio(summary, "operatorFullMiBPerSecond", "bareMiBPerSecond"));
    summary.put(
        "ratioFullConvertToBareConvert",
        ratio(summary, "operatorFullCopyMiBPerSecond", "bareMiBPerSecond"));
    summary.put(
        "ratioFullWholeToBareWhole",
        round(
            median(summary, "bareConvertCheckSha256Millis")
                / median(summary, "operatorFullMillis")));
    // The same, per round (the samples next to each other in time), then their median: less
    // swayed by other work on the machine coming and going between rounds.
    summary.put(
        "pairedRatioFullWholeToBareConvert",
        stats(pairedRatios("bare", "convertMillis", "full", "wallMillis")));
    summary.put(
        "pairedRatioIncrementalTimeToFull",
        stats(pairedRatios("incremental", "wallMillis", "full", "wallMillis")));
    summary.put(
        "incrementalTimeShareOfFull",
        round(median(summary, "incrementalMillis") / median(summary, "operatorFullMillis")));
    summary.put(
        "incrementalBytesShareOfFull",
        round(median(summary, "incrementalStoredMiB") / median(summary, "operatorFullStoredMiB")));
    summary.put("localFullMillis", stats(samples("localFull", "wallMillis")));
    summary.put("localFullMiBPerSecond", stats(samples("localFull", "diskDataMiBPerSecond")));
    summary.put("localFullStoredMiB", stats(samples("localFull", "storedMiB")));
    summary.put("barePushMillis", stats(samples("barePush", "pushMillis")));
    summary.put("barePushMiBPerSecond", stats(samples("barePush", "diskDataMiBPerSecond")));
    summary.put("barePushSha256Millis", stats(samples("barePush", "sha256Millis")));
    summary.put(
        "ratioLocalFullToBarePush",
        ratio(summary, "localFullMiBPerSecond", "barePushMiBPerSecond"));
    summary.put(
        "pairedRatioLocalFullToBarePush",
        stats(pairedRatios("barePush", "pushMillis", "localFull", "wallMillis")));
    return summary;
  }

  private List<Double> samples(String kind, String field) {
    List<Double> values = new ArrayList<>();
    for (Map<String, Object> round : rounds) {
      Object value = ((Map<?, ?>) round.get(kind)).get(field);
      if (value != null) {
        values.add(number(value));
      }
    }
    return values;
  }

  /** Per round: kind's field / baselineKind's baselineField. */
  private List<Double> pairedRatios(
      String kind, String field, String baselineKind, String baselineField) {
    List<Double> ratios = new ArrayList<>();
    for (Map<String, Object> round : rounds) {
      double value = number(((Map<?, ?>) round.get(kind)).get(field));
      double baseline = number(((Map<?, ?>) round.get(baselineKind)).get(baselineField));
      ratios.add(value / baseline);
    }
    return ratios;
  }

  private List<Double> phaseSamples(String kind, String phase) {
    List<Double> values = new ArrayList<>();
    for (Map<String, Object> round : rounds) {
      Map<?, ?> phases = (Map<?, ?>) ((Map<?, ?>) round.get(kind)).get("phases");
      if (phases != null && phases.get(phase) != null) {
        values.add(number(phases.get(phase)));
      }
    }
    return values;
  }

  private static Map<String, Object> stats(List<Double> values) {
    Map<String, Object> stats = new LinkedHashMap<>();
    if (values.isEmpty()) {
      return stats;
    }
    List<Double> sorted = values.stream().sorted().toList();
    int n = sorted.size();
    double median =
        n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    stats.put("median", round(median));
    stats.put("min", round(sorted.get(0)));
    stats.put("max", round(sorted.get(n - 1)));
    stats.put("samples", values.stream().map(BackupBench::round).toList());
    return stats;
  }

  private static double median(Map<String, Object> summary, String key) {
    Object median = ((Map<?, ?>) summary.get(key)).get("median");
    return median == null ? Double.NaN : number(median);
  }

  private static Double ratio(Map<String, Object> summary, String key, String baselineKey) {
    return round(median(summary, key) / median(summary, baselineKey));
  }

  private void printTable(Path out) {
    Map<?, ?> s = (Map<?, ?>) result.get("summary");
    Map<?, ?> disk = (Map<?, ?>) result.get("disk");
    StringBuilder text = new StringBuilder();
    text.append("\n== Backup benchmark, run ")
        .append(RUN_ID)
        .append(", ")
        .append(rounds.size())
        .append(" rounds")
        .append(
            disk == null
                ? ""
                : ", disk "
                    + disk.get("virtualMiB")
                    + " MiB virtual, "
                    + disk.get("dataMiB")
                    + " MiB data")
        .append(" (median [samples])\n");
    if (s == null || s.isEmpty() || rounds.isEmpty()) {
      text.append("no figures: see ").append(out).append('\n');
      System.out.print(text);
      return;
    }
    row(text, "full backup, create -> Complete, ms", s.get("operatorFullMillis"));
    row(text, "  MiB/s (disk data / wall time)", s.get("operatorFullMiBPerSecond"));
    row(
        text,
        "  before the copy (admission, libvirt job), ms",
        s.get("operatorFullBeforeCopyMillis"));
    row(text, "  copy phase (qemu-img map + convert), ms", s.get("operatorFullCopyPhaseMillis"));
    row(text, "    qemu-img convert from NBD alone, ms", s.get("operatorFullConvertMillis"));
    row(text, "    its MiB/s", s.get("operatorFullCopyMiBPerSecond"));
    row(
        text,
        "  after the copy (check, sha256, manifest, status), ms",
        s.get("operatorFullAfterCopyMillis"));
    row(
        text,
        "    qemu-img check of the image, re-run apart, ms",
        s.get("fullCheckMillisMeasuredAfter"));
    row(
        text,
        "    sha256 over NFS of the image, re-run apart, ms",
        s.get("fullSha256MillisMeasuredAfter"));
    row(text, "  stored MiB", s.get("operatorFullStoredMiB"));
    row(text, "bare qemu-img convert -U (nfs -> nfs), ms", s.get("bareConvertMillis"));
    row(text, "  MiB/s", s.get("bareMiBPerSecond"));
    row(text, "  + check + sha256 (same tools), ms", s.get("bareConvertCheckSha256Millis"));
    row(text, "incremental, create -> Complete, ms", s.get("incrementalMillis"));
    row(
        text,
        "  copy phase (map, create, qemu-io, rebase), ms",
        s.get("incrementalCopyPhaseMillis"));
    row(text, "  after the copy, ms", s.get("incrementalAfterCopyMillis"));
    row(text, "  stored MiB", s.get("incrementalStoredMiB"));
    row(text, "  changed by the guest before it, MiB", s.get("guestChangeMiB"));
    text.append("\nratios (of medians)                                      result   goal\n");
    ratioRow(
        text,
        "full MiB/s, whole backup / bare convert",
        s.get("ratioFullWholeToBareConvert"),
        ">= 0.9");
    ratioRow(
        text,
        "full MiB/s, its convert alone / bare convert",
        s.get("ratioFullConvertToBareConvert"),
        "");
    ratioRow(
        text,
        "full, bare convert+check+sha256 time / whole backup",
        s.get("ratioFullWholeToBareWhole"),
        "");
    row(
        text,
        "  the same, per round: bare time / backup time",
        s.get("pairedRatioFullWholeToBareConvert"));
    ratioRow(text, "incremental time / full time", s.get("incrementalTimeShareOfFull"), "<= 0.15");
    row(text, "  the same, per round", s.get("pairedRatioIncrementalTimeToFull"));
    ratioRow(
        text, "incremental stored bytes / full", s.get("incrementalBytesShareOfFull"), "<= 0.15");
    row(text, "local full backup (push), create -> Complete, ms", s.get("localFullMillis"));
    row(text, "  MiB/s", s.get("localFullMiBPerSecond"));
    row(text, "  stored MiB", s.get("localFullStoredMiB"));
    row(text, "bare push backup (libvirt, same host dir), ms", s.get("barePushMillis"));
    row(text, "  MiB/s", s.get("barePushMiBPerSecond"));
    row(text, "  sha256 of its file, read locally, ms", s.get("barePushSha256Millis"));
    ratioRow(
        text, "local full MiB/s, whole backup / bare push", s.get("ratioLocalFullToBarePush"), "");
    row(text, "  the same, per round", s.get("pairedRatioLocalFullToBarePush"));
    text.append("\nall samples, operator tool runs and machine load: ").append(out).append('\n');
    System.out.print(text);
  }

  private static void row(StringBuilder text, String name, Object stats) {
    Map<?, ?> s = (Map<?, ?>) stats;
    String cell =
        s == null || s.isEmpty() ? "-" : s.get("median") + "  " + s.get("samples").toString();
    text.append(String.format("%-56s %s%n", name, cell));
  }

  private static void ratioRow(StringBuilder text, String name, Object value, String goal) {
    text.append(String.format("%-56s %-8s %s%n", name, value, goal));
  }

  private static String brief(Map<String, Object> round) {
    Map<?, ?> full = (Map<?, ?>) round.get("full");
    Map<?, ?> bare = (Map<?, ?>) round.get("bare");
    Map<?, ?> incremental = (Map<?, ?>) round.get("incremental");
    return "full "
        + full.get("wallMillis")
        + " ms ("
        + full.get("phases")
        + "), bare convert "
        + bare.get("convertMillis")
        + " ms, incremental "
        + incremental.get("wallMillis")
        + " ms, "
        + incremental.get("storedMiB")
        + " MiB; local full "
        + ((Map<?, ?>) round.get("localFull")).get("wallMillis")
        + " ms, bare push "
        + ((Map<?, ?>) round.get("barePush")).get("pushMillis")
        + " ms";
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private String exportPath() {
    return testbed.nfsExport() + "/" + STORAGE;
  }

  private Path exportDir() {
    return testbed.nfsDirectory().resolve(STORAGE);
  }

  private String url(String pathInStorage) {
    return "nfs://" + testbed.nfsServer() + exportPath() + "/" + pathInStorage;
  }

  private String diskUrl() {
    return url(DISK_VOLUME);
  }

  private boolean guestAnswers() {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + GUEST_IP + ":8080/"))
                  .timeout(Duration.ofSeconds(1))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200 && response.body().contains("boot_id=");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void pause() throws InterruptedException {
    Thread.sleep(pauseMillis);
  }

  private static double busyPercent(double busyBeforeSeconds, long millis) {
    return round(
        100
            * (ProcessStats.machineBusySeconds() - busyBeforeSeconds)
            / (millis / 1000.0)
            / Runtime.getRuntime().availableProcessors());
  }

  private interface Action {
    void run() throws Exception;
  }

  private static long timed(Action action) throws Exception {
    long start = System.currentTimeMillis();
    action.run();
    return System.currentTimeMillis() - start;
  }

  /** Runs a command to completion; its standard output, or an exception with what it said. */
  private static String run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).start();
    CompletableFuture<String> err =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (IOException e) {
                return e.toString();
              }
            });
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(10, TimeUnit.MINUTES)) {
      process.destroyForcibly();
      throw new IllegalStateException(String.join(" ", command) + " timed out");
    }
    if (process.exitValue() != 0) {
      throw new IllegalStateException(
          String.join(" ", command) + " failed (exit " + process.exitValue() + "): " + err.join());
    }
    return out;
  }

  private static void guarded(String what, Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      log(what + " failed: " + e);
      e.printStackTrace(System.out);
    }
  }

  private static void await(String what, Duration timeout, BooleanSupplier until) {
    await(what, timeout, until, 250);
  }

  private static void await(String what, Duration timeout, BooleanSupplier until, long pollMillis) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!until.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(pollMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
  }

  private static double number(Object value) {
    return ((Number) value).doubleValue();
  }

  private static double round(double value) {
    return Math.round(value * 100) / 100.0;
  }

  private static void log(String message) {
    System.out.println(
        LocalDateTime.now().format(DateTimeFormatter.ofPattern("HH:mm:ss.SSS"))
            + " [backup-bench] "
            + message);
  }
}
