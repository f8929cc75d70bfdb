package io.bastida.operator.restore;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreStatus;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmLocator;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out VirtualMachineRestores. The restore is recorded as Running before anything is done on
 * a host, and the VM's reconciler leaves the domain alone while it is, so nothing races it.
 */
@ControllerConfiguration(name = "virtualmachinerestore")
public class VirtualMachineRestoreReconciler implements Reconciler<VirtualMachineRestore> {
  private static final Logger log = LoggerFactory.getLogger(VirtualMachineRestoreReconciler.class);

  public static final String RUNNING = "Running";
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
  public static final String READY = "Ready";
  public static final String INPLACE = "InPlace";

  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final Duration NEXT_STEP = Duration.ofMillis(100);

  private final VmLocator locator;
  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;

  private InformerEventSource<VirtualMachine, VirtualMachineRestore> vms;
  private InformerEventSource<Host, VirtualMachineRestore> hosts;
  private InformerEventSource<VirtualMachineSnapshot, VirtualMachineRestore> snapshots;

  public VirtualMachineRestoreReconciler(
      VmLocator locator, StatusWriter statusWriter, EventRecorder events, Clock clock) {
    this.locator = locator;
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, VirtualMachineRestore>> prepareEventSources(
      EventSourceContext<VirtualMachineRestore> context) {
    vms =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachine.class, VirtualMachineRestore.class)
                .withSecondaryToPrimaryMapper(
                    vm -> restoresNaming(context, vm.getMetadata().getNamespace(), vm, null))
                .build(),
            context);
    hosts =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(Host.class, VirtualMachineRestore.class)
                .withSecondaryToPrimaryMapper(h -> Set.of())
                .build(),
            context);
    snapshots =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(
                    VirtualMachineSnapshot.class, VirtualMachineRestore.class)
                .withSecondaryToPrimaryMapper(
                    s -> restoresNaming(context, s.getMetadata().getNamespace(), null, s))
                .build(),
            context);
    return List.of(vms, hosts, snapshots);
  }

  private static Set<ResourceID> restoresNaming(
      EventSourceContext<VirtualMachineRestore> context,
      String namespace,
      VirtualMachine vm,
      VirtualMachineSnapshot snapshot) {
    return context
        .getPrimaryCache()
        .list(namespace)
        .filter(
            r ->
                vm != null
                    ? r.getSpec().vmName.equals(vm.getMetadata().getName())
                    : snapshot.getMetadata().getName().equals(r.getSpec().snapshotName))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<VirtualMachineRestore> reconcile(
      VirtualMachineRestore restore, Context<VirtualMachineRestore> context) {
    VirtualMachineRestoreStatus status =
        restore.getStatus() == null
            ? new VirtualMachineRestoreStatus()
            : Serialization.clone(restore.getStatus());
    if (isFinished(status)) {
      return UpdateControl.noUpdate();
    }
    return fromSnapshot(restore, status);
  }

  private UpdateControl<VirtualMachineRestore> fromSnapshot(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status) {
    String namespace = restore.getMetadata().getNamespace();
    String vmName = restore.getSpec().vmName;
    String snapshotName = restore.getSpec().snapshotName;
    Optional<VirtualMachineSnapshot> snapshot =
        snapshots.get(new ResourceID(snapshotName, namespace));
    if (snapshot.isEmpty() || !vmName.equals(snapshot.get().getSpec().vmName)) {
      return waiting(
          restore,
          status,
          "SnapshotNotFound",
          "VirtualMachineSnapshot " + snapshotName + " of VM " + vmName + " does not exist");
    }
    if (snapshot.get().getStatus() == null
        || !Boolean.TRUE.equals(snapshot.get().getStatus().readyToUse)) {
      return waiting(
          restore, status, "SnapshotNotReady", "snapshot " + snapshotName + " is not ready to use");
    }
    Optional<VirtualMachine> vm = vms.get(new ResourceID(vmName, namespace));
    if (vm.isPresent()
        && vm.get().getStatus() != null
        && Conditions.isTrue(vm.get().getStatus().conditions, VmConditions.MIGRATING)) {
      return waiting(restore, status, "VmMigrating", "waiting for the VM's migration to end");
    }
    VmLocator.Located located;
    try {
      located = locator.locate(vm, namespace, vmName, name -> hosts.get(new ResourceID(name)));
    } catch (VmLocator.Unavailable e) {
      return waiting(restore, status, e.reason(), e.getMessage());
    }
    if (status.startTime == null) {
      // Recorded first: from now on the VM's reconciler keeps its hands off the domain.
      status.startTime = now();
      status.restoredVmName = vmName;
      return running(restore, status, "reverting VM " + vmName + " to snapshot " + snapshotName);
    }
    try {
      // Reverting again after a restart lands on the same moment: it is safe to repeat.
      located.hypervisor().revertToSnapshot(located.domainName(), snapshotName);
      boolean memory = Boolean.TRUE.equals(snapshot.get().getStatus().memoryIncluded);
      if (!memory
          && located
                  .hypervisor()
                  .findDomain(located.domainName())
                  .map(d -> d.power())
                  .orElse(Power.Off)
              != Power.Off) {
        // Taken without memory: the guest boots from the disks as they were, like after a
        // power cut, not from RAM the user did not ask to keep.
        located.hypervisor().destroyDomain(located.domainName());
      }
      String message =
          "VM "
              + vmName
              + " is back at snapshot "
              + snapshotName
              + (memory ? ", running from its saved RAM" : ", booting from its disks");
      return succeed(restore, status, vm.get(), message);
    } catch (HypervisorException e) {
      return fail(restore, status, "RevertFailed", e.getMessage());
    }
  }

  private UpdateControl<VirtualMachineRestore> running(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status, String message) {
    status.printableStatus = "Restoring";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, true, "Restoring", message),
            Conditions.of(READY, false, "Restoring", message));
    events.normal(restore, "Started", message);
    return statusWriter.update(restore, status).rescheduleAfter(NEXT_STEP.toMillis());
  }

  private UpdateControl<VirtualMachineRestore> succeed(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      VirtualMachine vm,
      String message) {
    status.completionTime = now();
    status.printableStatus = "Succeeded";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, false, "Restored", message),
            Conditions.of(SUCCEEDED, true, "Restored", message),
            Conditions.of(READY, true, "Restored", message));
    events.normal(restore, "Restored", message);
    events.normal(vm, "Restored", message + " (VirtualMachineRestore " + name(restore) + ")");
    log.info("VirtualMachineRestore({}): {}", name(restore), message);
    return statusWriter.update(restore, status);
  }

  private UpdateControl<VirtualMachineRestore> fail(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      String reason,
      String message) {
    status.completionTime = now();
    status.printableStatus = "Failed";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, false, reason, message),
            Conditions.of(FAILED, true, reason, message),
            Conditions.of(READY, false, reason, message));
    events.warning(restore, reason, message);
    return statusWriter.update(restore, status);
  }

  /** Not started yet, for a reason that may pass (the snapshot or the host may come). */
  private UpdateControl<VirtualMachineRestore> waiting(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      String reason,
      String message) {
    boolean changed =
        Conditions.find(status.conditions, READY)
            .map(Condition::getReason)
            .filter(reason::equals)
            .isEmpty();
    if (changed) {
      events.warning(restore, reason, message);
    }
    status.printableStatus = status.startTime == null ? "Pending" : "Restoring";
    status.conditions =
        Conditions.replace(status.conditions, Conditions.of(READY, false, reason, message));
    return statusWriter.update(restore, status).rescheduleAfter(WAIT.toMillis());
  }

  /** Whether a restore of this VM is under way: the VM's reconciler must not act meanwhile. */
  public static boolean isUnderWay(VirtualMachineRestore restore) {
    return restore.getStatus() != null
        && restore.getStatus().startTime != null
        && !isFinished(restore.getStatus());
  }

  private static boolean isFinished(VirtualMachineRestoreStatus status) {
    return Conditions.isTrue(status.conditions, SUCCEEDED)
        || Conditions.isTrue(status.conditions, FAILED);
  }

  private String now() {
    return clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private static String name(VirtualMachineRestore restore) {
    return restore.getMetadata().getNamespace() + "/" + restore.getMetadata().getName();
  }
}
