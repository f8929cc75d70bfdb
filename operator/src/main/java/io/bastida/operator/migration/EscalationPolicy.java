package io.bastida.operator.migration;

import io.bastida.hypervisor.MigrationProgress;
import java.time.Duration;

/**
 * Migration goals instead of knobs: start with a short allowed switch-over pause, and raise it in
 * steps toward the goal only while the job statistics show the guest is not converging (QEMU keeps
 * making passes over memory); give up at the timeout instead of running forever. Auto-converge is
 * armed from the start, and QEMU only throttles the guest once copying cannot keep up. Pure.
 */
public final class EscalationPolicy {
  /** Like oVirt's "minimal downtime" policy. */
  static final long START_DOWNTIME_MILLIS = 100;

  /** Passes over memory without finishing before the allowance is raised again. */
  static final long ITERATIONS_PER_STEP = 2;

  private EscalationPolicy() {}

  /**
   * @param maxDowntimeMillis the longest pause the user accepts
   * @param timeout how long the whole job may take
   */
  public record Goals(long maxDowntimeMillis, Duration timeout) {}

  /**
   * Where the escalation stands.
   *
   * @param allowedDowntimeMillis the allowance given to libvirt now
   * @param raisedAtIteration the memory pass at which it was last set
   */
  public record Step(long allowedDowntimeMillis, long raisedAtIteration) {}

  /** What to do after a look at the job. */
  public sealed interface Decision {
    record Continue() implements Decision {}

    record RaiseDowntime(Step next) implements Decision {}

    record Abort(String reason, String message) implements Decision {}
  }

  public static Step start(Goals goals) {
    return new Step(Math.min(START_DOWNTIME_MILLIS, goals.maxDowntimeMillis()), 0);
  }

  public static Decision next(Goals goals, Step step, MigrationProgress job) {
    if (job.elapsedMillis() >= goals.timeout().toMillis()) {
      return new Decision.Abort(
          "MigrationTimedOut",
          "not done after "
              + goals.timeout().toSeconds()
              + " s (pass "
              + job.memoryIteration()
              + " over memory, "
              + job.dataRemainingBytes() / (1024 * 1024)
              + " MiB left, switch-over pause allowed "
              + step.allowedDowntimeMillis()
              + " ms): the VM goes on running on its source host");
    }
    boolean stalled = job.memoryIteration() >= step.raisedAtIteration() + ITERATIONS_PER_STEP;
    if (stalled && step.allowedDowntimeMillis() < goals.maxDowntimeMillis()) {
      long raised = Math.min(goals.maxDowntimeMillis(), step.allowedDowntimeMillis() * 2);
      return new Decision.RaiseDowntime(new Step(raised, job.memoryIteration()));
    }
    return new Decision.Continue();
  }
}
