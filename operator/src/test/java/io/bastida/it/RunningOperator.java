package io.bastida.it;

import io.bastida.hypervisor.HypervisorConnector;
import io.bastida.operator.BastidaOperator;
import io.bastida.operator.OperatorSettings;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.function.UnaryOperator;

/** The real operator, in process, against the shared test cluster, with short intervals. */
public final class RunningOperator implements AutoCloseable {
  private final KubernetesClient client;
  private final BastidaOperator operator;

  private RunningOperator(KubernetesClient client, BastidaOperator operator) {
    this.client = client;
    this.operator = operator;
  }

  public static RunningOperator start(TestCluster cluster) {
    return start(cluster.newClient());
  }

  /** Runs with the given client's identity (e.g. the operator's ServiceAccount). */
  public static RunningOperator start(KubernetesClient client) {
    return start(client, settings(), connector -> connector);
  }

  /**
   * Runs with these settings, opening hosts through {@code connectors} wrapped around the real
   * libvirt connector (e.g. to stand in for what the test driver cannot do).
   */
  public static RunningOperator start(
      KubernetesClient client,
      OperatorSettings settings,
      UnaryOperator<HypervisorConnector> connectors) {
    return start(client, settings, connectors, Clock.systemUTC());
  }

  /** Runs on the given clock: schedules and times follow it. */
  public static RunningOperator start(
      KubernetesClient client,
      OperatorSettings settings,
      UnaryOperator<HypervisorConnector> connectors,
      Clock clock) {
    try {
      BastidaOperator operator = new BastidaOperator(client, settings, clock, connectors);
      operator.start();
      return new RunningOperator(client, operator);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Short intervals, the default migration limits. */
  public static OperatorSettings settings() {
    return new OperatorSettings(
        TestCluster.OPERATOR_NAMESPACE,
        false, // one operator per test class: a lease left by the previous one would stall it
        0,
        Duration.ofSeconds(2),
        Duration.ofSeconds(5),
        Duration.ofSeconds(3),
        // VMs are rechecked rarely: what happens to their domains must arrive as events.
        Duration.ofSeconds(60),
        Duration.ofSeconds(2),
        2,
        5,
        // Backup policies under a test clock look at it often.
        Duration.ofMillis(200),
        java.nio.file.Path.of(System.getProperty("java.io.tmpdir")));
  }

  @Override
  public void close() {
    operator.close();
    client.close();
  }
}
