package io.bastida.operator.snapshot;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.api.v1alpha1.VirtualMachineSnapshotStatus;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.SnapshotInfo;
import io.bastida.operator.Informers;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmLocator;
import io.bastida.storage.QemuImg;
import io.fabric8.kubernetes.client.utils.Serialization;
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
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes VirtualMachineSnapshots as libvirt internal snapshots of the VM's domain, named after the
 * resource, so taking one again after a restart finds the first instead of making a second; and
 * deletes them with the resource.
 */
@ControllerConfiguration(name = "virtualmachinesnapshot")
public class VirtualMachineSnapshotReconciler
    implements Reconciler<VirtualMachineSnapshot>, Cleaner<VirtualMachineSnapshot> {
  private static final Logger log = LoggerFactory.getLogger(VirtualMachineSnapshotReconciler.class);

  public static final String READY = "Ready";
  public static final String QUIESCED = "Quiesced";

  private static final Duration WAIT = Duration.ofSeconds(5);

  private final VmLocator locator;
  private final QemuImg qemuImg;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Duration recheckInterval;

  private InformerEventSource<VirtualMachine, VirtualMachineSnapshot> vms;
  private InformerEventSource<Host, VirtualMachineSnapshot> hosts;

  public VirtualMachineSnapshotReconciler(
      VmLocator locator,
      QemuImg qemuImg,
      StatusWriter statusWriter,
      EventRecorder events,
      Duration recheckInterval) {
    this.locator = locator;
    this.qemuImg = qemuImg;
    this.statusWriter = statusWriter;
    this.events = events;
    this.recheckInterval = recheckInterval;
  }

  @Override
  public List<EventSource<?, VirtualMachineSnapshot>> prepareEventSources(
      EventSourceContext<VirtualMachineSnapshot> context) {
    vms =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(
                    VirtualMachine.class, VirtualMachineSnapshot.class)
                .withSecondaryToPrimaryMapper(
                    vm ->
                        context
                            .getPrimaryCache()
                            .list(vm.getMetadata().getNamespace())
                            .filter(s -> s.getSpec().vmName.equals(vm.getMetadata().getName()))
                            .map(ResourceID::fromResource)
                            .collect(Collectors.toSet()))
                .build(),
            context);
    hosts = Informers.lookupOnly(Host.class, VirtualMachineSnapshot.class, context);
    return List.of(vms, hosts);
  }

  @Override
  public UpdateControl<VirtualMachineSnapshot> reconcile(
      VirtualMachineSnapshot snapshot, Context<VirtualMachineSnapshot> context) {
    VirtualMachineSnapshotStatus status =
        snapshot.getStatus() == null
            ? new VirtualMachineSnapshotStatus()
            : Serialization.clone(snapshot.getStatus());
    String namespace = snapshot.getMetadata().getNamespace();
    String vmName = snapshot.getSpec().vmName;
    Optional<VirtualMachine> vm = vms.get(new ResourceID(vmName, namespace));
    if (vm.isPresent() && VmConditions.isMigrating(vm.get())) {
      // Its snapshots are detached from the domain until the migration ends.
      return waiting(snapshot, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    VmLocator.Located located;
    try {
      located = locator.locate(vm, namespace, vmName, name -> hosts.get(new ResourceID(name)));
    } catch (VmLocator.Unavailable e) {
      return waiting(snapshot, status, e.reason(), e.getMessage());
    }
    try {
      return Boolean.TRUE.equals(status.readyToUse) || status.creationTime != null
          ? check(snapshot, status, located)
          : take(snapshot, status, located);
    } catch (HypervisorException e) {
      return waiting(snapshot, status, "SnapshotFailed", e.getMessage());
    }
  }

  private UpdateControl<VirtualMachineSnapshot> take(
      VirtualMachineSnapshot snapshot,
      VirtualMachineSnapshotStatus status,
      VmLocator.Located located)
      throws HypervisorException {
    String name = snapshot.getMetadata().getName();
    Optional<DomainState> domain = located.hypervisor().findDomain(located.domainName());
    if (domain.isEmpty()) {
      return waiting(snapshot, status, "DomainNotDefined", "the VM's domain is not defined yet");
    }
    boolean running = domain.get().power() != Power.Off;
    List<io.fabric8.kubernetes.api.model.Condition> conditions = new ArrayList<>();
    boolean frozen = false;
    if (Boolean.TRUE.equals(snapshot.getSpec().quiesce) && running) {
      thawLeftFrozen(located);
      try {
        int count = located.hypervisor().freezeFilesystems(located.domainName());
        frozen = true;
        conditions.add(
            Conditions.of(
                QUIESCED, true, "FilesystemsFrozen", count + " guest file systems were frozen"));
      } catch (HypervisorException e) {
        String message =
            "the guest agent did not freeze the file systems, the snapshot is crash-consistent: "
                + e.getMessage();
        conditions.add(Conditions.of(QUIESCED, false, "GuestAgentUnavailable", message));
        events.warning(snapshot, "GuestAgentUnavailable", message);
      }
    }
    SnapshotInfo taken;
    try {
      // A running domain's internal snapshot always saves its RAM (libvirt can take none
      // without); a restore of one taken without memory boots the guest afresh instead.
      taken =
          located
              .hypervisor()
              .createSnapshot(
                  located.domainName(),
                  name,
                  "VirtualMachineSnapshot " + snapshot.getMetadata().getNamespace() + "/" + name,
                  running);
    } finally {
      if (frozen) {
        located.hypervisor().thawFilesystems(located.domainName());
      }
    }
    status.hostName = located.hostName();
    status.snapshotName = taken.name();
    status.creationTime = taken.creationTime() == null ? null : taken.creationTime().toString();
    status.memoryIncluded =
        Boolean.TRUE.equals(snapshot.getSpec().memory) && taken.memoryIncluded();
    status.sizeBytes = savedStateBytes(domain.get().xml(), taken.name()).orElse(null);
    status.readyToUse = true;
    String what = status.memoryIncluded ? "disks and RAM" : "disks";
    conditions.add(
        Conditions.of(
            READY,
            true,
            "SnapshotTaken",
            "snapshot of the " + what + " on host " + status.hostName));
    status.conditions = conditions;
    events.normal(snapshot, "SnapshotTaken", "took a snapshot of the VM's " + what);
    log.info(
        "VirtualMachineSnapshot({}/{}): taken on host {}",
        snapshot.getMetadata().getNamespace(),
        name,
        status.hostName);
    return statusWriter.update(snapshot, status).rescheduleAfter(recheckInterval.toMillis());
  }

  /** A previous attempt killed between freeze and thaw left the guest frozen: thaw it first. */
  private static void thawLeftFrozen(VmLocator.Located located) {
    try {
      located.hypervisor().thawFilesystems(located.domainName());
    } catch (HypervisorException e) {
      log.debug("Nothing to thaw in {}: {}", located.domainName(), e.getMessage());
    }
  }

  /**
   * The RAM state the snapshot saved, as qemu-img reads it from the images; only images QEMU opens
   * over NFS can be read from here (a host's own files cannot), so empty for the others.
   */
  private Optional<Long> savedStateBytes(String domainXml, String snapshot) {
    List<String> urls =
        DomainDisks.writable(domainXml).stream()
            .map(DomainDisks.Disk::nfsUrl)
            .filter(java.util.Objects::nonNull)
            .toList();
    if (urls.isEmpty()) {
      return Optional.empty();
    }
    long total = 0;
    for (String url : urls) {
      try {
        total +=
            qemuImg
                .info(url)
                .map(info -> info.savedStateBytes().getOrDefault(snapshot, 0L))
                .orElse(0L);
      } catch (QemuImg.QemuImgException e) {
        log.warn("Cannot read the size of snapshot {} from {}: {}", snapshot, url, e.getMessage());
        return Optional.empty();
      }
    }
    return Optional.of(total);
  }

  /** A taken snapshot must still exist where the VM now runs (a migration carries it along). */
  private UpdateControl<VirtualMachineSnapshot> check(
      VirtualMachineSnapshot snapshot,
      VirtualMachineSnapshotStatus status,
      VmLocator.Located located)
      throws HypervisorException {
    String name =
        status.snapshotName == null ? snapshot.getMetadata().getName() : status.snapshotName;
    boolean present = located.hypervisor().findSnapshot(located.domainName(), name).isPresent();
    status.hostName = located.hostName();
    if (!present && Boolean.TRUE.equals(status.readyToUse)) {
      events.warning(
          snapshot, "SnapshotMissing", "snapshot " + name + " is gone from the VM's domain");
    }
    status.readyToUse = present;
    status.conditions =
        Conditions.replace(
            status.conditions,
            present
                ? Conditions.of(READY, true, "SnapshotTaken", "snapshot on host " + status.hostName)
                : Conditions.of(
                    READY,
                    false,
                    "SnapshotMissing",
                    "snapshot " + name + " no longer exists on host " + status.hostName));
    return statusWriter.update(snapshot, status).rescheduleAfter(recheckInterval.toMillis());
  }

  private UpdateControl<VirtualMachineSnapshot> waiting(
      VirtualMachineSnapshot snapshot,
      VirtualMachineSnapshotStatus status,
      String reason,
      String message) {
    if (status.readyToUse == null) {
      status.readyToUse = false;
    }
    // Once per reason, not once per pass.
    boolean newReason = !Conditions.hasReason(status.conditions, READY, reason);
    if (newReason && !Boolean.TRUE.equals(status.readyToUse)) {
      events.warning(snapshot, reason, message);
    }
    status.conditions =
        Conditions.replace(
            status.conditions,
            Conditions.of(READY, Boolean.TRUE.equals(status.readyToUse), reason, message));
    return statusWriter.update(snapshot, status).rescheduleAfter(WAIT.toMillis());
  }

  @Override
  public DeleteControl cleanup(
      VirtualMachineSnapshot snapshot, Context<VirtualMachineSnapshot> context) {
    VirtualMachineSnapshotStatus status = snapshot.getStatus();
    if (status == null || status.snapshotName == null) {
      return DeleteControl.defaultDelete();
    }
    String namespace = snapshot.getMetadata().getNamespace();
    Optional<VirtualMachine> vm = vms.get(new ResourceID(snapshot.getSpec().vmName, namespace));
    if (vm.isPresent() && VmConditions.isMigrating(vm.get())) {
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT.toMillis());
    }
    try {
      var located =
          locator.locate(
              vm, namespace, snapshot.getSpec().vmName, name -> hosts.get(new ResourceID(name)));
      located.hypervisor().deleteSnapshot(located.domainName(), status.snapshotName);
      return DeleteControl.defaultDelete();
    } catch (VmLocator.Unavailable e) {
      if (e.reason().equals("VmNotFound")) {
        // Deleting the VM undefined its domain with every snapshot in it.
        return DeleteControl.defaultDelete();
      }
      events.warning(snapshot, e.reason(), "cannot delete the snapshot yet: " + e.getMessage());
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT.toMillis());
    } catch (HypervisorException e) {
      events.warning(snapshot, "SnapshotDeleteFailed", e.getMessage());
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(WAIT.toMillis());
    }
  }
}
