package io.bastida.it;

import io.bastida.operator.BastidaOperator;
import io.bastida.operator.OperatorSettings;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;

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
    var settings =
        new OperatorSettings(
            TestCluster.OPERATOR_NAMESPACE,
            false, // one operator per test class: a lease left by the previous one would stall it
            0,
            Duration.ofSeconds(2),
            Duration.ofSeconds(5),
            Duration.ofSeconds(3),
            // VMs are rechecked rarely: what happens to their domains must arrive as events.
            Duration.ofSeconds(60),
            Duration.ofSeconds(2));
    try {
      BastidaOperator operator = new BastidaOperator(client, settings, Clock.systemUTC());
      operator.start();
      return new RunningOperator(client, operator);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    operator.close();
    client.close();
  }
}
