package io.bastida.operator.host;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostStatus;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.fabric8.kubernetes.api.model.Condition;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Connects to each Host and reports its health and capacity; rechecks periodically. */
@ControllerConfiguration(name = "host")
public class HostReconciler implements Reconciler<Host> {
  private static final Logger log = LoggerFactory.getLogger(HostReconciler.class);

  private final HostConnections connections;
  private final HostTargets targets;
  private final HostStatusPlanner planner;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;
  private final Duration recheckInterval;

  public HostReconciler(
      HostConnections connections,
      HostTargets targets,
      HostStatusPlanner planner,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock,
      Duration recheckInterval) {
    this.connections = connections;
    this.targets = targets;
    this.planner = planner;
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
    this.recheckInterval = recheckInterval;
  }

  @Override
  public UpdateControl<Host> reconcile(Host host, Context<Host> context) {
    connections.retainOnly(
        context
            .getPrimaryCache()
            .list()
            .map(h -> h.getMetadata().getName())
            .collect(Collectors.toSet()));

    HostObservation observation = observe(host);
    HostStatus previous = host.getStatus();
    HostStatus desired =
        planner.plan(
            host.getSpec(), previous, observation, host.getSpec().getUri(), clock.instant());
    recordReadinessChange(host, previous, desired);
    return statusWriter.update(host, desired).rescheduleAfter(recheckInterval);
  }

  private HostObservation observe(Host host) {
    String name = host.getMetadata().getName();
    try {
      var hypervisor = connections.get(name, targets.targetFor(host));
      return new HostObservation.Reached(hypervisor.nodeFacts());
    } catch (HostTargets.InvalidTargetException e) {
      return new HostObservation.Unreached(e.reason(), e.getMessage());
    } catch (HypervisorException e) {
      return new HostObservation.Unreached(e.failure().name(), e.getMessage());
    }
  }

  private void recordReadinessChange(Host host, HostStatus previous, HostStatus desired) {
    Optional<Condition> before =
        Optional.ofNullable(previous)
            .flatMap(p -> Conditions.find(p.getConditions(), HostStatusPlanner.READY));
    Condition after =
        Conditions.find(desired.getConditions(), HostStatusPlanner.READY).orElseThrow();
    boolean changed =
        before.isEmpty()
            || !Objects.equals(before.get().getStatus(), after.getStatus())
            || !Objects.equals(before.get().getReason(), after.getReason());
    if (!changed) {
      return;
    }
    String name = host.getMetadata().getName();
    if (Conditions.TRUE.equals(after.getStatus())) {
      log.info("Host({}): ready: {}", name, after.getMessage());
      events.normal(host, after.getReason(), after.getMessage());
    } else {
      log.warn("Host({}): not ready ({}): {}", name, after.getReason(), after.getMessage());
      events.warning(host, after.getReason(), after.getMessage());
    }
  }
}
