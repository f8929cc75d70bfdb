package io.bastida.it;

import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.api.v1alpha1.BackupPolicy;
import io.bastida.api.v1alpha1.BackupPolicySpec;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreSpec;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;

/**
 * Backups end to end on the real testbed: a BackupPolicy backs a running guest's Native NFS disk up
 * in full, then incrementally, when the operator's clock reaches its schedule; the incremental
 * backup is restored into a new VM whose disk equals the source's; and a fresh cluster pointed at
 * the same share rediscovers the backups and restores them too (disaster recovery).
 *
 * <p>The guest's writes are made from the host side, through QEMU's monitor (qemu-io on the disk's
 * block backend): the test guest has no way yet to write its own disk.
 */
class BackupE2E {
  private static final String NS = "backup-e2e";
  private static final String SOURCE = "source";
  private static final String RESTORED = "restored";
  private static final String RECOVERED = "recovered";
  private static final String POLICY = "hourly";
  private static final Map<String, String> BACKED_UP = Map.of("backup", POLICY);
  // Unique on the testbed's guest segment (10.77.1.0/24), shared with other tests' guests and the
  // benchmark's (10.77.1.221-228).
  private static final String GUEST_IP = "10.77.1.235";
  private static final String DISKS = "backup-e2e-disks";
  private static final String BACKUPS = "backup-e2e-backups";
  private static final BackupFixtures fixtures =
      new BackupFixtures(
          Testbed.get(),
          NS,
          Map.of("backup-ha", "hA", "backup-hb", "hB"),
          // Hosts of other test classes may share the API server: the VMs go only on these.
          Map.of("bastida.io/e2e", "backup"),
          "backup-e2e",
          DISKS,
          BACKUPS);
  // 24 MiB of the 32 MiB disk before the full backup, then 1.5 MiB (under 5 %) before the next.
  private static final String FIRST_WRITE = "write -P 0x5a 0 24M";
  private static final String SECOND_WRITE = "write -P 0xa5 8M 1536k";
  private static final Duration TIMEOUT = BackupFixtures.TIMEOUT;
  // VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
  private static final int MONITOR_HMP = 1;

  private static final TestClock clock = new TestClock();
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static Path guestDir;

  @BeforeAll
  static void start() throws Exception {
    guestDir = Testbed.guest();
    removeLeftoversOfAnEarlierRun();
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    fixtures.createNamespace(client);
    operator =
        RunningOperator.start(cluster.newClient(), RunningOperator.settings(), c -> c, clock);
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      client.resources(BackupPolicy.class).inNamespace(NS).delete();
      client.resources(VirtualMachineRestore.class).inNamespace(NS).delete();
      fixtures.deleteVms(client);
      fixtures.deleteBackups(client);
      fixtures.deleteStorageAndHosts(client);
    } finally {
      operator.close();
      client.close();
      removeLeftoversOfAnEarlierRun();
    }
  }

  @Test
  void scheduledBackupsRestoreIntoNewVmsHereAndOnAFreshCluster() throws Exception {
    fixtures.createHostsAndStorage(client);
    VirtualMachine source =
        fixtures.testbed().tinyGuestVm(NS, SOURCE, GUEST_IP, guestDir, DISKS, fixtures.labels());
    source.getMetadata().setLabels(BACKED_UP);
    client.resource(source).create();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                condition(fixtures.vm(client, SOURCE), "Ready").filter(status("True")).isPresent());
    writeFromTheHost(FIRST_WRITE);

    // The first run: nothing to build on, so a full backup.
    client.resource(policy()).create();
    long started = System.nanoTime();
    VirtualMachineBackup full = awaitScheduledBackup(1);
    long fullMillis = millisSince(started);
    assertThat(full.getStatus().mode).isEqualTo(BackupMode.Full);
    // Why it is a full one, although the policy asks for incrementals: there is nothing before it.
    assertThat(Resources.condition(full, "Incremental"))
        .get()
        .extracting(Condition::getStatus, Condition::getReason)
        .containsExactly("False", "FirstBackup");
    assertThat(full.getStatus().verified).isTrue();
    Path fullFolder = fixtures.exportFolder(BACKUPS).resolve(full.getStatus().location);
    assertThat(full.getStatus().location)
        .isEqualTo("bastida-backups/" + NS + "/" + SOURCE + "/" + full.getMetadata().getName());
    assertThat(fullFolder.resolve("manifest.json")).isRegularFile();
    assertThat(fullFolder.resolve("domain.xml")).isRegularFile();
    assertThat(fullFolder.resolve("vm.json")).isRegularFile();
    Path fullImage = fullFolder.resolve("vda.qcow2");
    JsonNode manifestDisk =
        new ObjectMapper().readTree(fullFolder.resolve("manifest.json").toFile()).path("disks");
    assertThat(manifestDisk).hasSize(1);
    assertThat(manifestDisk.get(0).path("file").asText()).isEqualTo("vda.qcow2");
    assertThat(manifestDisk.get(0).path("sha256").asText()).isEqualTo(sha256(fullImage));
    assertThat(BackupFixtures.readPattern(fullImage, "read -P 0x5a 0 24M"))
        .as("the backup holds what the guest wrote")
        .doesNotContain("Pattern verification failed");

    // The next run copies only what changed.
    writeFromTheHost(SECOND_WRITE);
    started = System.nanoTime();
    VirtualMachineBackup incremental = awaitScheduledBackup(2);
    long incrementalMillis = millisSince(started);
    assertThat(incremental.getStatus().mode).isEqualTo(BackupMode.Incremental);
    assertThat(Resources.condition(incremental, "Incremental"))
        .get()
        .extracting(Condition::getStatus)
        .isEqualTo("True");
    assertThat(incremental.getStatus().parentBackupName).isEqualTo(full.getMetadata().getName());
    assertThat(incremental.getStatus().verified).isTrue();
    JsonNode verified =
        new ObjectMapper()
            .readTree(
                fixtures
                    .exportFolder(BACKUPS)
                    .resolve(incremental.getStatus().location)
                    .resolve("manifest.json")
                    .toFile())
            .path("verified");
    assertThat(verified.path("method").asText())
        .as("compared, then booted from the chain (incremental over full)")
        .contains("qemu-img compare")
        .contains("booted a throwaway copy");
    assertThat(verified.path("message").asText()).contains("without crashing");
    assertThat(incremental.getStatus().totalBytes)
        .as("an incremental stores the changed blocks, not the disk")
        .isLessThan(full.getStatus().totalBytes / 4);
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client
                    .resources(BackupPolicy.class)
                    .inNamespace(NS)
                    .withName(POLICY)
                    .get()
                    .getStatus()
                    .lastSuccessfulBackupName,
            incremental.getMetadata().getName()::equals);

    // Stopped, the source's disk no longer changes: a restore of the last backup must equal it.
    client
        .resources(VirtualMachine.class)
        .inNamespace(NS)
        .withName(SOURCE)
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"runStrategy\":\"Halted\"}}");
    await().atMost(TIMEOUT).until(() -> !fixtures.domainRuns(fixtures.domainOf(SOURCE)));
    Path sourceDisk =
        fixtures.localPath(fixtures.vm(client, SOURCE).getStatus().disks.get(0).source);
    started = System.nanoTime();
    VirtualMachineRestore restore =
        awaitRestored(client, "to-new-vm", incremental.getMetadata().getName(), RESTORED);
    long restoreMillis = millisSince(started);
    VirtualMachine restored = fixtures.vm(client, RESTORED);
    assertThat(restored.getMetadata().getAnnotations())
        .containsEntry("bastida.io/restored-from", incremental.getMetadata().getName());
    assertThat(BackupFixtures.compare(restoredVolume(restored), sourceDisk))
        .isEqualTo("Images are identical.");

    // Disaster recovery: a new cluster with the same hosts and storage finds the backups.
    long rediscoveryMillis;
    long recoveryMillis;
    VirtualMachineRestore recovery;
    try (TestCluster fresh = TestCluster.startAnother();
        KubernetesClient freshClient = fresh.newClient();
        RunningOperator freshOperator = RunningOperator.start(fresh.newClient())) {
      fixtures.createNamespace(freshClient);
      started = System.nanoTime();
      fixtures.createHostsAndStorage(freshClient);
      List<VirtualMachineBackup> found =
          await()
              .atMost(TIMEOUT)
              .until(
                  () -> fixtures.backups(freshClient),
                  list ->
                      list.size() == 2
                          && list.stream()
                              .allMatch(
                                  b ->
                                      condition(b, "Complete").filter(status("True")).isPresent()));
      rediscoveryMillis = millisSince(started);
      assertThat(found).allSatisfy(b -> assertThat(b.getStatus().rediscovered).isTrue());
      var foundIncremental =
          found.stream()
              .filter(b -> b.getMetadata().getName().equals(incremental.getMetadata().getName()))
              .findFirst()
              .orElseThrow();
      assertThat(foundIncremental.getStatus().mode).isEqualTo(BackupMode.Incremental);
      assertThat(foundIncremental.getStatus().parentBackupName)
          .isEqualTo(full.getMetadata().getName());
      assertThat(foundIncremental.getStatus().chainBaseName)
          .isEqualTo(full.getMetadata().getName());
      assertThat(foundIncremental.getStatus().chainLength).isEqualTo(2);

      started = System.nanoTime();
      recovery =
          awaitRestored(
              freshClient, "after-disaster", incremental.getMetadata().getName(), RECOVERED);
      recoveryMillis = millisSince(started);
      assertThat(
              BackupFixtures.compare(
                  restoredVolume(fixtures.vm(freshClient, RECOVERED)), sourceDisk))
          .isEqualTo("Images are identical.");
      // The fresh cluster's VM runs on the same hosts: it goes with the cluster. Its backups stay:
      // deleting them there would delete the files this cluster's backups point at.
      fixtures.deleteVms(freshClient);
    }

    System.out.printf(
        "BackupE2E: full backup %d ms (%d bytes), incremental %d ms (%d bytes); restore %d ms (%d"
            + " bytes); rediscovery on a fresh cluster %d ms; restore there %d ms (%d bytes)%n",
        fullMillis,
        full.getStatus().totalBytes,
        incrementalMillis,
        incremental.getStatus().totalBytes,
        restoreMillis,
        restore.getStatus().restoredBytes,
        rediscoveryMillis,
        recoveryMillis,
        recovery.getStatus().restoredBytes);

    // Deleting a backup deletes its files; a parent goes after the backups built on it.
    fixtures.deleteBackups(client);
    assertThat(fixtures.exportFolder(BACKUPS).resolve(incremental.getStatus().location))
        .doesNotExist();
    assertThat(fullFolder).doesNotExist();
    assertThat(fixtures.exportFolder(BACKUPS))
        .as("no empty folders left to keep the StorageDomain from being deleted")
        .isEmptyDirectory();
  }

  private static BackupPolicy policy() {
    var spec = new BackupPolicySpec();
    spec.schedule = "0 * * * *";
    spec.timeZone = "UTC";
    spec.selector = new LabelSelectorBuilder().withMatchLabels(BACKED_UP).build();
    spec.storageDomainName = BACKUPS;
    spec.mode = BackupMode.Incremental;
    spec.fullEvery = 7;
    spec.retention = new BackupPolicySpec.Retention();
    spec.retention.keepLast = 5;
    spec.verify = true;
    var policy = new BackupPolicy();
    policy.setMetadata(new ObjectMetaBuilder().withName(POLICY).withNamespace(NS).build());
    policy.setSpec(spec);
    return policy;
  }

  /**
   * Moves the operator's clock past the policy's next scheduled time and waits for the backup that
   * run makes (the {@code count}th) to complete.
   */
  private static VirtualMachineBackup awaitScheduledBackup(int count) {
    String next =
        await()
            .atMost(TIMEOUT)
            .until(
                () -> client.resources(BackupPolicy.class).inNamespace(NS).withName(POLICY).get(),
                p ->
                    p.getStatus() != null
                        && p.getStatus().nextScheduleTime != null
                        && (count == 1 || p.getStatus().lastScheduleTime != null))
            .getStatus()
            .nextScheduleTime;
    clock.jumpPast(Instant.parse(next));
    List<VirtualMachineBackup> made =
        await()
            .atMost(TIMEOUT)
            .until(
                () -> fixtures.backups(client),
                list -> list.size() == count && list.stream().allMatch(BackupFixtures::finished));
    VirtualMachineBackup newest = made.get(count - 1);
    assertThat(condition(newest, "Complete"))
        .as("backup %s: %s", newest.getMetadata().getName(), newest.getStatus().conditions)
        .get()
        .matches(status("True"));
    return newest;
  }

  private static VirtualMachineRestore awaitRestored(
      KubernetesClient client, String name, String backup, String newVm) {
    var spec = new VirtualMachineRestoreSpec();
    spec.vmName = SOURCE;
    spec.backupName = backup;
    spec.target = newVm;
    var restore = new VirtualMachineRestore();
    restore.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    restore.setSpec(spec);
    client.resource(restore).create();
    VirtualMachineRestore done =
        await()
            .atMost(TIMEOUT)
            .until(
                () ->
                    client
                        .resources(VirtualMachineRestore.class)
                        .inNamespace(NS)
                        .withName(name)
                        .get(),
                r ->
                    condition(r, "Succeeded").filter(status("True")).isPresent()
                        || condition(r, "Failed").filter(status("True")).isPresent());
    assertThat(condition(done, "Succeeded"))
        .as("restore %s: %s", name, done.getStatus().conditions)
        .get()
        .matches(status("True"));
    assertThat(done.getStatus().restoredVmName).isEqualTo(newVm);
    return done;
  }

  /** Where a VM restored from a backup keeps its disk, seen from here. */
  private static Path restoredVolume(VirtualMachine vm) {
    var image = vm.getSpec().disks.get(0).image;
    assertThat(image.storageDomainName).isEqualTo(DISKS);
    return fixtures.exportFolder(DISKS).resolve(image.volume);
  }

  /** Runs a qemu-io command on the source's disk inside QEMU, as if the guest wrote. */
  private static void writeFromTheHost(String qemuIoCommand) throws Exception {
    String host = fixtures.testbedHostOf(client, SOURCE);
    Connect libvirt = new Connect(fixtures.testbed().tcpUri(host), false);
    try {
      var domain = libvirt.domainLookupByName(fixtures.domainOf(SOURCE));
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

  private static String sha256(Path file) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] buffer = new byte[1 << 20];
      for (int read = in.read(buffer); read > 0; read = in.read(buffer)) {
        digest.update(buffer, 0, read);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }

  private static void removeLeftoversOfAnEarlierRun() throws Exception {
    fixtures.removeLeftoversOfAnEarlierRun(List.of(SOURCE, RESTORED, RECOVERED));
  }
}
