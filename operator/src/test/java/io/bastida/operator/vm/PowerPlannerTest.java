package io.bastida.operator.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.operator.vm.PowerPlanner.Action;
import io.bastida.operator.vm.PowerPlanner.Inputs;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PowerPlannerTest {
  private static final Instant NOW = Instant.parse("2026-11-27T10:00:00Z");

  @ParameterizedTest(name = "{0}, {1}, crashed={2}, everStarted={3} -> {4}")
  @CsvSource({
    "Always, Off, false, false, Start",
    "Always, Off, false, true, Start",
    "Always, Running, false, true, None",
    "RerunOnFailure, Off, false, false, Start",
    "RerunOnFailure, Off, false, true, None",
    "RerunOnFailure, Off, true, true, Start",
    "RerunOnFailure, Running, false, true, None",
    "Once, Off, false, false, Start",
    "Once, Off, false, true, None",
    "Once, Off, true, true, None",
    "Halted, Off, false, true, None",
    "Halted, Running, false, true, Shutdown",
    "Manual, Off, false, false, None",
    "Manual, Running, false, true, None",
  })
  void runStrategiesHaveKubeVirtsMeanings(
      RunStrategy strategy, Power power, boolean crashed, boolean everStarted, Action expected) {
    assertThat(PowerPlanner.next(inputs(strategy, false, power, crashed, everStarted, false, null)))
        .isEqualTo(expected);
  }

  @Test
  void pausingAndResumingFollowSpecPaused() {
    assertThat(
            PowerPlanner.next(
                inputs(RunStrategy.Always, true, Power.Running, false, true, false, null)))
        .isEqualTo(Action.Pause);
    assertThat(
            PowerPlanner.next(
                inputs(RunStrategy.Always, false, Power.Paused, false, true, false, null)))
        .isEqualTo(Action.Resume);
    assertThat(
            PowerPlanner.next(
                inputs(RunStrategy.Always, true, Power.Paused, false, true, false, null)))
        .isEqualTo(Action.None);
  }

  @Test
  void stoppingIsGracefulUntilTheGracePeriodEnds() {
    assertThat(
            PowerPlanner.next(
                inputs(
                    RunStrategy.Halted,
                    false,
                    Power.ShuttingDown,
                    false,
                    true,
                    false,
                    NOW.minusSeconds(10))))
        .isEqualTo(Action.Shutdown);
    assertThat(
            PowerPlanner.next(
                inputs(
                    RunStrategy.Halted,
                    false,
                    Power.ShuttingDown,
                    false,
                    true,
                    false,
                    NOW.minusSeconds(60))))
        .isEqualTo(Action.Destroy);
    // A paused guest cannot hear the ACPI button.
    assertThat(
            PowerPlanner.next(
                inputs(RunStrategy.Halted, false, Power.Paused, false, true, false, null)))
        .isEqualTo(Action.Destroy);
  }

  @Test
  void aRestartRequestStopsThenStartsWhateverTheStrategy() {
    assertThat(
            PowerPlanner.next(
                inputs(RunStrategy.Manual, false, Power.Running, false, true, true, null)))
        .isEqualTo(Action.Shutdown);
    assertThat(
            PowerPlanner.next(
                inputs(RunStrategy.Manual, false, Power.Off, false, true, true, null)))
        .isEqualTo(Action.Start);
    assertThat(
            PowerPlanner.next(inputs(RunStrategy.Once, false, Power.Off, false, true, true, null)))
        .isEqualTo(Action.Start);
  }

  private static Inputs inputs(
      RunStrategy strategy,
      boolean paused,
      Power power,
      boolean crashed,
      boolean everStarted,
      boolean restart,
      Instant stopRequestedAt) {
    return new Inputs(
        strategy,
        paused,
        power,
        crashed,
        everStarted,
        restart,
        stopRequestedAt,
        Duration.ofSeconds(60),
        NOW);
  }
}
