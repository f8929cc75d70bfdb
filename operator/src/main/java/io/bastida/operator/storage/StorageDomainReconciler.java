package io.bastida.operator.storage;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainStatus;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.PoolDefinition;
import io.bastida.hypervisor.PoolState;
import io.bastida.operator.backup.BackupLayout;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.host.HostStatusPlanner;
import io.bastida.operator.host.HostTargets;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.storage.StoragePlanner.Attachment;
import io.bastida.operator.storage.StoragePlanner.DeletionDecision;
import io.bastida.operator.storage.StoragePlanner.HostView;
import io.bastida.storage.nfs.NfsException;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Attaches each StorageDomain to the hosts it selects (a libvirt pool per host, or nothing for NFS
 * Native access), reports capacity, and refuses deletion while it holds data.
 */
@ControllerConfiguration(name = "storagedomain")
public class StorageDomainReconciler implements Reconciler<StorageDomain>, Cleaner<StorageDomain> {
  private static final Logger log = LoggerFactory.getLogger(StorageDomainReconciler.class);

  private final HostConnections connections;
  private final HostTargets targets;
  private final NfsExportProbe exportProbe;
  private final NativeNfsVolumes nfsVolumes;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Duration recheckInterval;
  private InformerEventSource<Host, StorageDomain> hosts;

  public StorageDomainReconciler(
      HostConnections connections,
      HostTargets targets,
      NfsExportProbe exportProbe,
      NativeNfsVolumes nfsVolumes,
      StatusWriter statusWriter,
      EventRecorder events,
      Duration recheckInterval) {
    this.connections = connections;
    this.targets = targets;
    this.exportProbe = exportProbe;
    this.nfsVolumes = nfsVolumes;
    this.statusWriter = statusWriter;
    this.events = events;
    this.recheckInterval = recheckInterval;
  }

  @Override
  public List<EventSource<?, StorageDomain>> prepareEventSources(
      EventSourceContext<StorageDomain> context) {
    // Any domain may select any host: a host that appears, goes, turns Ready or is relabelled
    // concerns every domain. Heartbeats alone do not.
    var config =
        InformerEventSourceConfiguration.from(Host.class, StorageDomain.class)
            .withSecondaryToPrimaryMapper(
                host ->
                    context
                        .getPrimaryCache()
                        .list()
                        .map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
            .withOnUpdateFilter(
                (updated, old) ->
                    !Objects.equals(
                            HostStatusPlanner.readyStatus(updated),
                            HostStatusPlanner.readyStatus(old))
                        || !Objects.equals(
                            updated.getMetadata().getLabels(), old.getMetadata().getLabels())
                        || !Objects.equals(updated.getSpec().getUri(), old.getSpec().getUri()))
            .build();
    hosts = new InformerEventSource<>(config, context);
    return List.of(hosts);
  }

  @Override
  public UpdateControl<StorageDomain> reconcile(
      StorageDomain domain, Context<StorageDomain> context) {
    var spec = domain.getSpec();
    String name = domain.getMetadata().getName();
    Optional<PoolDefinition> pool = StoragePlanner.poolFor(name, spec);
    List<Attachment> attachments = new ArrayList<>();
    for (HostView view : StoragePlanner.selectedHosts(spec, hostViews())) {
      attachments.add(attach(view, pool));
    }
    NfsExportProbe.Result probe =
        StoragePlanner.isNative(spec)
            ? exportProbe.stat(spec.getNfs().getServer(), spec.getNfs().getPath())
            : null;
    StorageDomainStatus desired = StoragePlanner.status(spec, attachments, probe);
    recordReadinessChange(domain, desired);
    return statusWriter.update(domain, desired).rescheduleAfter(recheckInterval);
  }

  private Attachment attach(HostView view, Optional<PoolDefinition> pool) {
    String poolName = pool.map(PoolDefinition::name).orElse(null);
    if (!view.checked()) {
      return Attachment.failed(
          view.name(), poolName, StoragePlanner.HOST_PENDING, "the host has not been checked yet");
    }
    if (!view.ready()) {
      return Attachment.failed(
          view.name(), poolName, StoragePlanner.HOST_NOT_READY, "the host is not Ready");
    }
    if (pool.isEmpty()) {
      return Attachment.attached(view.name(), null, null, null);
    }
    try {
      PoolState state = hypervisorOf(view.name()).ensurePool(pool.get());
      return Attachment.attached(
          view.name(), poolName, state.capacityBytes(), state.availableBytes());
    } catch (HostTargets.InvalidTargetException e) {
      return Attachment.failed(view.name(), poolName, e.reason(), e.getMessage());
    } catch (HypervisorException e) {
      return Attachment.failed(view.name(), poolName, e.failure().name(), e.getMessage());
    }
  }

  @Override
  public DeleteControl cleanup(StorageDomain domain, Context<StorageDomain> context) {
    String name = domain.getMetadata().getName();
    Optional<PoolDefinition> pool = StoragePlanner.poolFor(name, domain.getSpec());
    Map<String, List<String>> volumesByHost = new LinkedHashMap<>();
    if (pool.isEmpty()) {
      // NFS Native: no pools; what the export holds is what protects it.
      var nfs = domain.getSpec().getNfs();
      String export = "nfs://" + nfs.getServer() + nfs.getPath();
      try {
        // Backups are guarded by their own resources (and outlive the domain on the share).
        volumesByHost.put(
            export,
            nfsVolumes.list(nfs.getServer(), nfs.getPath()).stream()
                .filter(file -> !file.equals(BackupLayout.ROOT))
                .toList());
      } catch (NfsException e) {
        // An export that refuses us holds nothing we could have put there (and deleting the
        // resource deletes no data); only one that does not answer may come back: wait for it.
        boolean refused = e.reason() != NfsException.Reason.Unreachable;
        volumesByHost.put(export, refused ? List.of() : null);
      }
    } else {
      for (HostView view : StoragePlanner.selectedHosts(domain.getSpec(), hostViews())) {
        volumesByHost.put(view.name(), volumesOn(view, pool.get().name()));
      }
    }
    DeletionDecision decision = StoragePlanner.deletion(volumesByHost);
    if (decision instanceof DeletionDecision.Blocked blocked) {
      reportBlockedDeletion(domain, blocked, context);
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(recheckInterval.toMillis());
    }
    for (String hostName : pool.isEmpty() ? List.<String>of() : volumesByHost.keySet()) {
      try {
        hypervisorOf(hostName).forgetPool(pool.get().name());
      } catch (HostTargets.InvalidTargetException | HypervisorException e) {
        log.warn("StorageDomain({}): pool stays defined on {}: {}", name, hostName, e.getMessage());
      }
    }
    log.info("StorageDomain({}): released; stored data left as it was", name);
    return DeleteControl.defaultDelete();
  }

  /**
   * Volume names in the pool on that host (none if the pool was never set up), or null if unknown.
   */
  private List<String> volumesOn(HostView view, String poolName) {
    if (!view.ready()) {
      return null;
    }
    try {
      // Backups are guarded by their own resources, as on NFS.
      return hypervisorOf(view.name()).listVolumes(poolName).stream()
          .filter(volume -> !volume.equals(BackupLayout.ROOT))
          .toList();
    } catch (HostTargets.InvalidTargetException | HypervisorException e) {
      return null;
    }
  }

  private void reportBlockedDeletion(
      StorageDomain domain, DeletionDecision.Blocked blocked, Context<StorageDomain> context) {
    Optional<Condition> ready =
        Optional.ofNullable(domain.getStatus())
            .flatMap(s -> Conditions.find(s.getConditions(), StoragePlanner.READY));
    if (ready
        .map(
            c -> blocked.reason().equals(c.getReason()) && blocked.message().equals(c.getMessage()))
        .orElse(false)) {
      return;
    }
    log.warn("StorageDomain({}): {}", domain.getMetadata().getName(), blocked.message());
    events.warning(domain, "DeletionBlocked", blocked.message());
    StorageDomainStatus status =
        domain.getStatus() == null ? new StorageDomainStatus() : domain.getStatus();
    StorageDomainStatus desired =
        copyWithReady(
            status,
            Conditions.of(StoragePlanner.READY, false, blocked.reason(), blocked.message()));
    statusWriter.finish(domain, desired);
    domain.setStatus(desired);
    context.getClient().resource(domain).patchStatus();
  }

  private static StorageDomainStatus copyWithReady(StorageDomainStatus from, Condition ready) {
    StorageDomainStatus to = new StorageDomainStatus();
    to.setType(from.getType());
    to.setAttachedHosts(from.getAttachedHosts());
    to.setCapacity(from.getCapacity());
    to.setAvailable(from.getAvailable());
    to.setHosts(from.getHosts());
    to.setConditions(List.of(ready));
    return to;
  }

  private Hypervisor hypervisorOf(String hostName)
      throws HostTargets.InvalidTargetException, HypervisorException {
    Host host =
        hosts
            .get(new ResourceID(hostName))
            .orElseThrow(
                () ->
                    new HypervisorException(
                        HypervisorException.Failure.NotFound, "Host " + hostName + " is gone"));
    return connections.get(hostName, targets.targetFor(host));
  }

  private List<HostView> hostViews() {
    return hosts
        .list()
        .map(
            h ->
                new HostView(
                    h.getMetadata().getName(),
                    h.getMetadata().getLabels(),
                    isChecked(h),
                    isReady(h)))
        .toList();
  }

  private static boolean isChecked(Host host) {
    return HostStatusPlanner.readyStatus(host) != null;
  }

  private static boolean isReady(Host host) {
    return Conditions.TRUE.equals(HostStatusPlanner.readyStatus(host));
  }

  private void recordReadinessChange(StorageDomain domain, StorageDomainStatus desired) {
    events.readinessChanged(
        domain,
        Optional.ofNullable(domain.getStatus())
            .flatMap(s -> Conditions.find(s.getConditions(), StoragePlanner.READY)),
        Conditions.find(desired.getConditions(), StoragePlanner.READY).orElseThrow(),
        Set.of(StoragePlanner.WAITING_FOR_HOSTS));
  }
}
