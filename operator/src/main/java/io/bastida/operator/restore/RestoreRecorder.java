package io.bastida.operator.restore;

import static io.bastida.operator.restore.VirtualMachineRestoreReconciler.FAILED;
import static io.bastida.operator.restore.VirtualMachineRestoreReconciler.READY;
import static io.bastida.operator.restore.VirtualMachineRestoreReconciler.RUNNING;
import static io.bastida.operator.restore.VirtualMachineRestoreReconciler.SUCCEEDED;

import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreStatus;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** How a restore's steps end up in its status and events: the one place they are recorded. */
final class RestoreRecorder {
  private static final Logger log = LoggerFactory.getLogger(RestoreRecorder.class);
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final Duration NEXT_STEP = Duration.ofMillis(100);

  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;

  RestoreRecorder(StatusWriter statusWriter, EventRecorder events, Clock clock) {
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
  }

  /** Recorded before anything is done on a host: the VM's reconciler keeps its hands off. */
  UpdateControl<VirtualMachineRestore> running(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status, String message) {
    status.printableStatus = "Restoring";
    status.conditions =
        List.of(
            Conditions.of(RUNNING, true, "Restoring", message),
            Conditions.of(READY, false, "Restoring", message));
    events.normal(restore, "Started", message);
    return statusWriter.update(restore, status).rescheduleAfter(NEXT_STEP.toMillis());
  }

  UpdateControl<VirtualMachineRestore> succeed(
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

  UpdateControl<VirtualMachineRestore> fail(
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
  UpdateControl<VirtualMachineRestore> waiting(
      VirtualMachineRestore restore,
      VirtualMachineRestoreStatus status,
      String reason,
      String message) {
    boolean changed = !Conditions.hasReason(status.conditions, READY, reason);
    if (changed) {
      events.warning(restore, reason, message);
    }
    status.printableStatus = status.startTime == null ? "Pending" : "Restoring";
    status.conditions =
        Conditions.replace(status.conditions, Conditions.of(READY, false, reason, message));
    return statusWriter.update(restore, status).rescheduleAfter(WAIT.toMillis());
  }

  /** A step to take again soon, with nothing new to say. */
  UpdateControl<VirtualMachineRestore> again(
      VirtualMachineRestore restore, VirtualMachineRestoreStatus status) {
    return statusWriter.update(restore, status).rescheduleAfter(WAIT.toMillis() / 5);
  }

  static boolean isFinished(VirtualMachineRestoreStatus status) {
    return Conditions.isTrue(status.conditions, SUCCEEDED)
        || Conditions.isTrue(status.conditions, FAILED);
  }

  String now() {
    return clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  static String name(VirtualMachineRestore restore) {
    return restore.getMetadata().getNamespace() + "/" + restore.getMetadata().getName();
  }
}
