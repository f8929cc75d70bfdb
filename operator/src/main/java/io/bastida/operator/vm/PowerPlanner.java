package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.hypervisor.DomainState.Power;
import java.time.Duration;
import java.time.Instant;

/**
 * Decides the one power action that brings a domain closer to what its VM asks for. Pure: the
 * reconciler applies the action and asks again on its next pass.
 */
public final class PowerPlanner {
  private PowerPlanner() {}

  public enum Action {
    None,
    Start,
    Shutdown,
    Destroy,
    Pause,
    Resume
  }

  /**
   * @param everStarted whether Bastida has started this domain before (for Once and RerunOnFailure)
   * @param restartPending a restart was requested and not yet carried out
   * @param stopRequestedAt when a graceful shutdown was asked for, or null
   */
  public record Inputs(
      RunStrategy strategy,
      boolean paused,
      Power power,
      boolean stoppedByFailure,
      boolean everStarted,
      boolean restartPending,
      Instant stopRequestedAt,
      Duration gracePeriod,
      Instant now) {}

  public static Action next(Inputs in) {
    boolean wantsRunning =
        switch (in.strategy()) {
          case Always -> true;
          case RerunOnFailure -> !in.everStarted() || in.stoppedByFailure() || in.restartPending();
          case Once -> !in.everStarted() || in.restartPending();
          case Halted -> false;
          case Manual -> in.restartPending();
        };
    boolean on = in.power() != Power.Off;
    if (in.restartPending() && on) {
      return stop(in);
    }
    if (!wantsRunning) {
      // Manual leaves a running domain alone; the others that do not want it running stop it.
      boolean keepAlone =
          in.strategy() == RunStrategy.Manual
              || in.strategy() == RunStrategy.Once
              || in.strategy() == RunStrategy.RerunOnFailure;
      return on && !keepAlone ? stop(in) : Action.None;
    }
    if (!on) {
      return Action.Start;
    }
    if (in.power() == Power.Running && in.paused()) {
      return Action.Pause;
    }
    if (in.power() == Power.Paused && !in.paused()) {
      return Action.Resume;
    }
    return Action.None;
  }

  /** Graceful first; by force once the grace period has passed since the first request. */
  private static Action stop(Inputs in) {
    if (in.power() == Power.Paused) {
      // A paused guest cannot react to ACPI: nothing graceful is possible.
      return Action.Destroy;
    }
    if (in.stopRequestedAt() != null
        && !in.now().isBefore(in.stopRequestedAt().plus(in.gracePeriod()))) {
      return Action.Destroy;
    }
    return Action.Shutdown;
  }
}
