package io.bastida.it;

import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.bastida.api.v1alpha1.BackupMode;
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
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreSpec;
import io.bastida.storage.nfs.NfsFiles;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Backups kept on a host's local storage, on the real testbed: a tiny guest with its disk on one
 * local storage domain of host hA is backed up into another (QEMU writes the images there itself,
 * push mode), in full and then incrementally, restored in place and into a new VM, and its backups
 * deleted with their files; a fresh cluster rediscovers them there. The same VM is also backed up
 * onto an NFS storage domain of the Mount kind, and restored in place from there. What the host
 * holds is checked in its directory as this namespace sees it.
 */
class BackupLocalE2E {
  private static final String NS = "backup-local-e2e";
  private static final String HOST = "local-ha";
  private static final String TESTBED_HOST = "hA";
  private static final Map<String, String> LABELS = Map.of("bastida.io/e2e", "backup-local");
  private static final String DISKS = "backup-local-e2e-disks";
  private static final String BACKUPS = "backup-local-e2e-backups";
  private static final String MOUNT = "backup-local-e2e-mount";
  private static final String MOUNT_FOLDER = "backup-local-e2e-mount";
  private static final String VM = "kept-here";
  // Files on the export are made and removed through NFS (nfs-ganesha caches names).
  private static final NfsFiles NFS = new NfsFiles(Duration.ofSeconds(10));
  // Unique on the testbed's guest segment (see BackupRecoveryE2E for the others).
  private static final String GUEST_IP = "10.77.1.181";
  private static final Duration TIMEOUT = BackupFixtures.TIMEOUT;

  private static Testbed testbed;
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static String firstBoot;

  @BeforeAll
  static void start() throws Exception {
    testbed = Testbed.get();
    removeDirectories();
    cluster = TestCluster.get();
    client = cluster.newClient();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
    operator = RunningOperator.start(cluster);
    client
        .resource(
            Resources.emulated(
                Resources.withLabels(Resources.host(HOST, testbed.tcpUri(TESTBED_HOST)), LABELS)))
        .create();
    client.resource(localDomain(DISKS, StorageContent.Disks)).create();
    client.resource(localDomain(BACKUPS, StorageContent.Backups)).create();
    for (String domain : List.of(DISKS, BACKUPS)) {
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  condition(client.resources(StorageDomain.class).withName(domain).get(), "Ready")
                      .filter(status("True"))
                      .isPresent());
    }
    firstBoot = startGuest();
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      client.resources(VirtualMachineRestore.class).inNamespace(NS).delete();
      client.resources(VirtualMachine.class).inNamespace(NS).delete();
      await()
          .atMost(TIMEOUT)
          .until(
              () -> client.resources(VirtualMachine.class).inNamespace(NS).list().getItems(),
              List::isEmpty);
      deleteBackupsNewestFirst();
      // The restored VM's volume is not owned by it: the storage domain keeps it, and would
      // refuse to go while it is there.
      try (var volumes = Files.list(hostDirectory(DISKS))) {
        for (Path volume : volumes.toList()) {
          Files.delete(volume);
        }
      }
      for (String domain : List.of(DISKS, BACKUPS, MOUNT)) {
        client.resources(StorageDomain.class).withName(domain).delete();
      }
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  client.resources(StorageDomain.class).list().getItems().stream()
                      .noneMatch(
                          d -> List.of(DISKS, BACKUPS, MOUNT).contains(d.getMetadata().getName())));
      client.resources(Host.class).withName(HOST).delete();
    } finally {
      operator.close();
      client.close();
      removeDirectories();
      NFS.removeTree(testbed.nfsServer(), testbed.nfsExport(), MOUNT_FOLDER);
    }
  }

  @Test
  void backupsOnAHostsLocalStorageRestoreInPlaceAndIntoANewVmAndAreRediscovered() throws Exception {
    TinyGuest.writes(GUEST_IP, 4, 24, 0x5a);

    VirtualMachineBackup full = awaitCompleteBackup("full", BackupMode.Full);
    assertThat(full.getStatus().hostName).isEqualTo(HOST);
    assertThat(condition(full, "Incremental")).get().matches(reason("RequestedFull"));
    Path fullImage = stored(full, "vda.qcow2");
    assertThat(full.getStatus().disks.get(0).sha256)
        .as("the checksum is the stored file's")
        .isEqualTo(sha256(fullImage));
    assertThat(full.getStatus().disks.get(0).fileSizeBytes).isEqualTo(Files.size(fullImage));
    var manifest = new ObjectMapper().readTree(stored(full, "manifest.json").toFile());
    assertThat(manifest.path("mode").asText()).isEqualTo("Full");
    assertThat(stored(full, "vm.json")).isNotEmptyFile();
    assertThat(stored(full, "domain.xml")).isNotEmptyFile();
    assertThat(readPattern(fullImage, "read -P 0x5a 4M 24M")).doesNotContain("failed");

    TinyGuest.writes(GUEST_IP, 8, 3, 0x3c);
    VirtualMachineBackup incremental =
        awaitCompleteBackup("incremental", BackupMode.Incremental, BACKUPS, true);
    assertThat(incremental.getStatus().verified)
        .as("a throwaway copy booted from the chain on the host")
        .isTrue();
    var verification =
        new ObjectMapper().readTree(stored(incremental, "manifest.json").toFile()).path("verified");
    assertThat(verification.path("method").asText()).startsWith("booted a throwaway copy");
    assertThat(verification.path("message").asText()).contains("its guest agent answered");
    assertThat(condition(incremental, "Quiesced"))
        .as("the guest agent froze the file systems around the job's start")
        .get()
        .matches(status("True"))
        .matches(reason("FilesystemsFrozen"));
    try (var files = Files.list(stored(incremental, ""))) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .as("its overlays are gone")
          .containsExactlyInAnyOrder("vda.qcow2", "manifest.json", "vm.json", "domain.xml");
    }
    assertThat(
            BackupFixtures.run(
                "virsh", "-c", testbed.tcpUri(TESTBED_HOST), "list", "--all", "--name"))
        .doesNotContain("bastida-verify-");
    assertThat(incremental.getStatus().mode).isEqualTo(BackupMode.Incremental);
    assertThat(incremental.getStatus().parentBackupName).isEqualTo("full");
    assertThat(incremental.getStatus().totalBytes)
        .as("only the changed blocks are stored")
        .isLessThan(full.getStatus().totalBytes / 4);
    Path incrementalImage = stored(incremental, "vda.qcow2");
    assertThat(run("qemu-img", "info", "-U", incrementalImage.toString()))
        .as("backed by the full backup's image on the host")
        .contains(
            "backing file: "
                + testbed.localDir()
                + "/"
                + BACKUPS
                + "/"
                + full.getStatus().location
                + "/vda.qcow2");
    assertThat(incremental.getStatus().disks.get(0).sha256).isEqualTo(sha256(incrementalImage));

    // Disaster recovery: a new cluster with the same host finds the backups in its directory.
    try (TestCluster fresh = TestCluster.startAnother();
        KubernetesClient freshClient = fresh.newClient();
        RunningOperator freshOperator = RunningOperator.start(fresh.newClient())) {
      freshClient
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
          .serverSideApply();
      freshClient.resource(host()).create();
      freshClient.resource(localDomain(BACKUPS, StorageContent.Backups)).create();
      List<VirtualMachineBackup> found =
          await()
              .atMost(TIMEOUT)
              .until(
                  () ->
                      freshClient
                          .resources(VirtualMachineBackup.class)
                          .inNamespace(NS)
                          .list()
                          .getItems(),
                  list ->
                      list.size() == 2
                          && list.stream()
                              .allMatch(
                                  b ->
                                      condition(b, "Complete").filter(status("True")).isPresent()));
      VirtualMachineBackup foundIncremental =
          found.stream()
              .filter(b -> b.getMetadata().getName().equals("incremental"))
              .findFirst()
              .orElseThrow();
      assertThat(foundIncremental.getStatus().rediscovered).isTrue();
      assertThat(foundIncremental.getStatus().hostName).isEqualTo(HOST);
      assertThat(foundIncremental.getStatus().parentBackupName).isEqualTo("full");
      assertThat(foundIncremental.getStatus().disks.get(0).sha256)
          .isEqualTo(incremental.getStatus().disks.get(0).sha256);
    }

    TinyGuest.writes(GUEST_IP, 4, 24, 0xa5); // the mistake the restore takes back
    client.resource(restore("roll-back", "incremental", "InPlace")).create();
    VirtualMachineRestore rolledBack = awaitRestoreFinished("roll-back");
    assertThat(condition(rolledBack, "Succeeded"))
        .as("restore: %s", rolledBack.getStatus().conditions)
        .get()
        .matches(status("True"));
    await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> TinyGuest.bootId(GUEST_IP), id -> id.isPresent() && !id.get().equals(firstBoot));
    Path disk = hostPathSeenHere(vm(VM).getStatus().disks.get(0).source);
    assertThat(readPattern(disk, "read -P 0x3c 8M 3M"))
        .as("the change the incremental holds")
        .doesNotContain("failed");
    assertThat(readPattern(disk, "read -P 0x5a 11M 17M"))
        .as("what the full holds and the incremental did not change")
        .doesNotContain("failed");

    client.resource(restore("copy", "full", "copy-of-kept-here")).create();
    VirtualMachineRestore copied = awaitRestoreFinished("copy");
    assertThat(condition(copied, "Succeeded"))
        .as("restore: %s", copied.getStatus().conditions)
        .get()
        .matches(status("True"));
    VirtualMachine copy = vm("copy-of-kept-here");
    assertThat(copy.getSpec().hostName)
        .as("its disk is on that host's local storage")
        .isEqualTo(HOST);
    Path copiedDisk = hostDirectory(DISKS).resolve(copy.getSpec().disks.get(0).image.volume);
    assertThat(run("qemu-img", "compare", "-U", fullImage.toString(), copiedDisk.toString()))
        .contains("Images are identical");

    deleteBackupsNewestFirst();
    assertThat(hostDirectory(BACKUPS).resolve("bastida-backups"))
        .as("nothing left behind")
        .doesNotExist();
  }

  @Test
  void aVmOnLocalStorageIsBackedUpOntoAnNfsExportTheHostsWouldMountAndRestoredFromIt()
      throws Exception {
    NFS.mkdirs(testbed.nfsServer(), testbed.nfsExport(), MOUNT_FOLDER);
    NfsSource nfs = new NfsSource();
    nfs.setServer(testbed.nfsServer());
    nfs.setPath(testbed.nfsExport() + "/" + MOUNT_FOLDER);
    nfs.setAccess(NfsAccess.Mount);
    StorageDomainSpec spec = new StorageDomainSpec();
    spec.setNfs(nfs);
    spec.setContent(List.of(StorageContent.Backups));
    StorageDomain mount = new StorageDomain();
    mount.setMetadata(new ObjectMetaBuilder().withName(MOUNT).build());
    mount.setSpec(spec);
    // The testbed's hosts have no kernel NFS client, so its pool never mounts there: backups do
    // not need it, the operator writes the export itself.
    client.resource(Resources.selecting(mount, LABELS)).create();
    TinyGuest.writes(GUEST_IP, 28, 2, 0x77);

    VirtualMachineBackup backup =
        awaitCompleteBackup("to-mounted-share", BackupMode.Full, MOUNT, true);
    assertThat(backup.getStatus().verified)
        .as("compared with the VM's disk at backup time")
        .isTrue();
    Path folder = testbed.nfsDirectory().resolve(MOUNT_FOLDER).resolve(backup.getStatus().location);
    assertThat(backup.getStatus().disks.get(0).sha256)
        .isEqualTo(sha256(folder.resolve("vda.qcow2")));
    assertThat(readPattern(folder.resolve("vda.qcow2"), "read -P 0x77 28M 2M"))
        .doesNotContain("failed");
    var verification =
        new ObjectMapper().readTree(folder.resolve("manifest.json").toFile()).path("verified");
    assertThat(verification.path("method").asText())
        .contains("qemu-img compare")
        .contains("booted a throwaway copy on host " + HOST);
    assertThat(verification.path("message").asText()).contains("its guest agent answered");
    try (var files = Files.list(folder)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .as("its overlay is gone")
          .containsExactlyInAnyOrder("vda.qcow2", "manifest.json", "vm.json", "domain.xml");
    }

    // The NFS backup goes back onto the VM's disk file on its host, through the operator.
    String bootBefore = TinyGuest.bootId(GUEST_IP).orElseThrow();
    TinyGuest.writes(GUEST_IP, 28, 2, 0x99); // after the backup: the restore takes it back
    client.resource(restore("from-share", "to-mounted-share", "InPlace")).create();
    VirtualMachineRestore back = awaitRestoreFinished("from-share");
    assertThat(condition(back, "Succeeded"))
        .as("restore: %s", back.getStatus().conditions)
        .get()
        .matches(status("True"));
    await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> TinyGuest.bootId(GUEST_IP), id -> id.isPresent() && !id.get().equals(bootBefore));
    Path disk = hostPathSeenHere(vm(VM).getStatus().disks.get(0).source);
    assertThat(readPattern(disk, "read -P 0x77 28M 2M"))
        .as("the disk file holds what the backup on the share held")
        .doesNotContain("failed");
    client.resource(back).delete();

    client.resource(backup).delete();
    await().atMost(TIMEOUT).until(() -> backupOf("to-mounted-share") == null);
    assertThat(folder).doesNotExist();
  }

  private static Host host() {
    return Resources.emulated(
        Resources.withLabels(Resources.host(HOST, testbed.tcpUri(TESTBED_HOST)), LABELS));
  }

  private static StorageDomain localDomain(String name, StorageContent content) {
    StorageDomain domain =
        Resources.selecting(Resources.localDomain(name, testbed.localDir() + "/" + name), LABELS);
    domain.getSpec().setContent(List.of(content));
    return domain;
  }

  private static String startGuest() throws Exception {
    VirtualMachine vm = testbed.tinyGuestVm(NS, VM, GUEST_IP, Testbed.guest(), DISKS, LABELS);
    vm.getSpec().runStrategy = RunStrategy.Always;
    // The tiny guest runs qemu-ga when its domain has the channel: quiesce and the boot check ask
    // it.
    vm.getSpec().guestAgent = true;
    client.resource(vm).create();
    return await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> TinyGuest.bootId(GUEST_IP), Optional::isPresent)
        .orElseThrow();
  }

  private static VirtualMachineBackup awaitCompleteBackup(String name, BackupMode mode) {
    return awaitCompleteBackup(name, mode, BACKUPS, false);
  }

  private static VirtualMachineBackup awaitCompleteBackup(
      String name, BackupMode mode, String storage, boolean verifyAndQuiesce) {
    var spec = new VirtualMachineBackupSpec();
    spec.vmName = VM;
    spec.storageDomainName = storage;
    spec.mode = mode;
    spec.verify = verifyAndQuiesce;
    spec.quiesce = verifyAndQuiesce;
    var backup = new VirtualMachineBackup();
    backup.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    backup.setSpec(spec);
    client.resource(backup).create();
    VirtualMachineBackup done =
        await().atMost(TIMEOUT).until(() -> backupOf(name), BackupFixtures::finished);
    assertThat(condition(done, "Complete"))
        .as("backup %s: %s", name, done.getStatus().conditions)
        .get()
        .matches(status("True"));
    return done;
  }

  private static VirtualMachineRestore restore(String name, String backup, String target) {
    var spec = new VirtualMachineRestoreSpec();
    spec.vmName = VM;
    spec.backupName = backup;
    spec.target = target;
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

  private static void deleteBackupsNewestFirst() {
    for (String name : List.of("incremental", "full", "to-mounted-share")) {
      VirtualMachineBackup backup = backupOf(name);
      if (backup != null) {
        client.resource(backup).delete();
        await().atMost(TIMEOUT).until(() -> backupOf(name) == null);
      }
    }
  }

  private static VirtualMachineBackup backupOf(String name) {
    return client.resources(VirtualMachineBackup.class).inNamespace(NS).withName(name).get();
  }

  private static VirtualMachine vm(String name) {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(name).get();
  }

  /** A file of a backup, in the backup storage domain's directory on the host. */
  private static Path stored(VirtualMachineBackup backup, String file) {
    return hostDirectory(BACKUPS).resolve(backup.getStatus().location).resolve(file);
  }

  private static Path hostDirectory(String storageDomain) {
    return testbed.localDirBacking(TESTBED_HOST).resolve(storageDomain);
  }

  private static Path hostPathSeenHere(String hostPath) {
    assertThat(hostPath).startsWith(testbed.localDir() + "/");
    return testbed
        .localDirBacking(TESTBED_HOST)
        .resolve(hostPath.substring(testbed.localDir().length() + 1));
  }

  private static void removeDirectories() throws IOException {
    for (String name : List.of(DISKS, BACKUPS)) {
      Path dir = testbed.localDirBacking(TESTBED_HOST).resolve(name);
      if (Files.exists(dir)) {
        try (var walk = Files.walk(dir)) {
          walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }

  private static String readPattern(Path image, String qemuIoRead) throws Exception {
    return run("qemu-io", "-r", "-U", "-f", "qcow2", "-c", qemuIoRead, image.toString());
  }

  private static String run(String... command) throws Exception {
    return BackupFixtures.run(command);
  }
}
