package io.bastida.operator.host;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostStatus;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.vm.domain.DomainXml;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Connects to each Host and reports its health and capacity; rechecks periodically. */
@ControllerConfiguration(name = "host")
public class HostReconciler implements Reconciler<Host>, Cleaner<Host> {
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
    HostObservation observation = observe(host);
    HostStatus previous = host.getStatus();
    HostStatus desired =
        planner.plan(
            host.getSpec(), previous, observation, host.getSpec().getUri(), clock.instant());
    recordReadinessChange(host, previous, desired);
    return statusWriter.update(host, desired).rescheduleAfter(recheckInterval);
  }

  /**
   * The connection holds state outside Kubernetes (an ssh process, credential files): it goes with
   * the Host.
   */
  @Override
  public DeleteControl cleanup(Host host, Context<Host> context) {
    connections.forget(host.getMetadata().getName());
    return DeleteControl.defaultDelete();
  }

  private HostObservation observe(Host host) {
    String name = host.getMetadata().getName();
    try {
      var hypervisor = connections.get(name, targets.targetFor(host));
      List<String> unmanaged =
          hypervisor.listDomains().stream()
              .filter(d -> DomainXml.ownerOf(d.xml()).isEmpty())
              .map(DomainState::name)
              .sorted()
              .toList();
      return new HostObservation.Reached(hypervisor.nodeFacts(), unmanaged);
    } catch (HostTargets.InvalidTargetException e) {
      return new HostObservation.Unreached(e.reason(), e.getMessage());
    } catch (HypervisorException e) {
      return new HostObservation.Unreached(e.failure().name(), e.getMessage());
    }
  }

  private void recordReadinessChange(Host host, HostStatus previous, HostStatus desired) {
    events.readinessChanged(
        host,
        Optional.ofNullable(previous)
            .flatMap(p -> Conditions.find(p.getConditions(), HostStatusPlanner.READY)),
        Conditions.find(desired.getConditions(), HostStatusPlanner.READY).orElseThrow(),
        Set.of());
  }
}
