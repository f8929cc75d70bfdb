package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.api.v1alpha1.BackupPolicy;
import io.bastida.api.v1alpha1.BackupPolicySpec;
import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.NfsAccess;
import io.bastida.api.v1alpha1.NfsSource;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainSpec;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupSpec;
import io.bastida.api.v1alpha1.VirtualMachineBackupStatus;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.operator.backup.BackupPolicyReconciler;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * BackupPolicies against a real API server, with the operator on a clock the test moves: the
 * schedule fires when the test says so, and retention prunes the policy's backups. The VMs run on
 * libvirt's test driver, which has no backup API: what a backup of them does is the E2E's subject
 * (BackupE2E); here backups of a stopped VM on host-local disks fail with their reason.
 */
class BackupPolicyIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String NS = "policies";
  private static final ZoneId MADRID = ZoneId.of("Europe/Madrid");
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static final TestClock clock = new TestClock();
  // The backup domains' own folder of the testbed's export: an export whose root holds other
  // tests' files could not be deleted (Bastida never deletes stored data).
  private static final String EXPORT_FOLDER = "backup-policy-it";

  @BeforeAll
  static void start() throws IOException {
    Files.createDirectories(Testbed.get().nfsDirectory().resolve(EXPORT_FOLDER));
    cluster = TestCluster.get();
    client = cluster.newClient();
    cluster.kubectl("create", "namespace", NS);
    operator =
        RunningOperator.start(
            cluster.newClient(), RunningOperator.settings(), connector -> connector, clock);
  }

  @AfterAll
  static void stop() throws IOException {
    operator.close();
    client.close();
    try (Stream<Path> tree = Files.walk(Testbed.get().nfsDirectory().resolve(EXPORT_FOLDER))) {
      for (Path path : tree.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  @BeforeEach
  void hostStorageAndVm() {
    clock.set(Instant.now());
    client.resource(host("policy-host", "test:///default")).create();
    awaitCondition(
        () -> client.resources(Host.class).withName("policy-host").get(), "Ready", status("True"));
    client.resource(localDomain("policy-disks", "/var/lib/bastida-it/policies")).create();
    client.resource(backupDomain("policy-backups", List.of(StorageContent.Backups))).create();
    client.resource(vm("school-web", Map.of("backup", "nightly"))).create();
    client.resource(vm("scratch", Map.of())).create();
  }

  @AfterEach
  void cleanUp() {
    client.resources(BackupPolicy.class).inNamespace(NS).delete();
    client.resources(VirtualMachineBackup.class).inNamespace(NS).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client
                    .resources(VirtualMachineBackup.class)
                    .inNamespace(NS)
                    .list()
                    .getItems()
                    .isEmpty());
    client.resources(VirtualMachine.class).inNamespace(NS).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().isEmpty());
    client.resources(StorageDomain.class).withName("policy-disks").delete();
    client.resources(StorageDomain.class).withName("policy-backups").delete();
    client.resources(StorageDomain.class).withName("policy-disks-only").delete();
    client.resources(StorageDomain.class).withName("policy-backups-elsewhere").delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client.resources(StorageDomain.class).list().getItems().stream()
                    .noneMatch(d -> d.getMetadata().getName().startsWith("policy-")));
    client.resources(Host.class).withName("policy-host").delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(Host.class).withName("policy-host").get() == null);
  }

  @Test
  void theScheduleCreatesOneBackupPerSelectedVmAtItsTimeInItsZone() {
    // The next 02:00 in Madrid after now, whatever now is.
    ZonedDateTime now = clock.instant().atZone(MADRID);
    ZonedDateTime today = now.toLocalDate().atTime(2, 0).atZone(MADRID);
    ZonedDateTime nextRun = today.isAfter(now) ? today : today.plusDays(1);
    client.resource(policy("nightly", "0 2 * * *", "Europe/Madrid", 5)).create();
    awaitCondition(() -> policy("nightly"), "Ready", reason("Scheduled"));
    assertThat(policy("nightly").getStatus().nextScheduleTime)
        .isEqualTo(nextRun.toInstant().toString());
    assertThat(backups()).isEmpty();

    clock.set(nextRun.toInstant().plusSeconds(30));

    String expected =
        "nightly-school-web-"
            + DateTimeFormatter.ofPattern("yyyyMMdd-HHmm")
                .withZone(ZoneOffset.UTC)
                .format(nextRun.toInstant());
    await().atMost(TIMEOUT).until(() -> backups().contains(expected));
    assertThat(backups()).containsExactly(expected); // "scratch" is not selected
    VirtualMachineBackup backup = backup(expected);
    assertThat(backup.getSpec().mode).isEqualTo(BackupMode.Incremental);
    assertThat(backup.getSpec().storageDomainName).isEqualTo("policy-backups");
    assertThat(backup.getMetadata().getLabels())
        .containsEntry(BackupPolicyReconciler.POLICY_LABEL, "nightly")
        .containsEntry(BackupPolicyReconciler.VM_LABEL, "school-web");
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                nextRun
                    .plusDays(1)
                    .toInstant()
                    .toString()
                    .equals(policy("nightly").getStatus().nextScheduleTime));
    assertThat(policy("nightly").getStatus().lastScheduleTime)
        .isEqualTo(nextRun.toInstant().toString());
    // The test driver's VM is stopped, on a host-local disk: the backup says why it cannot be.
    awaitCondition(() -> backup(expected), "Failed", reason("UnsupportedDisk"));
    assertThat(eventsFor(client, "VirtualMachineBackup", expected))
        .anyMatch(e -> e.getType().equals("Warning") && e.getReason().equals("UnsupportedDisk"));

    // The same scheduled time again (a restart, a second pass) makes no second backup.
    clock.advance(Duration.ofMinutes(10));
    await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(backups()).containsExactly(expected);
  }

  @Test
  void retentionDeletesWhatItDoesNotKeepAndNeverAnIncrementalsParent() {
    client.resource(policy("weekly", "0 3 * * 0", "UTC", 1)).create();
    awaitCondition(() -> policy("weekly"), "Ready", reason("Scheduled"));
    // Five finished backups of one chain-less past, then a chain: full <- incremental.
    Instant start = clock.instant().minus(30, ChronoUnit.DAYS);
    List<String> names = new ArrayList<>();
    for (int day = 0; day < 5; day++) {
      String name = "weekly-old-" + day;
      names.add(name);
      completeBackup(name, start.plus(day, ChronoUnit.DAYS), null);
    }
    completeBackup("weekly-full", start.plus(10, ChronoUnit.DAYS), null);
    completeBackup("weekly-incr", start.plus(11, ChronoUnit.DAYS), "weekly-full");

    // keepLast 1 keeps the incremental, and with it its full; the five older ones go.
    await().atMost(TIMEOUT).until(() -> backups().equals(List.of("weekly-full", "weekly-incr")));
  }

  @Test
  void badSettingsAreReportedWithTheirReason() {
    client.resource(policy("typo", "61 2 * * *", "UTC", 3)).create();
    client.resource(backupDomain("policy-disks-only", List.of(StorageContent.Disks))).create();
    BackupPolicy wrongStorage = policy("wrong-storage", "0 2 * * *", "UTC", 3);
    wrongStorage.getSpec().storageDomainName = "policy-disks-only";
    client.resource(wrongStorage).create();

    Condition invalid = awaitCondition(() -> policy("typo"), "Ready", reason("InvalidSchedule"));
    assertThat(invalid.getMessage()).contains("spec.schedule").contains("minute");
    assertThat(eventsFor(client, "BackupPolicy", "typo"))
        .anyMatch(e -> e.getType().equals("Warning") && e.getReason().equals("InvalidSchedule"));
    awaitCondition(() -> policy("wrong-storage"), "Ready", reason("StorageDomainNotForBackups"));

    // A local storage domain keeps backups on the VM's host: one not set up there waits.
    StorageDomain elsewhere =
        Resources.selecting(
            localDomain("policy-backups-elsewhere", "/var/lib/bastida-it/elsewhere"),
            Map.of("bastida.io/it", "no-such-host"));
    elsewhere.getSpec().setContent(List.of(StorageContent.Backups));
    client.resource(elsewhere).create();
    var spec = new VirtualMachineBackupSpec();
    spec.vmName = "school-web";
    spec.storageDomainName = "policy-backups-elsewhere";
    var backup = new VirtualMachineBackup();
    backup.setMetadata(new ObjectMetaBuilder().withName("to-elsewhere").withNamespace(NS).build());
    backup.setSpec(spec);
    client.resource(backup).create();
    Condition notOnHost =
        awaitCondition(() -> backup("to-elsewhere"), "Ready", reason("StorageDomainNotOnHost"));
    assertThat(notOnHost.getMessage()).contains("not attached to host policy-host");
  }

  /** A backup that finished earlier, as its reconciler would have recorded it. */
  private void completeBackup(String name, Instant startTime, String parent) {
    var spec = new VirtualMachineBackupSpec();
    // A VM that does not exist: the backup waits instead of running until the test finishes it.
    spec.vmName = "gone";
    spec.storageDomainName = "policy-backups";
    var backup = new VirtualMachineBackup();
    backup.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(NS)
            .withLabels(
                Map.of(
                    BackupPolicyReconciler.POLICY_LABEL,
                    "weekly",
                    BackupPolicyReconciler.VM_LABEL,
                    "gone"))
            .build());
    backup.setSpec(spec);
    client.resource(backup).create();
    awaitCondition(() -> backup(name), "Ready", reason("VmNotFound"));
    VirtualMachineBackup current = backup(name);
    var status = new VirtualMachineBackupStatus();
    status.mode = parent == null ? BackupMode.Full : BackupMode.Incremental;
    status.parentBackupName = parent;
    status.startTime = startTime.toString();
    status.completionTime = startTime.plusSeconds(60).toString();
    status.conditions =
        List.of(
            io.bastida.operator.status.Conditions.of("Complete", true, "Complete", "done"),
            io.bastida.operator.status.Conditions.of("Ready", true, "Complete", "done"));
    current.setStatus(status);
    client.resource(current).updateStatus();
  }

  private static StorageDomain backupDomain(String name, List<StorageContent> content) {
    // A real export: a domain on one that does not answer could not be deleted.
    var nfs = new NfsSource();
    nfs.setServer(Testbed.get().nfsServer());
    nfs.setPath(Testbed.get().nfsExport() + "/" + EXPORT_FOLDER);
    nfs.setAccess(NfsAccess.Native);
    var spec = new StorageDomainSpec();
    spec.setNfs(nfs);
    spec.setContent(content);
    var domain = new StorageDomain();
    domain.setMetadata(new ObjectMetaBuilder().withName(name).build());
    domain.setSpec(spec);
    return domain;
  }

  private static BackupPolicy policy(String name, String schedule, String zone, int keepLast) {
    var spec = new BackupPolicySpec();
    spec.schedule = schedule;
    spec.timeZone = zone;
    spec.selector = new LabelSelectorBuilder().addToMatchLabels("backup", "nightly").build();
    spec.storageDomainName = "policy-backups";
    spec.retention = new BackupPolicySpec.Retention();
    spec.retention.keepLast = keepLast;
    var policy = new BackupPolicy();
    policy.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    policy.setSpec(spec);
    return policy;
  }

  private static VirtualMachine vm(String name, Map<String, String> labels) {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.runStrategy = RunStrategy.Halted;
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "128Mi";
    var disk = new VirtualMachineSpec.Disk();
    disk.name = "root";
    disk.blank = new VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = "policy-disks";
    disk.blank.size = "1Gi";
    spec.disks = new ArrayList<>(List.of(disk));
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(NS).withLabels(labels).build());
    vm.setSpec(spec);
    return vm;
  }

  private BackupPolicy policy(String name) {
    return client.resources(BackupPolicy.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachineBackup backup(String name) {
    return client.resources(VirtualMachineBackup.class).inNamespace(NS).withName(name).get();
  }

  private List<String> backups() {
    return client.resources(VirtualMachineBackup.class).inNamespace(NS).list().getItems().stream()
        .map(b -> b.getMetadata().getName())
        .sorted()
        .toList();
  }
}
