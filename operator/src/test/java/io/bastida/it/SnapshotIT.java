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
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreSpec;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.api.v1alpha1.VirtualMachineSnapshotSpec;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.DomainInfo.DomainState;

/**
 * Snapshots and restores from them on libvirt's test driver, with the real operator and a real API
 * server. The host is {@code test:///default}, shared by every connection of this JVM, so the test
 * sees the snapshots the operator took.
 */
class SnapshotIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String NS = "snapshots";
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static Connect libvirt;

  @BeforeAll
  static void start() throws Exception {
    cluster = TestCluster.get();
    client = cluster.newClient();
    cluster.kubectl("create", "namespace", NS);
    libvirt = new Connect("test:///default", false);
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() throws Exception {
    operator.close();
    client.close();
    libvirt.close();
  }

  @BeforeEach
  void hostAndStorage() {
    client.resource(host("snaps", "test:///default")).create();
    awaitCondition(
        () -> client.resources(Host.class).withName("snaps").get(), "Ready", status("True"));
    client.resource(localDomain("snapdisks", "/var/lib/bastida-it/snapshots")).create();
    awaitCondition(
        () -> client.resources(StorageDomain.class).withName("snapdisks").get(),
        "Ready",
        status("True"));
  }

  @AfterEach
  void cleanUp() {
    client.resources(VirtualMachineRestore.class).inNamespace(NS).delete();
    client.resources(VirtualMachineSnapshot.class).inNamespace(NS).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client
                    .resources(VirtualMachineSnapshot.class)
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
    client.resources(StorageDomain.class).withName("snapdisks").delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(StorageDomain.class).withName("snapdisks").get() == null);
    client.resources(Host.class).withName("snaps").delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(Host.class).withName("snaps").get() == null);
  }

  @Test
  void aSnapshotWithMemoryBringsAStoppedGuestBackRunning() throws Exception {
    runningUnderManual("app");

    client.resource(snapshot("app-before", "app", true)).create();
    awaitCondition(() -> snapshot("app-before"), "Ready", status("True"));

    VirtualMachineSnapshot taken = snapshot("app-before");
    assertThat(taken.getStatus().readyToUse).isTrue();
    assertThat(taken.getStatus().memoryIncluded).isTrue();
    assertThat(taken.getStatus().hostName).isEqualTo("snaps");
    assertThat(taken.getStatus().creationTime).isNotBlank();
    assertThat(List.of(libvirt.domainLookupByName("snapshots_app").snapshotListNames()))
        .containsExactly("app-before");
    assertThat(cluster.kubectl("get", "bvmsnap", "-n", NS).stdout())
        .containsPattern("app-before\\s+app\\s+true\\s+true");

    // The guest goes down; Manual leaves it off. The restore brings back the running moment.
    libvirt.domainLookupByName("snapshots_app").destroy();
    awaitCondition(() -> vm("app"), "Running", status("False"));
    client.resource(restore("app-back", "app", "app-before")).create();

    awaitCondition(() -> restore("app-back"), "Succeeded", status("True"));
    assertThat(libvirt.domainLookupByName("snapshots_app").getInfo().state)
        .isEqualTo(DomainState.VIR_DOMAIN_RUNNING);
    assertThat(restore("app-back").getStatus().restoredVmName).isEqualTo("app");
    awaitCondition(() -> vm("app"), "Ready", status("True"));
    assertThat(eventsFor(client, "VirtualMachine", "app"))
        .anyMatch(e -> e.getReason().equals("Restored"));
  }

  @Test
  void aSnapshotWithoutMemoryRestoresTheDisksAndLeavesTheGuestToBoot() throws Exception {
    runningUnderManual("db");
    client.resource(snapshot("db-disks", "db", false)).create();
    awaitCondition(() -> snapshot("db-disks"), "Ready", status("True"));
    assertThat(snapshot("db-disks").getStatus().memoryIncluded).isFalse();

    client.resource(restore("db-back", "db", "db-disks")).create();

    awaitCondition(() -> restore("db-back"), "Succeeded", reason("Restored"));
    assertThat(
            io.bastida.it.Resources.condition(restore("db-back"), "Succeeded")
                .orElseThrow()
                .getMessage())
        .endsWith("booting from its disks");
    // Manual does not start it: the RAM at snapshot time was not asked to be kept.
    assertThat(libvirt.domainLookupByName("snapshots_db").getInfo().state)
        .isEqualTo(DomainState.VIR_DOMAIN_SHUTOFF);
  }

  @Test
  void deletingTheResourceDeletesTheLibvirtSnapshot() throws Exception {
    client.resource(vm("web", RunStrategy.Always)).create();
    awaitCondition(() -> vm("web"), "Ready", status("True"));
    client.resource(snapshot("web-1", "web", false)).create();
    client.resource(snapshot("web-2", "web", true)).create();
    awaitCondition(() -> snapshot("web-2"), "Ready", status("True"));
    awaitCondition(() -> snapshot("web-1"), "Ready", status("True"));

    client.resources(VirtualMachineSnapshot.class).inNamespace(NS).withName("web-1").delete();

    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                List.of(libvirt.domainLookupByName("snapshots_web").snapshotListNames())
                    .equals(List.of("web-2")));
  }

  @Test
  void badReferencesAreReportedWithTheirReason() {
    client.resource(snapshot("ghost-snap", "ghost", true)).create();
    client.resource(restore("ghost-back", "ghost", "nothing-here")).create();

    awaitCondition(() -> snapshot("ghost-snap"), "Ready", reason("VmNotFound"));
    awaitCondition(() -> restore("ghost-back"), "Ready", reason("SnapshotNotFound"));
    assertThat(restore("ghost-back").getStatus().printableStatus).isEqualTo("Pending");
    assertThat(eventsFor(client, "VirtualMachineRestore", "ghost-back"))
        .anyMatch(e -> e.getType().equals("Warning") && e.getReason().equals("SnapshotNotFound"));

    assertThat(eventsFor(client, "VirtualMachineSnapshot", "ghost-snap"))
        .anyMatch(e -> e.getType().equals("Warning") && e.getReason().equals("VmNotFound"));
  }

  @Test
  void aSnapshotOfAVmWhoseHostIsGoneWaitsAndSaysWhy() throws Exception {
    client.resource(vm("orphan", RunStrategy.Always)).create();
    awaitCondition(() -> vm("orphan"), "Ready", status("True"));
    client.resources(Host.class).withName("snaps").delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(Host.class).withName("snaps").get() == null);

    client.resource(snapshot("orphan-snap", "orphan", true)).create();

    awaitCondition(() -> snapshot("orphan-snap"), "Ready", reason("HostNotReady"));
    assertThat(snapshot("orphan-snap").getStatus().readyToUse).isFalse();
    assertThat(eventsFor(client, "VirtualMachineSnapshot", "orphan-snap"))
        .anyMatch(e -> e.getType().equals("Warning") && e.getReason().equals("HostNotReady"));
    // The host is back (clean-up needs it): the snapshot is taken after all.
    client.resource(host("snaps", "test:///default")).create();
    awaitCondition(() -> snapshot("orphan-snap"), "Ready", status("True"));
  }

  /** Started under Always, then Manual: Bastida leaves its power alone from then on. */
  private void runningUnderManual(String name) {
    client.resource(vm(name, RunStrategy.Always)).create();
    awaitCondition(() -> vm(name), "Ready", status("True"));
    client
        .resources(VirtualMachine.class)
        .inNamespace(NS)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"runStrategy\":\"Manual\"}}");
    await().atMost(TIMEOUT).until(() -> vm(name).getStatus().observedGeneration == 2L);
  }

  private VirtualMachine vm(String name, RunStrategy strategy) {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.runStrategy = strategy;
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "128Mi";
    var disk = new VirtualMachineSpec.Disk();
    disk.name = "root";
    disk.blank = new VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = "snapdisks";
    disk.blank.size = "1Gi";
    spec.disks = new ArrayList<>(List.of(disk));
    spec.terminationGracePeriodSeconds = 5;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    vm.setSpec(spec);
    return vm;
  }

  private static VirtualMachineSnapshot snapshot(String name, String vmName, boolean memory) {
    var spec = new VirtualMachineSnapshotSpec();
    spec.vmName = vmName;
    spec.memory = memory;
    var snapshot = new VirtualMachineSnapshot();
    snapshot.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    snapshot.setSpec(spec);
    return snapshot;
  }

  private static VirtualMachineRestore restore(String name, String vmName, String snapshotName) {
    var spec = new VirtualMachineRestoreSpec();
    spec.vmName = vmName;
    spec.snapshotName = snapshotName;
    var restore = new VirtualMachineRestore();
    restore.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    restore.setSpec(spec);
    return restore;
  }

  private VirtualMachine vm(String name) {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachineSnapshot snapshot(String name) {
    return client.resources(VirtualMachineSnapshot.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachineRestore restore(String name) {
    return client.resources(VirtualMachineRestore.class).inNamespace(NS).withName(name).get();
  }
}
