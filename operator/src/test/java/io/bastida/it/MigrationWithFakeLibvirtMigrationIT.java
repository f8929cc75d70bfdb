package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostDrainStatus;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Migrations and host maintenance on the real API server with test-driver hosts. The test driver
 * cannot migrate, so {@link FakeLibvirtMigration} stands in for libvirt's migration call (and only
 * for it): the class name says so. Real migrations are in {@code MaintenanceDrainE2E}.
 */
class MigrationWithFakeLibvirtMigrationIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String NS = "campus";
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static FakeLibvirtMigration fake;

  @TempDir static Path nodes;

  @BeforeAll
  static void start() throws Exception {
    cluster = TestCluster.get();
    client = cluster.newClient();
    cluster.kubectl("create", "namespace", NS);
    Files.writeString(nodes.resolve("a.xml"), TestDriverNodes.node(8, 8L << 20));
    Files.writeString(nodes.resolve("b.xml"), TestDriverNodes.node(8, 8L << 20));
    operator =
        RunningOperator.start(
            cluster.newClient(),
            // One migration out of a host at a time, to see the limit hold.
            RunningOperator.settings().withMigrationLimits(1, 5),
            connector -> fake = new FakeLibvirtMigration(connector));
  }

  @AfterAll
  static void stop() {
    operator.close();
    client.close();
  }

  @BeforeEach
  void hostAWithStorage() {
    fake.jobDuration(Duration.ofSeconds(2));
    fake.forgetDowntimeChanges();
    createHost("mig-a");
    client.resource(localDomain("mig-scratch", "/var/lib/bastida-it/migration")).create();
    awaitCondition(
        () -> client.resources(StorageDomain.class).withName("mig-scratch").get(),
        "Ready",
        status("True"));
  }

  @AfterEach
  void cleanUp() {
    client.resources(VirtualMachineMigration.class).inNamespace(NS).delete();
    client.resources(VirtualMachine.class).inNamespace(NS).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().isEmpty()
                    && client
                        .resources(VirtualMachineMigration.class)
                        .inNamespace(NS)
                        .list()
                        .getItems()
                        .isEmpty());
    client.resources(StorageDomain.class).delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(StorageDomain.class).list().getItems().isEmpty());
    client.resources(Host.class).delete();
    await().atMost(TIMEOUT).until(() -> client.resources(Host.class).list().getItems().isEmpty());
  }

  @Test
  void aMigrationMovesTheVmWithProgressAndDowntimeInStatus_fakeLibvirtMigration() {
    createVm("web", spec -> spec);
    awaitReady("web");
    createHost("mig-b");
    fake.jobDuration(Duration.ofSeconds(4));

    client.resource(Resources.migration(NS, "web-move", "web", null)).create();

    var running = awaitCondition(() -> getMigration("web-move"), "Running", status("True"));
    assertThat(running.getMessage()).contains("from host mig-a to host mig-b");
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                getMigration("web-move").getStatus().progress != null
                    && getMigration("web-move").getStatus().progress.dataProcessedBytes > 0);
    awaitCondition(this::getWeb, "Migrating", status("True"));
    var done = awaitCondition(() -> getMigration("web-move"), "Succeeded", status("True"));

    var status = getMigration("web-move").getStatus();
    assertThat(done.getMessage()).contains("downtime 42 ms", "128 MiB sent");
    assertThat(status.sourceHostName).isEqualTo("mig-a");
    assertThat(status.targetHostName).as("chosen like a placement").isEqualTo("mig-b");
    assertThat(status.downtimeMilliseconds).isEqualTo(42);
    assertThat(status.durationMilliseconds).isGreaterThanOrEqualTo(4000);
    assertThat(status.completionTime).isNotNull();
    await().atMost(TIMEOUT).until(() -> "mig-b".equals(getWeb().getStatus().hostName));
    awaitCondition(this::getWeb, "Migrating", status("False"));
    awaitReady("web");
    assertThat(domainOn("mig-b", "campus_web")).isTrue();
    assertThat(domainOn("mig-a", "campus_web")).as("undefined on the source").isFalse();
    assertThat(eventsFor(client, "VirtualMachine", "web").stream().map(Event::getReason))
        .contains("Migrated");
    assertThat(cluster.kubectl("get", "bvmim", "-n", NS).stdout())
        .containsPattern("web-move\\s+web\\s+Succeeded\\s+mig-a\\s+mig-b\\s+42");
  }

  @Test
  void badMigrationsFailWithASpecificReason_fakeLibvirtMigration() {
    createVm("web", spec -> spec);
    createVm(
        "off",
        spec -> {
          spec.runStrategy = RunStrategy.Halted;
          return spec;
        });
    awaitReady("web");
    awaitCondition(() -> get("off"), "Running", status("False"));
    createHost("mig-b");
    Resources.setMaintenance(client, "mig-b", true);

    client.resource(Resources.migration(NS, "ghost", "nobody", null)).create();
    client.resource(Resources.migration(NS, "stopped", "off", "mig-b")).create();
    // Web's one at a time: one created in an earlier second and not refused yet would go first,
    // and this one would fail AlreadyMigrating instead of with its own reason.
    client.resource(Resources.migration(NS, "nowhere-new", "web", "mig-a")).create();
    assertFailed("nowhere-new", "SameHost", "already runs on host mig-a");
    client.resource(Resources.migration(NS, "into-maintenance", "web", "mig-b")).create();
    assertFailed("into-maintenance", "TargetHostInMaintenance", "mig-b is in maintenance");
    client.resource(Resources.migration(NS, "unknown-host", "web", "mig-z")).create();
    assertFailed("unknown-host", "TargetHostNotFound", "host mig-z does not exist");

    assertFailed("ghost", "VmNotFound", "VirtualMachine campus/nobody does not exist");
    assertFailed("stopped", "VmNotRunning", "is not running");
    assertThat(getWeb().getStatus().hostName).isEqualTo("mig-a");
    assertThat(eventsFor(client, "VirtualMachineMigration", "ghost"))
        .anySatisfy(e -> assertThat(e.getType()).isEqualTo("Warning"));

    var patch =
        cluster.kubectl(
            "patch",
            "bvmim",
            "ghost",
            "-n",
            NS,
            "--type=merge",
            "-p",
            "{\"spec\":{\"vmName\":\"web\"}}");
    assertThat(patch.exitCode()).isNotZero();
    assertThat(patch.stderr()).contains("spec is immutable");
  }

  @Test
  void aSecondMigrationOfAMigratingVmFails_fakeLibvirtMigration() {
    createVm("web", spec -> spec);
    awaitReady("web");
    createHost("mig-b");
    fake.jobDuration(Duration.ofSeconds(6));
    client.resource(Resources.migration(NS, "first", "web", "mig-b")).create();
    awaitCondition(() -> getMigration("first"), "Running", status("True"));

    client.resource(Resources.migration(NS, "second", "web", "mig-b")).create();

    assertFailed("second", "AlreadyMigrating", "already has migration first in progress");
    awaitCondition(() -> getMigration("first"), "Succeeded", status("True"));
  }

  @Test
  void deletingARunningMigrationAbortsItAndTheVmStaysOnItsSource_fakeLibvirtMigration() {
    createVm("web", spec -> spec);
    awaitReady("web");
    createHost("mig-b");
    fake.jobDuration(Duration.ofSeconds(60));
    client.resource(Resources.migration(NS, "web-move", "web", "mig-b")).create();
    awaitCondition(() -> getMigration("web-move"), "Running", status("True"));
    await().atMost(TIMEOUT).until(() -> fake.running() == 1);

    client.resources(VirtualMachineMigration.class).inNamespace(NS).withName("web-move").delete();

    await().atMost(TIMEOUT).until(() -> getMigration("web-move") == null);
    assertThat(fake.running()).isZero();
    assertThat(domainOn("mig-a", "campus_web")).isTrue();
    assertThat(domainOn("mig-b", "campus_web")).isFalse();
    awaitCondition(this::getWeb, "Migrating", status("False"));
    awaitReady("web");
    assertThat(getWeb().getStatus().hostName).isEqualTo("mig-a");
    assertThat(eventsFor(client, "VirtualMachine", "web").stream().map(Event::getReason))
        .contains("MigrationAborted");
  }

  @Test
  void deletingAVmWhileItMigratesAbortsTheMoveThenDeletesIt_fakeLibvirtMigration() {
    createVm("web", spec -> spec);
    awaitReady("web");
    createHost("mig-b");
    fake.jobDuration(Duration.ofSeconds(60));
    client.resource(Resources.migration(NS, "web-move", "web", "mig-b")).create();
    await().atMost(TIMEOUT).until(() -> fake.running() == 1);

    client.resources(VirtualMachine.class).inNamespace(NS).withName("web").delete();

    await().atMost(TIMEOUT).until(() -> get("web") == null);
    assertThat(getMigration("web-move")).isNull();
    assertThat(fake.running()).isZero();
    assertThat(domainOn("mig-a", "campus_web")).isFalse();
    assertThat(domainOn("mig-b", "campus_web")).isFalse();
  }

  @Test
  void aMigrationThatDoesNotConvergeRaisesTheAllowedDowntimeThenTimesOut_fakeLibvirtMigration() {
    createVm("web", spec -> spec);
    awaitReady("web");
    createHost("mig-b");
    fake.jobDuration(Duration.ofSeconds(60));
    var slow = Resources.migration(NS, "slow", "web", "mig-b");
    slow.getSpec().timeoutSeconds = 6;
    slow.getSpec().maxDowntimeMilliseconds = 300;
    client.resource(slow).create();

    var failed = awaitCondition(() -> getMigration("slow"), "Failed", status("True"));

    assertThat(failed.getReason()).isEqualTo("MigrationTimedOut");
    assertThat(failed.getMessage()).contains("not done after 6 s", "goes on running");
    // One pass over memory per second in the fake: raised after passes 2 and 4, up to the goal.
    assertThat(fake.downtimeChanges()).contains("campus_web=200", "campus_web=300");
    assertThat(fake.downtimeChanges()).noneMatch(c -> c.endsWith("=400"));
    assertThat(domainOn("mig-a", "campus_web")).isTrue();
    assertThat(getWeb().getStatus().hostName).isEqualTo("mig-a");
  }

  @Test
  void maintenanceDrainsWithinTheLimitAndEndingItCancelsWhatHasNotStarted_fakeLibvirtMigration() {
    for (String name : List.of("vm1", "vm2", "vm3")) {
      createVm(name, spec -> spec);
    }
    createVm(
        "stays",
        spec -> {
          spec.evictionStrategy = VirtualMachineSpec.EvictionStrategy.None;
          return spec;
        });
    createVm(
        "batch",
        spec -> {
          spec.evictionStrategy = VirtualMachineSpec.EvictionStrategy.Shutdown;
          return spec;
        });
    for (String name : List.of("vm1", "vm2", "vm3", "stays", "batch")) {
      awaitReady(name);
    }
    createHost("mig-b");
    fake.jobDuration(Duration.ofSeconds(3));
    AtomicInteger mostAtOnce = new AtomicInteger();
    Thread sampler = sample(mostAtOnce);

    Resources.setMaintenance(client, "mig-a", true);

    var draining = awaitCondition(() -> getHost("mig-a"), "Draining", status("True"));
    assertThat(draining.getReason()).isEqualTo("DrainBlocked");
    awaitCondition(() -> getHost("mig-a"), "Schedulable", status("False"));
    HostDrainStatus drain = getHost("mig-a").getStatus().getDrain();
    assertThat(drain.vmsTotal).isEqualTo(5);
    assertThat(drain.vms)
        .filteredOn(v -> v.name.startsWith("vm"))
        .allSatisfy(
            v -> {
              assertThat(v.action).isEqualTo("LiveMigrate");
              assertThat(v.targetHostName).isEqualTo("mig-b");
            });
    assertThat(drain.vms)
        .filteredOn(v -> v.name.equals("stays"))
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.action).isEqualTo("Blocked");
              assertThat(v.message).contains("evictionStrategy is None");
            });
    assertThat(drain.vms)
        .filteredOn(v -> v.name.equals("batch"))
        .singleElement()
        .satisfies(v -> assertThat(v.action).isEqualTo("Shutdown"));

    // End maintenance once the first VM has moved: the rest stay where they are.
    await().atMost(TIMEOUT).until(() -> onHost("mig-b") >= 1);
    Resources.setMaintenance(client, "mig-a", false);
    awaitCondition(() -> getHost("mig-a"), "Schedulable", status("True"));
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client
                    .resources(VirtualMachineMigration.class)
                    .inNamespace(NS)
                    .list()
                    .getItems()
                    .stream()
                    .allMatch(m -> m.getStatus() != null && m.getStatus().completionTime != null));
    assertThat(getHost("mig-a").getStatus().getDrain()).isNull();
    int moved = onHost("mig-b");
    assertThat(moved).as("cancelled before they started").isBetween(1, 2);
    assertThat(onHost("mig-a")).isEqualTo(5 - moved);
    awaitReady("batch"); // started again once maintenance ended

    // Maintenance again: everything movable moves; the None VM blocks the drain, visibly.
    Resources.setMaintenance(client, "mig-a", true);
    await().atMost(TIMEOUT).until(() -> onHost("mig-b") == 3);
    var stillDraining = awaitCondition(() -> getHost("mig-a"), "Draining", reason("DrainBlocked"));
    assertThat(stillDraining.getMessage()).contains("1 blocked");
    await().atMost(TIMEOUT).until(() -> getHost("mig-a").getStatus().getDrain().vmsRemaining == 1);
    awaitCondition(() -> get("batch"), "Ready", reason("HostInMaintenance"));
    sampler.interrupt();
    assertThat(mostAtOnce.get()).as("migrations out of mig-a at once").isEqualTo(1);
    for (String name : List.of("vm1", "vm2", "vm3")) {
      assertThat(get(name).getStatus().hostName).isEqualTo("mig-b");
      awaitReady(name);
    }

    // The last one stopped by hand: the host is empty and in maintenance.
    client
        .resources(VirtualMachine.class)
        .inNamespace(NS)
        .withName("stays")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"runStrategy\":\"Halted\"}}");
    awaitCondition(() -> getHost("mig-a"), "InMaintenance", status("True"));
    awaitCondition(() -> getHost("mig-a"), "Draining", status("False"));
    assertThat(eventsFor(client, "Host", "mig-a").stream().map(Event::getReason))
        .contains("Drained");
  }

  private Thread sample(AtomicInteger mostAtOnce) {
    Thread sampler =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                mostAtOnce.accumulateAndGet(fake.running(), Math::max);
                try {
                  Thread.sleep(20);
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    sampler.setDaemon(true);
    sampler.start();
    return sampler;
  }

  private void assertFailed(String migration, String reason, String message) {
    var failed = awaitCondition(() -> getMigration(migration), "Failed", status("True"));
    assertThat(failed.getReason()).isEqualTo(reason);
    assertThat(failed.getMessage()).contains(message);
    assertThat(getMigration(migration).getStatus().printableStatus).isEqualTo("Failed");
  }

  private void createHost(String name) {
    client.resource(host(name, uriOf(name))).create();
    awaitCondition(() -> getHost(name), "Ready", status("True"));
    if (client.resources(StorageDomain.class).withName("mig-scratch").get() != null) {
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  client
                      .resources(StorageDomain.class)
                      .withName("mig-scratch")
                      .get()
                      .getStatus()
                      .getHosts()
                      .stream()
                      .anyMatch(h -> h.getHostName().equals(name) && h.isAttached()));
    }
  }

  private int onHost(String host) {
    return (int)
        client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().stream()
            .filter(vm -> vm.getStatus() != null && host.equals(vm.getStatus().hostName))
            .count();
  }

  /** Asks the host through the operator's own connection (a fresh open would be a new copy). */
  private boolean domainOn(String host, String domain) {
    return fake.hasDomain(uriOf(host), domain);
  }

  private String uriOf(String host) {
    return "test://" + nodes.resolve(host.substring(4) + ".xml");
  }

  private void createVm(String name, UnaryOperator<VirtualMachineSpec> customize) {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "512Mi";
    var disk = new VirtualMachineSpec.Disk();
    disk.name = "root";
    disk.blank = new VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = "mig-scratch";
    disk.blank.size = "1Gi";
    spec.disks = new ArrayList<>(List.of(disk));
    spec.terminationGracePeriodSeconds = 2;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    vm.setSpec(customize.apply(spec));
    client.resource(vm).create();
  }

  private Host getHost(String name) {
    return client.resources(Host.class).withName(name).get();
  }

  private VirtualMachine get(String name) {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachine getWeb() {
    return get("web");
  }

  private VirtualMachineMigration getMigration(String name) {
    return client.resources(VirtualMachineMigration.class).inNamespace(NS).withName(name).get();
  }

  private void awaitReady(String name) {
    awaitCondition(() -> get(name), "Ready", status("True"));
  }
}
