package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.status;
import static io.bastida.it.Resources.withSecret;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;

/** Hosts on libvirt's test driver, reconciled by the real operator against a real API server. */
class HostIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;

  @TempDir static Path nodes;

  @BeforeAll
  static void start() {
    cluster = TestCluster.get();
    client = cluster.newClient();
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() {
    operator.close();
    client.close();
  }

  @AfterEach
  void deleteHosts() {
    client.resources(Host.class).delete();
    client.secrets().inNamespace(TestCluster.OPERATOR_NAMESPACE).delete();
    await().atMost(TIMEOUT).until(() -> client.resources(Host.class).list().getItems().isEmpty());
  }

  @Test
  void hostBecomesReadyWithTheCapacityLibvirtReports() throws Exception {
    Path node = nodes.resolve("rack1.xml");
    Files.writeString(node, TestDriverNodes.node(12, 32L * 1024 * 1024));
    String uri = "test://" + node;
    client.resource(host("rack1", uri)).create();

    Host ready = awaitReady("rack1");

    Connect direct = new Connect(uri, true);
    try {
      var info = direct.nodeInfo();
      assertThat(ready.getStatus().getCapacity().getCpu()).isEqualTo(info.cpus).isEqualTo(12);
      assertThat(ready.getStatus().getCapacity().getMemory().toString())
          .isEqualTo(info.memory / 1024 + "Mi")
          .isEqualTo("32768Mi");
    } finally {
      direct.close();
    }
    assertThat(ready.getStatus().getAllocatable().getCpu()).isEqualTo(48);
    assertThat(ready.getStatus().getHypervisor()).startsWith("TEST");
    assertThat(ready.getStatus().getLibvirtVersion()).matches("\\d+\\.\\d+\\.\\d+");
    assertThat(ready.getStatus().getLastHeartbeatTime()).isNotNull();
    assertThat(ready.getStatus().getObservedGeneration())
        .isEqualTo(ready.getMetadata().getGeneration());
    assertThat(condition(ready, "Connected").map(Condition::getStatus)).contains("True");
    assertThat(condition(ready, "Schedulable").map(Condition::getStatus)).contains("True");

    var table = cluster.kubectl("get", "hosts");
    assertThat(table.exitCode()).isZero();
    assertThat(table.stdout().lines().findFirst().orElseThrow())
        .startsWith("NAME")
        .contains("READY", "REASON", "CPUS", "MEMORY", "DOMAINS", "MAINTENANCE", "AGE");
    assertThat(table.stdout()).containsPattern("rack1\\s+True\\s+HostReady\\s+12\\s+32768Mi");
    assertThat(
            cluster
                .kubectl("wait", "--for=condition=Ready", "host/rack1", "--timeout=5s")
                .exitCode())
        .isZero();
  }

  @Test
  void unreachableHostIsNotReadyWithTheReasonAndAWarningEvent() {
    // Port 1 on loopback: nothing listens, so the kernel refuses at once.
    client.resource(host("gone", "qemu+tcp://127.0.0.1:1/system")).create();

    Condition ready = awaitReadyCondition("gone", "False");

    assertThat(ready.getReason()).isEqualTo("ConnectionRefused");
    assertThat(ready.getMessage()).contains("127.0.0.1:1");
    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(eventsFor(client, "Host", "gone"))
                    .anySatisfy(
                        e -> {
                          assertThat(e.getType()).isEqualTo("Warning");
                          assertThat(e.getReason()).isEqualTo("ConnectionRefused");
                        }));
  }

  @Test
  void missingSecretIsReportedAndPickedUpOnceItExists() {
    client
        .resource(withSecret(host("guarded", "qemu+tcp://127.0.0.1:1/system"), "guarded-login"))
        .create();

    Condition missing = awaitReadyCondition("guarded", "False");
    assertThat(missing.getReason()).isEqualTo("SecretNotFound");
    assertThat(missing.getMessage()).contains("bastida-system/guarded-login");

    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("guarded-login")
                .withNamespace(TestCluster.OPERATOR_NAMESPACE)
                .endMetadata()
                .addToStringData("username", "admin")
                .addToStringData("password", "s3cret-never-logged")
                .build())
        .create();

    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(condition(get("guarded"), "Ready").map(Condition::getReason))
                    .contains("ConnectionRefused"));
    assertThat(client.resources(Host.class).withName("guarded").get().toString())
        .doesNotContain("s3cret-never-logged");
  }

  @Test
  void secretWithoutTheKeysTheTransportNeedsIsInvalid() {
    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("wrong-keys")
                .withNamespace(TestCluster.OPERATOR_NAMESPACE)
                .endMetadata()
                .addToStringData("username", "admin")
                .build())
        .create();
    client
        .resource(withSecret(host("sshhost", "qemu+ssh://root@127.0.0.1:1/system"), "wrong-keys"))
        .create();

    Condition ready = awaitReadyCondition("sshhost", "False");

    assertThat(ready.getReason()).isEqualTo("SecretInvalid");
    assertThat(ready.getMessage()).contains("ssh-privatekey");
  }

  @Test
  void maintenanceMakesAReadyHostUnschedulable() throws Exception {
    client.resource(host("maint", "test:///default")).create();
    awaitReady("maint");

    client
        .resources(Host.class)
        .withName("maint")
        .edit(
            h -> {
              h.getSpec().setMaintenance(true);
              return h;
            });

    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(condition(get("maint"), "Schedulable").map(Condition::getReason))
                    .contains("Maintenance"));
    assertThat(condition(get("maint"), "Ready").map(Condition::getStatus)).contains("True");
  }

  private Host get(String name) {
    return client.resources(Host.class).withName(name).get();
  }

  private Host awaitReady(String name) {
    awaitReadyCondition(name, "True");
    return get(name);
  }

  private Condition awaitReadyCondition(String name, String status) {
    return awaitCondition(() -> get(name), "Ready", status(status));
  }
}
