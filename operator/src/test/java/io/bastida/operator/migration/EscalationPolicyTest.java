package io.bastida.operator.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.hypervisor.MigrationProgress;
import io.bastida.operator.migration.EscalationPolicy.Decision;
import io.bastida.operator.migration.EscalationPolicy.Goals;
import io.bastida.operator.migration.EscalationPolicy.Step;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EscalationPolicyTest {

  private static final long MIB = 1024 * 1024;
  private static final Goals GOALS = new Goals(500, Duration.ofSeconds(300));

  @Test
  void startAllowsAHundredMillisecondsWhenTheGoalIsLarger() {
    assertThat(EscalationPolicy.start(GOALS)).isEqualTo(new Step(100, 0));
  }

  @Test
  void startAllowsOnlyTheGoalWhenTheGoalIsBelowAHundredMilliseconds() {
    assertThat(EscalationPolicy.start(new Goals(40, Duration.ofSeconds(300))))
        .isEqualTo(new Step(40, 0));
  }

  @Test
  void startAllowsExactlyAHundredMillisecondsWhenThatIsTheGoal() {
    assertThat(EscalationPolicy.start(new Goals(100, Duration.ofSeconds(300))))
        .isEqualTo(new Step(100, 0));
  }

  @Test
  void aGuestStillOnItsFirstPassIsNotEscalated() {
    var step = EscalationPolicy.start(GOALS);

    assertThat(EscalationPolicy.next(GOALS, step, job(20_000, 1, 800)))
        .isEqualTo(new Decision.Continue());
  }

  @Test
  void aGuestConvergingQuicklyIsNeverEscalated() {
    // The first copy finishes within seconds: libvirt never reports a second pass.
    var stats = List.of(job(0, 0, 2048), job(500, 1, 1500), job(1_000, 1, 700), job(1_500, 1, 50));

    var run = simulate(GOALS, stats);

    assertThat(run.decisions()).containsOnly(new Decision.Continue());
    assertThat(run.allowances()).containsOnly(100L);
  }

  @Test
  void aSecondPassOverMemoryDoublesTheAllowance() {
    var step = EscalationPolicy.start(GOALS);

    assertThat(EscalationPolicy.next(GOALS, step, job(4_000, 2, 600)))
        .isEqualTo(new Decision.RaiseDowntime(new Step(200, 2)));
  }

  @Test
  void afterARaiseItWaitsTwoMorePassesBeforeRaisingAgain() {
    var raised = new Step(200, 2);

    assertThat(EscalationPolicy.next(GOALS, raised, job(6_000, 2, 500)))
        .isEqualTo(new Decision.Continue());
    assertThat(EscalationPolicy.next(GOALS, raised, job(8_000, 3, 500)))
        .isEqualTo(new Decision.Continue());
    assertThat(EscalationPolicy.next(GOALS, raised, job(10_000, 4, 500)))
        .isEqualTo(new Decision.RaiseDowntime(new Step(400, 4)));
  }

  @Test
  void theLastRaiseIsCappedAtTheGoal() {
    var step = new Step(400, 4);

    assertThat(EscalationPolicy.next(GOALS, step, job(12_000, 6, 400)))
        .isEqualTo(new Decision.RaiseDowntime(new Step(500, 6)));
  }

  @Test
  void theAllowanceIsNeverRaisedAboveTheGoal() {
    var atGoal = new Step(500, 6);

    assertThat(EscalationPolicy.next(GOALS, atGoal, job(30_000, 8, 400)))
        .isEqualTo(new Decision.Continue());
    assertThat(EscalationPolicy.next(GOALS, atGoal, job(60_000, 40, 400)))
        .isEqualTo(new Decision.Continue());
  }

  @Test
  void aGoalBelowTheStartingAllowanceIsNeverRaised() {
    var goals = new Goals(40, Duration.ofSeconds(300));
    var step = EscalationPolicy.start(goals);

    assertThat(EscalationPolicy.next(goals, step, job(30_000, 12, 400)))
        .isEqualTo(new Decision.Continue());
  }

  @Test
  void manyPassesAtOnceRaiseOnlyOneStep() {
    var step = EscalationPolicy.start(GOALS);

    assertThat(EscalationPolicy.next(GOALS, step, job(15_000, 9, 400)))
        .isEqualTo(new Decision.RaiseDowntime(new Step(200, 9)));
  }

  @Test
  void itAbortsAtTheTimeoutNamingWhatIsLeftAndTheAllowance() {
    var step = new Step(400, 6);

    var decision = EscalationPolicy.next(GOALS, step, job(300_000, 7, 1536));

    assertThat(decision).isInstanceOf(Decision.Abort.class);
    var abort = (Decision.Abort) decision;
    assertThat(abort.reason()).isEqualTo("MigrationTimedOut");
    assertThat(abort.message())
        .isEqualTo(
            "not done after 300 s (pass 7 over memory, 1536 MiB left, switch-over pause allowed"
                + " 400 ms): the VM goes on running on its source host");
  }

  @Test
  void oneMillisecondBeforeTheTimeoutItKeepsGoing() {
    var step = new Step(500, 6);

    assertThat(EscalationPolicy.next(GOALS, step, job(299_999, 7, 1536)))
        .isEqualTo(new Decision.Continue());
  }

  @Test
  void theTimeoutWinsOverARaiseThatIsDue() {
    var step = new Step(100, 0);

    assertThat(EscalationPolicy.next(GOALS, step, job(301_000, 2, 10)))
        .isInstanceOf(Decision.Abort.class);
  }

  @Test
  void theRemainingDataIsReportedInWholeMebibytesRoundedDown() {
    var step = new Step(100, 0);
    var job = new MigrationProgress(300_000, 10 * MIB, 8 * MIB, MIB + MIB / 2, 1, 0, null);

    var abort = (Decision.Abort) EscalationPolicy.next(GOALS, step, job);

    assertThat(abort.message()).contains(", 1 MiB left,");
  }

  @Test
  void aGuestThatKeepsDirtyingMemoryIsEscalatedStepByStepToTheGoal() {
    // One pass over memory every 2 s; the guest dirties pages as fast as they are sent.
    List<MigrationProgress> stats = new ArrayList<>();
    for (int iteration = 1; iteration <= 10; iteration++) {
      stats.add(job(iteration * 2_000L, iteration, 900));
    }

    var run = simulate(GOALS, stats);

    assertThat(run.allowances())
        .containsExactly(100L, 200L, 200L, 400L, 400L, 500L, 500L, 500L, 500L, 500L);
    assertThat(run.raisedTo()).containsExactly(100L, 200L, 400L, 500L);
    assertThat(run.decisions()).noneMatch(Decision.Abort.class::isInstance);
  }

  @Test
  void aGuestThatNeverConvergesIsEscalatedThenAbortedAtTheTimeout() {
    var goals = new Goals(500, Duration.ofSeconds(30));
    List<MigrationProgress> stats = new ArrayList<>();
    for (int iteration = 1; iteration <= 20; iteration++) {
      stats.add(job(iteration * 2_000L, iteration, 700));
    }

    var run = simulate(goals, stats);

    assertThat(run.raisedTo()).containsExactly(100L, 200L, 400L, 500L);
    var last = run.decisions().get(run.decisions().size() - 1);
    assertThat(last).isInstanceOf(Decision.Abort.class);
    assertThat(((Decision.Abort) last).message())
        .startsWith("not done after 30 s (pass 15 over memory, 700 MiB left,")
        .contains("switch-over pause allowed 500 ms");
    // Nothing is looked at after the abort.
    assertThat(run.decisions()).hasSize(15);
  }

  @Test
  void theAllowanceNeverExceedsTheGoalWhateverTheGoal() {
    for (long goal : new long[] {1, 99, 100, 101, 150, 333, 500, 1000, 2500}) {
      var goals = new Goals(goal, Duration.ofHours(1));
      List<MigrationProgress> stats = new ArrayList<>();
      for (int iteration = 1; iteration <= 50; iteration++) {
        stats.add(job(iteration * 1_000L, iteration, 100));
      }

      var run = simulate(goals, stats);

      assertThat(run.allowances()).as("goal %d", goal).allMatch(a -> a <= goal);
      assertThat(run.allowances().get(run.allowances().size() - 1))
          .as("goal %d reached", goal)
          .isEqualTo(goal);
    }
  }

  /** What a migration job looks like to the policy. */
  private static MigrationProgress job(long elapsedMillis, long iteration, long remainingMiB) {
    long total = 4096 * MIB;
    long remaining = remainingMiB * MIB;
    return new MigrationProgress(
        elapsedMillis, total, total - remaining, remaining, iteration, 25_000, null);
  }

  /**
   * The decisions in order, the allowance in force after each look at the job, and every allowance
   * given to libvirt (the start one first).
   */
  private record Run(List<Decision> decisions, List<Long> allowances, List<Long> raisedTo) {}

  /** Folds the policy over the job statistics as the reconciler would, stopping at an abort. */
  private static Run simulate(Goals goals, List<MigrationProgress> stats) {
    Step step = EscalationPolicy.start(goals);
    List<Decision> decisions = new ArrayList<>();
    List<Long> allowances = new ArrayList<>();
    List<Long> raisedTo = new ArrayList<>(List.of(step.allowedDowntimeMillis()));
    for (MigrationProgress job : stats) {
      Decision decision = EscalationPolicy.next(goals, step, job);
      decisions.add(decision);
      if (decision instanceof Decision.RaiseDowntime raise) {
        step = raise.next();
        raisedTo.add(step.allowedDowntimeMillis());
      }
      allowances.add(step.allowedDowntimeMillis());
      if (decision instanceof Decision.Abort) {
        break;
      }
    }
    return new Run(decisions, allowances, raisedTo);
  }
}
