package io.bastida.it;

import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupSpec;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreSpec;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.api.v1alpha1.VirtualMachineSnapshotSpec;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Backups when things go wrong, on the real testbed: a VM rolled back in place to a backup, a
 * backup cut short by an operator restart, and backups of a VM that live-migrated in between. Each
 * case has its own tiny guest (hack/guest/build-initramfs.sh), whose disk a Native NFS qcow2 in a
 * subfolder of the export; the guest writes its own disk ({@code /cgi-bin/write}, flushed before it
 * answers) and serves its boot id.
 */
class BackupRecoveryE2E {
  private static final String NS = "backup-recovery-e2e";
  private static final BackupFixtures fixtures =
      new BackupFixtures(
          Testbed.get(),
          NS,
          Map.of("recovery-ha", "hA", "recovery-hb", "hB"),
          Map.of("bastida.io/e2e", "backup-recovery"),
          "backup-recovery-e2e",
          "recovery-e2e-disks",
          "recovery-e2e-backups");
  // One guest per case, each with an address unique on the testbed's guest segment (10.77.1.0/24),
  // which other tests and the benchmarks (10.77.1.221-228, 10.77.1.241) share.
  private static final String ROLLED_BACK = "rolled-back";
  private static final String INTERRUPTED = "interrupted";
  private static final String MIGRATED = "migrated";
  private static final Map<String, String> GUEST_IPS =
      Map.of(ROLLED_BACK, "10.77.1.171", INTERRUPTED, "10.77.1.172", MIGRATED, "10.77.1.173");
  // Most of the guest's 32 MiB disk: a backup has data to copy (for a while at 1 MiB/s).
  private static final Fill WANTED = new Fill(4, 24, 0x5a);
  private static final Fill MISTAKE = new Fill(4, 24, 0xa5);
  // A tenth of the disk: what an incremental backup should store.
  private static final Fill SMALL_CHANGE = new Fill(8, 3, 0x3c);
  private static final Duration TIMEOUT = BackupFixtures.TIMEOUT;

  private static Path guestDir;
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;

  @BeforeAll
  static void start() throws Exception {
    guestDir = Testbed.guest();
    fixtures.removeLeftoversOfAnEarlierRun(List.copyOf(GUEST_IPS.keySet()));
    cluster = TestCluster.get();
    client = cluster.newClient();
    fixtures.createNamespace(client);
    operator = RunningOperator.start(cluster);
    fixtures.createHostsAndStorage(client);
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      client.resources(VirtualMachineRestore.class).inNamespace(NS).delete();
      client.resources(VirtualMachineMigration.class).inNamespace(NS).delete();
      // Snapshots first, while their VM is there to take them out of its images.
      client.resources(VirtualMachineSnapshot.class).inNamespace(NS).delete();
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  client.resources(VirtualMachineSnapshot.class).inNamespace(NS).list().getItems(),
              List::isEmpty);
      fixtures.deleteBackups(client);
      fixtures.deleteVms(client);
      fixtures.deleteStorageAndHosts(client);
    } finally {
      operator.close();
      client.close();
      fixtures.removeLeftoversOfAnEarlierRun(List.copyOf(GUEST_IPS.keySet()));
    }
  }

  @Test
  void inPlaceRestoreStopsTheVmRewritesItsDiskAndBootsItAgain() throws Exception {
    String firstBoot = startGuest(ROLLED_BACK);
    guestWrites(ROLLED_BACK, WANTED);
    VirtualMachineBackup backup =
        awaitCompleteBackup("before-mistake", ROLLED_BACK, BackupMode.Full);
    assertThat(backup.getStatus().verified).isTrue();
    client.resource(snapshot("before-restore", ROLLED_BACK)).create();
    await()
        .atMost(TIMEOUT)
        .until(
            () -> snapshotOf("before-restore"),
            s -> s.getStatus() != null && Boolean.TRUE.equals(s.getStatus().readyToUse));
    guestWrites(ROLLED_BACK, MISTAKE);
    Path disk =
        fixtures.localPath(fixtures.vm(client, ROLLED_BACK).getStatus().disks.get(0).source);
    assertThat(BackupFixtures.readPattern(disk, MISTAKE.qemuIoRead()))
        .doesNotContain("verification failed");
    String host = fixtures.testbedHostOf(client, ROLLED_BACK);

    client.resource(restore("roll-back", ROLLED_BACK, backup)).create();
    // Gracefully: the guest's power button handler says so on its console before it powers off.
    await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> serialLog(host, ROLLED_BACK),
            log -> log.contains("BASTIDA-GUEST-POWER-BUTTON boot_id=" + firstBoot));
    VirtualMachineRestore restore = awaitRestoreFinished("roll-back");
    assertThat(condition(restore, "Succeeded"))
        .as("restore: %s", restore.getStatus().conditions)
        .get()
        .matches(status("True"));
    assertThat(restore.getStatus().restoredVmName).isEqualTo(ROLLED_BACK);

    // Booted afresh, from the restored disk.
    await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> bootId(ROLLED_BACK), id -> id.isPresent() && !id.get().equals(firstBoot));
    assertThat(BackupFixtures.readPattern(disk, WANTED.qemuIoRead()))
        .as("the disk holds what the guest wrote before the backup")
        .doesNotContain("verification failed");
    // The snapshot's data was in the image the restore overwrote.
    VirtualMachineSnapshot snapshot =
        await()
            .atMost(TIMEOUT)
            .until(
                () -> snapshotOf("before-restore"),
                s -> Boolean.FALSE.equals(s.getStatus().readyToUse));
    assertThat(condition(snapshot, "Ready")).get().matches(reason("SnapshotMissing"));
    assertThat(fixtures.virsh(host, "snapshot-list", "--name", fixtures.domainOf(ROLLED_BACK)))
        .isBlank();
  }

  @Test
  void backupRunningWhenTheOperatorStopsFailsAndLeavesNothingBehind() throws Exception {
    startGuest(INTERRUPTED);
    guestWrites(INTERRUPTED, WANTED);
    // 1 MiB/s: the copy of the guest's data takes long enough to stop the operator during it.
    client.resource(backup("cut-short", INTERRUPTED, BackupMode.Full, 1)).create();
    VirtualMachineBackup running =
        await()
            .atMost(TIMEOUT)
            .until(
                () -> backupOf("cut-short"),
                b ->
                    b.getStatus() != null
                        && b.getStatus().startTime != null
                        && "Running".equals(b.getStatus().printableStatus)
                        && b.getStatus().progress != null);
    String host = fixtures.testbedHostOf(client, INTERRUPTED);
    String domain = fixtures.domainOf(INTERRUPTED);
    assertThat(fixtures.virsh(host, "checkpoint-list", "--name", domain))
        .contains(running.getStatus().checkpointName);
    Path folder = fixtures.exportFolder(fixtures.backups()).resolve(running.getStatus().location);
    assertThat(folder).isDirectory();

    operator.close();
    operator = RunningOperator.start(cluster);

    VirtualMachineBackup interrupted =
        await().atMost(TIMEOUT).until(() -> backupOf("cut-short"), BackupFixtures::finished);
    assertThat(condition(interrupted, "Failed"))
        .as("backup: %s", interrupted.getStatus().conditions)
        .get()
        .matches(status("True"))
        .matches(reason("Interrupted"));
    assertThat(condition(interrupted, "Complete")).isEmpty();
    assertThat(folder).doesNotExist();
    assertThat(fixtures.virsh(host, "domjobinfo", domain)).containsPattern("Job type:\\s+None");
    assertThat(fixtures.virsh(host, "checkpoint-list", "--name", domain)).isBlank();

    VirtualMachineBackup next = awaitCompleteBackup("after-restart", INTERRUPTED, BackupMode.Full);
    assertThat(next.getStatus().mode).isEqualTo(BackupMode.Full);
    assertThat(condition(backupOf("cut-short"), "Failed"))
        .as("still Failed: a later run never completes it")
        .get()
        .matches(status("True"));
  }

  @Test
  void backupsAfterALiveMigrationStartAFreshChain() throws Exception {
    startGuest(MIGRATED);
    guestWrites(MIGRATED, WANTED);
    VirtualMachineBackup full = awaitCompleteBackup("before-move", MIGRATED, BackupMode.Full);
    String from = fixtures.vm(client, MIGRATED).getStatus().hostName;
    String to =
        fixtures.hosts().keySet().stream().filter(h -> !h.equals(from)).findFirst().orElseThrow();

    client.resource(Resources.migration(NS, "move", MIGRATED, to)).create();
    VirtualMachineMigration migration =
        await()
            .atMost(TIMEOUT)
            .until(
                () ->
                    client
                        .resources(VirtualMachineMigration.class)
                        .inNamespace(NS)
                        .withName("move")
                        .get(),
                m ->
                    condition(m, "Succeeded").filter(status("True")).isPresent()
                        || condition(m, "Failed").filter(status("True")).isPresent());
    assertThat(condition(migration, "Succeeded"))
        .as("migration: %s", migration.getStatus().conditions)
        .get()
        .matches(status("True"));
    await()
        .atMost(TIMEOUT)
        .until(() -> fixtures.vm(client, MIGRATED).getStatus().hostName, to::equals);
    assertThat(eventsFor(client, "VirtualMachineMigration", "move").stream().map(Event::getReason))
        .as("the checkpoint's bitmap would have broken the switch-over: it was dropped")
        .contains("CheckpointsDropped");
    assertThat(
            fixtures.virsh(
                fixtures.hosts().get(to), "checkpoint-list", "--name", fixtures.domainOf(MIGRATED)))
        .isBlank();

    guestWrites(MIGRATED, MISTAKE);
    VirtualMachineBackup afterMove =
        awaitCompleteBackup("after-move", MIGRATED, BackupMode.Incremental);
    assertThat(afterMove.getStatus().mode)
        .as("nothing to build on: the checkpoint went with the migration")
        .isEqualTo(BackupMode.Full);
    assertThat(afterMove.getStatus().parentBackupName).isNull();
    // Why it is full stays on the backup.
    Condition why = Resources.condition(afterMove, "Incremental").orElseThrow();
    assertThat(why.getStatus()).isEqualTo("False");
    assertThat(why.getReason()).isEqualTo("CheckpointMissing");
    assertThat(why.getMessage()).contains("checkpoint " + full.getStatus().checkpointName);

    guestWrites(MIGRATED, SMALL_CHANGE);
    VirtualMachineBackup incremental =
        awaitCompleteBackup("after-move-2", MIGRATED, BackupMode.Incremental);
    assertThat(incremental.getStatus().mode).isEqualTo(BackupMode.Incremental);
    assertThat(incremental.getStatus().parentBackupName).isEqualTo("after-move");
    assertThat(incremental.getStatus().totalBytes)
        .as("an incremental stores the changed blocks, not the disk")
        .isLessThan(afterMove.getStatus().totalBytes / 4);
  }

  /** Creates the case's VM, waits for its guest to answer, and returns its boot id. */
  private static String startGuest(String name) {
    VirtualMachine vm =
        fixtures
            .testbed()
            .tinyGuestVm(
                NS, name, GUEST_IPS.get(name), guestDir, fixtures.disks(), fixtures.labels());
    vm.getSpec().runStrategy = RunStrategy.Always;
    client.resource(vm).create();
    String host =
        await()
            .atMost(TIMEOUT)
            .until(() -> fixtures.vm(client, name).getStatus(), s -> s.hostName != null)
            .hostName;
    // Only a boot its console announced is ours: another guest answering on the address (a
    // leftover, a benchmark's) would take the test's writes.
    return await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                bootId(name)
                    .filter(
                        id ->
                            serialLog(fixtures.hosts().get(host), name)
                                .contains("BASTIDA-GUEST-READY boot_id=" + id)),
            Optional::isPresent)
        .orElseThrow();
  }

  /** A range of the guest's disk filled with one byte value. */
  private record Fill(int offsetMiB, int sizeMiB, int value) {
    String qemuIoRead() {
      return "read -P " + value + " " + offsetMiB + "M " + sizeMiB + "M";
    }
  }

  private static void guestWrites(String vm, Fill fill) {
    TinyGuest.writes(GUEST_IPS.get(vm), fill.offsetMiB(), fill.sizeMiB(), fill.value());
  }

  private static Optional<String> bootId(String vm) {
    return TinyGuest.bootId(GUEST_IPS.get(vm));
  }

  /** What the guest printed on its serial console since its domain last started. */
  private static String serialLog(String testbedHost, String vm) {
    Path log =
        fixtures
            .testbed()
            .qemuLogBacking(testbedHost)
            .resolve(fixtures.domainOf(vm) + "-serial.log");
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static VirtualMachineBackup backup(
      String name, String vm, BackupMode mode, Integer bandwidthMiBPerSecond) {
    var spec = new VirtualMachineBackupSpec();
    spec.vmName = vm;
    spec.storageDomainName = fixtures.backups();
    spec.mode = mode;
    spec.verify = true;
    spec.bandwidthMiBPerSecond = bandwidthMiBPerSecond;
    var backup = new VirtualMachineBackup();
    backup.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    backup.setSpec(spec);
    return backup;
  }

  /** Creates the backup and waits for it to end, which must be Complete. */
  private static VirtualMachineBackup awaitCompleteBackup(String name, String vm, BackupMode mode) {
    client.resource(backup(name, vm, mode, null)).create();
    VirtualMachineBackup done =
        await().atMost(TIMEOUT).until(() -> backupOf(name), BackupFixtures::finished);
    assertThat(condition(done, "Complete"))
        .as("backup %s: %s", name, done.getStatus().conditions)
        .get()
        .matches(status("True"));
    return done;
  }

  private static VirtualMachineBackup backupOf(String name) {
    return client.resources(VirtualMachineBackup.class).inNamespace(NS).withName(name).get();
  }

  private static VirtualMachineSnapshot snapshot(String name, String vm) {
    var spec = new VirtualMachineSnapshotSpec();
    spec.vmName = vm;
    spec.memory = false;
    var snapshot = new VirtualMachineSnapshot();
    snapshot.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    snapshot.setSpec(spec);
    return snapshot;
  }

  private static VirtualMachineSnapshot snapshotOf(String name) {
    return client.resources(VirtualMachineSnapshot.class).inNamespace(NS).withName(name).get();
  }

  private static VirtualMachineRestore restore(
      String name, String vm, VirtualMachineBackup backup) {
    var spec = new VirtualMachineRestoreSpec();
    spec.vmName = vm;
    spec.backupName = backup.getMetadata().getName();
    spec.target = "InPlace";
    var restore = new VirtualMachineRestore();
    restore.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    restore.setSpec(spec);
    return restore;
  }

  private static VirtualMachineRestore awaitRestoreFinished(String name) {
    return await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client.resources(VirtualMachineRestore.class).inNamespace(NS).withName(name).get(),
            r ->
                condition(r, "Succeeded").filter(status("True")).isPresent()
                    || condition(r, "Failed").filter(status("True")).isPresent());
  }
}
