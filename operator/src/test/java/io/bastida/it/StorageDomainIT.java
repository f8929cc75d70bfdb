package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.selecting;
import static io.bastida.it.Resources.status;
import static io.bastida.it.Resources.withLabels;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainHostStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;

/**
 * StorageDomains on test-driver hosts, reconciled by the real operator against a real API server.
 */
class StorageDomainIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static KubernetesClient client;
  private static RunningOperator operator;

  @TempDir static Path nodes;

  @BeforeAll
  static void start() {
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() {
    operator.close();
    client.close();
  }

  @AfterEach
  void cleanUp() {
    client.resources(StorageDomain.class).delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(StorageDomain.class).list().getItems().isEmpty());
    client.resources(Host.class).delete();
    await().atMost(TIMEOUT).until(() -> client.resources(Host.class).list().getItems().isEmpty());
  }

  @Test
  void localDomainAttachesToEverySelectedHostAsALibvirtPool() throws Exception {
    createHost("left", Map.of("storage", "local"));
    createHost("right", Map.of("storage", "local"));
    createHost("elsewhere", Map.of());
    client
        .resource(
            selecting(
                localDomain("scratch", "/var/lib/bastida-it/scratch"), Map.of("storage", "local")))
        .create();

    StorageDomain ready = awaitReady("scratch");

    assertThat(ready.getStatus().getAttachedHosts()).isEqualTo("2/2");
    assertThat(ready.getStatus().getType()).isEqualTo("Local");
    assertThat(ready.getStatus().getHosts())
        .extracting(
            StorageDomainHostStatus::getHostName,
            StorageDomainHostStatus::getPool,
            StorageDomainHostStatus::isAttached)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("left", "bastida-scratch", true),
            org.assertj.core.groups.Tuple.tuple("right", "bastida-scratch", true));
    // The test driver reports 100 GiB per directory pool; two hosts hold twice that.
    assertThat(ready.getStatus().getCapacity().toString()).isEqualTo("204800Mi");
    assertThat(ready.getStatus().getAvailable()).isNotNull();
  }

  @Test
  void hostThatJoinsLaterIsAttachedToo() throws Exception {
    createHost("first", Map.of());
    client.resource(localDomain("growing", "/var/lib/bastida-it/growing")).create();
    await().atMost(TIMEOUT).until(() -> "1/1".equals(attached("growing")));

    createHost("second", Map.of());

    await().atMost(TIMEOUT).until(() -> "2/2".equals(attached("growing")));
  }

  @Test
  void noMatchingHostIsReportedAsNotReady() {
    createHost("plain", Map.of());
    client
        .resource(selecting(localDomain("orphan", "/srv/orphan"), Map.of("storage", "ssd")))
        .create();

    Condition ready = awaitReadyCondition("orphan", "False");

    assertThat(ready.getReason()).isEqualTo("NoHosts");
  }

  @Test
  void deletionIsRefusedWhileTheDomainHoldsAVolumeAndNeverDeletesData() throws Exception {
    // test:///default is one shared in-process state: what this test creates, the operator sees.
    Connect libvirt = new Connect("test:///default", false);
    try {
      client.resource(host("shared", "test:///default")).create();
      client.resource(localDomain("keeper", "/var/lib/bastida-it/keeper")).create();
      awaitReady("keeper");
      StoragePool pool = libvirt.storagePoolLookupByName("bastida-keeper");
      var volume =
          pool.storageVolCreateXML(
              "<volume><name>web-root.qcow2</name><capacity unit='G'>1</capacity></volume>", 0);

      client.resources(StorageDomain.class).withName("keeper").delete();

      Condition blocked = awaitCondition(() -> get("keeper"), "Ready", reason("InUse"));
      assertThat(blocked.getStatus()).isEqualTo("False");
      assertThat(blocked.getMessage()).contains("shared: web-root.qcow2");
      assertThat(eventsFor(client, "StorageDomain", "keeper"))
          .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("DeletionBlocked"));
      assertThat(pool.isActive()).isEqualTo(1);

      volume.delete(0);

      await().atMost(TIMEOUT).until(() -> get("keeper") == null);
      assertThatThrownBy(() -> libvirt.storagePoolLookupByName("bastida-keeper"))
          .isInstanceOf(LibvirtException.class);
    } finally {
      libvirt.close();
    }
  }

  @Test
  void storageLocationIsImmutable() {
    createHost("solo", Map.of());
    client.resource(localDomain("fixed", "/srv/fixed")).create();

    var patch =
        TestCluster.get()
            .kubectl(
                "patch",
                "storagedomain",
                "fixed",
                "--type=merge",
                "-p",
                "{\"spec\":{\"local\":{\"path\":\"/srv/elsewhere\"}}}");

    assertThat(patch.exitCode()).isNotZero();
    assertThat(patch.stderr())
        .contains("spec.local.path: Invalid value: \"/srv/elsewhere\": is immutable");
  }

  private void createHost(String name, Map<String, String> labels) {
    try {
      Path node = nodes.resolve(name + ".xml");
      Files.writeString(node, TestDriverNodes.node(8, 16L * 1024 * 1024));
      client.resource(withLabels(host(name, "test://" + node), labels)).create();
      awaitCondition(
          () -> client.resources(Host.class).withName(name).get(), "Ready", status("True"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private String attached(String name) {
    StorageDomain domain = get(name);
    return domain == null || domain.getStatus() == null
        ? null
        : domain.getStatus().getAttachedHosts();
  }

  private StorageDomain get(String name) {
    return client.resources(StorageDomain.class).withName(name).get();
  }

  private StorageDomain awaitReady(String name) {
    awaitReadyCondition(name, "True");
    return get(name);
  }

  private Condition awaitReadyCondition(String name, String status) {
    return awaitCondition(() -> get(name), "Ready", status(status));
  }
}
