package io.bastida.operator.host;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostStatus;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.vm.domain.DomainXml;
import io.fabric8.kubernetes.api.model.Condition;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/** Connects to each Host and reports its health and capacity; rechecks periodically. */
@ControllerConfiguration(name = "host")
public class HostReconciler implements Reconciler<Host>, Cleaner<Host> {
  /** How often a drain is looked at while VMs remain (its migrations also wake it). */
  private static final Duration DRAIN_RECHECK = Duration.ofSeconds(2);

  private final HostConnections connections;
  private final HostTargets targets;
  private final HostStatusPlanner planner;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;
  private final Duration recheckInterval;
  private final HostDrain drain;
  private InformerEventSource<VirtualMachine, Host> vms;
  private InformerEventSource<VirtualMachineMigration, Host> migrations;

  public HostReconciler(
      HostConnections connections,
      HostTargets targets,
      HostStatusPlanner planner,
      HostDrain drain,
      StatusWriter statusWriter,
      EventRecorder events,
      Clock clock,
      Duration recheckInterval) {
    this.connections = connections;
    this.targets = targets;
    this.planner = planner;
    this.drain = drain;
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
    this.recheckInterval = recheckInterval;
  }

  @Override
  public List<EventSource<?, Host>> prepareEventSources(EventSourceContext<Host> context) {
    // A drain follows its VMs and migrations.
    vms =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachine.class, Host.class)
                // Only draining hosts care: the VM's own, and one it just left (whose drain plan
                // still lists it). The others would re-read libvirt for nothing.
                .withSecondaryToPrimaryMapper(vm -> drainingHostsOf(vm, context))
                .build(),
            context);
    migrations =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachineMigration.class, Host.class)
                .withSecondaryToPrimaryMapper(
                    m ->
                        m.getMetadata().getLabels() == null
                                || !m.getMetadata()
                                    .getLabels()
                                    .containsKey(HostDrain.DRAIN_HOST_LABEL)
                            ? Set.of()
                            : Set.of(
                                new ResourceID(
                                    m.getMetadata().getLabels().get(HostDrain.DRAIN_HOST_LABEL))))
                .build(),
            context);
    return List.of(vms, migrations);
  }

  private static Set<ResourceID> drainingHostsOf(
      VirtualMachine vm, EventSourceContext<Host> context) {
    String hostName = vm.getStatus() == null ? null : vm.getStatus().hostName;
    return context
        .getPrimaryCache()
        .list()
        .filter(host -> host.getSpec().isMaintenance())
        .filter(
            host ->
                host.getMetadata().getName().equals(hostName)
                    || (host.getStatus() != null
                        && host.getStatus().getDrain() != null
                        && host.getStatus().getDrain().vms.stream()
                            .anyMatch(
                                e ->
                                    e.name.equals(vm.getMetadata().getName())
                                        && e.namespace.equals(vm.getMetadata().getNamespace()))))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<Host> reconcile(Host host, Context<Host> context) {
    HostObservation observation = observe(host);
    HostStatus previous = host.getStatus();
    HostStatus desired =
        planner.plan(
            host.getSpec(), previous, observation, host.getSpec().getUri(), clock.instant());
    Duration next = recheckInterval;
    List<VirtualMachineMigration> allMigrations = migrations.list().toList();
    if (host.getSpec().isMaintenance()) {
      HostDrain.Result result =
          drain.step(
              host, context.getPrimaryCache().list().toList(), vms.list().toList(), allMigrations);
      desired.setDrain(result.drain());
      List<Condition> conditions = new ArrayList<>(desired.getConditions());
      conditions.addAll(result.conditions());
      desired.setConditions(conditions);
      recordDrainChange(host, previous, desired);
      if (result.drain().vmsRemaining > 0) {
        next = DRAIN_RECHECK;
      }
    } else {
      drain.cancel(host, allMigrations);
    }
    recordReadinessChange(host, previous, desired);
    return statusWriter.update(host, desired).rescheduleAfter(next);
  }

  private void recordDrainChange(Host host, HostStatus previous, HostStatus desired) {
    boolean was =
        previous != null && Conditions.isTrue(previous.getConditions(), HostDrain.IN_MAINTENANCE);
    if (!was && Conditions.isTrue(desired.getConditions(), HostDrain.IN_MAINTENANCE)) {
      events.normal(host, "Drained", "no VM runs on the host any more: it may be serviced");
    }
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
