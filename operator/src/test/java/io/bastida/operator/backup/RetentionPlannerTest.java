package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.operator.backup.RetentionPlanner.Candidate;
import io.bastida.operator.backup.RetentionPlanner.Plan;
import io.bastida.operator.backup.RetentionPlanner.Reason;
import io.bastida.operator.backup.RetentionPlanner.Retention;
import io.bastida.operator.backup.RetentionPlanner.Status;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RetentionPlannerTest {
  private static final ZoneId UTC = ZoneOffset.UTC;
  private static final Retention GFS = new Retention(0, 7, 4, 3);

  @Test
  void gfsKeepsSevenDaysThenFourWeeksThenTheMonthsBefore() {
    var backups = dailyFulls(LocalDate.of(2026, 1, 15), LocalDate.of(2026, 3, 31));

    var plan = RetentionPlanner.plan(backups, GFS, UTC);

    assertThat(plan.kept())
        .containsExactly(
            "2026-03-31",
            "2026-03-30",
            "2026-03-29",
            "2026-03-28",
            "2026-03-27",
            "2026-03-26",
            "2026-03-25",
            // Sundays: the week of 23 March already has its daily backups.
            "2026-03-22",
            "2026-03-15",
            "2026-03-08",
            "2026-03-01",
            // March is covered; only two older months exist for the three asked for.
            "2026-02-28",
            "2026-01-31");
    assertThat(plan.reasonFor("2026-03-25")).isEqualTo(Reason.KeepDaily);
    assertThat(plan.reasonFor("2026-03-01")).isEqualTo(Reason.KeepWeekly);
    assertThat(plan.reasonFor("2026-02-28")).isEqualTo(Reason.KeepMonthly);
    assertThat(plan.reasonFor("2026-03-24")).isEqualTo(Reason.Pruned);
    assertThat(plan.prune()).hasSize(backups.size() - 13);
  }

  @Test
  void keepLastKeepsTheNewestBackupsWhateverTheirDays() {
    var backups =
        List.of(
            full("a", "2026-03-01T02:00:00Z"),
            full("b", "2026-03-01T14:00:00Z"),
            full("c", "2026-03-02T02:00:00Z"),
            full("d", "2026-03-02T14:00:00Z"),
            full("e", "2026-03-02T20:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(3, 0, 0, 0), UTC);

    assertThat(plan.kept()).containsExactly("e", "d", "c");
    assertThat(plan.prune()).containsExactly("b", "a");
  }

  @Test
  void ofSeveralBackupsADayOnlyTheNewestCountsForThatDay() {
    var backups =
        List.of(
            full("mon-morning", "2026-03-02T06:00:00Z"),
            full("mon-evening", "2026-03-02T18:00:00Z"),
            full("tue-morning", "2026-03-03T06:00:00Z"),
            full("tue-noon", "2026-03-03T12:00:00Z"),
            full("tue-evening", "2026-03-03T18:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(0, 2, 0, 0), UTC);

    assertThat(plan.kept()).containsExactly("tue-evening", "mon-evening");
  }

  @Test
  void aPeriodCoveredByAnEarlierRuleDoesNotGetASecondBackup() {
    var backups =
        List.of(
            full("yesterday", "2026-03-02T18:00:00Z"),
            full("today-early", "2026-03-03T06:00:00Z"),
            full("today-late", "2026-03-03T18:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(1, 1, 0, 0), UTC);

    // Today already has its keep-last backup, so the one daily slot goes to yesterday.
    assertThat(plan.reasonFor("today-late")).isEqualTo(Reason.KeepLast);
    assertThat(plan.reasonFor("yesterday")).isEqualTo(Reason.KeepDaily);
    assertThat(plan.reasonFor("today-early")).isEqualTo(Reason.Pruned);
  }

  @Test
  void weeksAreIsoWeeksEvenAcrossTheNewYear() {
    var backups =
        List.of(
            full("sun-28-dec", "2025-12-28T12:00:00Z"),
            full("mon-29-dec", "2025-12-29T12:00:00Z"),
            full("fri-2-jan", "2026-01-02T12:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(0, 0, 2, 0), UTC);

    // Monday 29 December 2025 opens week 1 of 2026, the week of 2 January.
    assertThat(plan.kept()).containsExactly("fri-2-jan", "sun-28-dec");
    assertThat(plan.prune()).containsExactly("mon-29-dec");
  }

  @Test
  void daysFollowThePolicysTimeZoneNotUtc() {
    var backups =
        List.of(
            full("9-mar-noon-local", "2026-03-09T16:00:00Z"),
            // 22:00 on 9 March in New York, already 10 March in UTC.
            full("9-mar-night-local", "2026-03-10T02:00:00Z"),
            full("10-mar-noon-local", "2026-03-10T16:00:00Z"));
    var twoDays = new Retention(0, 2, 0, 0);

    var newYork = RetentionPlanner.plan(backups, twoDays, ZoneId.of("America/New_York"));
    var utc = RetentionPlanner.plan(backups, twoDays, UTC);

    assertThat(newYork.kept()).containsExactly("10-mar-noon-local", "9-mar-night-local");
    assertThat(utc.kept()).containsExactly("10-mar-noon-local", "9-mar-noon-local");
  }

  @Test
  void keepingIncrementalsKeepsTheirWholeChainAndOldChainsGoChildrenFirst() {
    var backups = new ArrayList<Candidate>();
    backups.add(full("old-full", "2026-02-20T02:00:00Z"));
    backups.add(incremental("old-1", "2026-02-21T02:00:00Z", "old-full"));
    backups.add(incremental("old-2", "2026-02-22T02:00:00Z", "old-1"));
    backups.add(full("full", "2026-03-01T02:00:00Z"));
    for (int day = 1; day <= 6; day++) {
      String parent = day == 1 ? "full" : "inc-" + (day - 1);
      backups.add(incremental("inc-" + day, "2026-03-0" + (day + 1) + "T02:00:00Z", parent));
    }

    var plan = RetentionPlanner.plan(backups, new Retention(2, 0, 0, 0), UTC);

    assertThat(plan.kept())
        .containsExactly("inc-6", "inc-5", "inc-4", "inc-3", "inc-2", "inc-1", "full");
    assertThat(plan.reasonFor("inc-5")).isEqualTo(Reason.KeepLast);
    assertThat(plan.reasonFor("inc-4")).isEqualTo(Reason.ParentOfKept);
    assertThat(plan.reasonFor("full")).isEqualTo(Reason.ParentOfKept);
    assertThat(plan.prune()).containsExactly("old-2", "old-1", "old-full");
  }

  @Test
  void aKeptSundayIncrementalKeepsItsWholeWeek() {
    var backups =
        weeklyFullsWithDailyIncrementals(LocalDate.of(2026, 3, 2), LocalDate.of(2026, 3, 31));

    var plan = RetentionPlanner.plan(backups, new Retention(0, 3, 2, 0), UTC);

    // Rules keep 29-31 March and the Sundays 22 and 15; their chains reach back to 9 March.
    assertThat(plan.prune())
        .containsExactly(
            "2026-03-08",
            "2026-03-07",
            "2026-03-06",
            "2026-03-05",
            "2026-03-04",
            "2026-03-03",
            "2026-03-02");
    assertDeletingAnyPrefixOrphansNothing(backups, plan);
  }

  @Test
  void childrenAreDeletedBeforeParentsEvenWhenTheirClocksDisagree() {
    var backups =
        List.of(
            full("parent", "2026-03-01T10:00:00Z"),
            // Taken on a host whose clock was behind.
            incremental("child", "2026-03-01T09:59:00Z", "parent"),
            full("newest", "2026-03-02T10:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(1, 0, 0, 0), UTC);

    assertThat(plan.prune()).containsExactly("child", "parent");
  }

  @Test
  void theNewestVerifiedBackupIsKeptWithItsChainEvenBeyondTheRules() {
    var backups =
        List.of(
            full("full", "2026-03-01T02:00:00Z"),
            verified(incremental("checked", "2026-03-02T02:00:00Z", "full")),
            incremental("unchecked", "2026-03-03T02:00:00Z", "checked"),
            full("newer-1", "2026-03-04T02:00:00Z"),
            full("newer-2", "2026-03-05T02:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(2, 0, 0, 0), UTC);

    assertThat(plan.reasonFor("checked")).isEqualTo(Reason.NewestVerified);
    assertThat(plan.reasonFor("full")).isEqualTo(Reason.ParentOfKept);
    assertThat(plan.prune()).containsExactly("unchecked");
  }

  @Test
  void failedBackupsStayUntilANewerCompleteOneExistsAndCountForNoRule() {
    var backups =
        List.of(
            failed("failed-before", "2026-03-01T02:00:00Z"),
            full("good", "2026-03-02T02:00:00Z"),
            failed("failed-after", "2026-03-03T02:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(1, 0, 0, 0), UTC);

    assertThat(plan.reasonFor("failed-after")).isEqualTo(Reason.FailedNotSuperseded);
    assertThat(plan.reasonFor("good")).isEqualTo(Reason.KeepLast);
    assertThat(plan.reasonFor("failed-before")).isEqualTo(Reason.FailedSuperseded);
    assertThat(plan.prune()).containsExactly("failed-before");
  }

  @Test
  void withOnlyFailedBackupsNothingIsPruned() {
    var backups =
        List.of(failed("first", "2026-03-01T02:00:00Z"), failed("second", "2026-03-02T02:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(1, 0, 0, 0), UTC);

    assertThat(plan.prune()).isEmpty();
  }

  @Test
  void aBackupInProgressIsKeptWithItsParentAndTakesNoRuleSlot() {
    var backups =
        List.of(
            full("base", "2026-03-01T02:00:00Z"),
            full("older", "2026-03-02T02:00:00Z"),
            full("newest-complete", "2026-03-03T02:00:00Z"),
            inProgress(incremental("running", "2026-03-04T02:00:00Z", "base")));

    var plan = RetentionPlanner.plan(backups, new Retention(1, 0, 0, 0), UTC);

    assertThat(plan.reasonFor("running")).isEqualTo(Reason.InProgress);
    assertThat(plan.reasonFor("newest-complete")).isEqualTo(Reason.KeepLast);
    assertThat(plan.reasonFor("base")).isEqualTo(Reason.ParentOfKept);
    assertThat(plan.prune()).containsExactly("older");
  }

  @Test
  void aRetentionKeepingNothingStillKeepsTheNewestCompleteBackupAndItsChain() {
    var backups =
        List.of(
            full("old", "2026-03-01T02:00:00Z"),
            full("full", "2026-03-02T02:00:00Z"),
            incremental("inc", "2026-03-03T02:00:00Z", "full"),
            failed("failed", "2026-03-04T02:00:00Z"));

    var plan = RetentionPlanner.plan(backups, new Retention(0, 0, 0, 0), UTC);

    assertThat(plan.reasonFor("inc")).isEqualTo(Reason.NewestComplete);
    assertThat(plan.kept()).containsExactly("failed", "inc", "full");
    assertThat(plan.prune()).containsExactly("old");
  }

  @Test
  void noBackupsGiveAnEmptyPlan() {
    var plan = RetentionPlanner.plan(List.of(), GFS, UTC);

    assertThat(plan.verdicts()).isEmpty();
    assertThat(plan.prune()).isEmpty();
  }

  @Test
  void anIncrementalWhoseParentIsMissingIsKeptButCannotStandInForAUsableBackup() {
    var backups =
        List.of(
            full("usable", "2026-03-01T02:00:00Z"),
            full("superseded", "2026-03-01T01:00:00Z"),
            incremental("orphan", "2026-03-02T02:00:00Z", "gone"),
            incremental("orphans-child", "2026-03-03T02:00:00Z", "orphan"));

    var plan = RetentionPlanner.plan(backups, new Retention(1, 1, 0, 0), UTC);

    assertThat(plan.reasonFor("orphan")).isEqualTo(Reason.BrokenChain);
    assertThat(plan.reasonFor("orphans-child")).isEqualTo(Reason.BrokenChain);
    assertThat(plan.reasonFor("usable")).isEqualTo(Reason.KeepLast);
    assertThat(plan.prune()).containsExactly("superseded");
  }

  /** What a deleter that crashes after any number of deletions leaves behind. */
  private static void assertDeletingAnyPrefixOrphansNothing(List<Candidate> backups, Plan plan) {
    Set<String> deleted = new HashSet<>();
    for (String name : plan.prune()) {
      deleted.add(name);
      for (Candidate backup : backups) {
        if (!deleted.contains(backup.name()) && backup.parentName() != null) {
          assertThat(deleted)
              .as("%s is left without its parent after deleting %s", backup.name(), name)
              .doesNotContain(backup.parentName());
        }
      }
    }
  }

  private static List<Candidate> dailyFulls(LocalDate first, LocalDate last) {
    var backups = new ArrayList<Candidate>();
    for (var day = first; !day.isAfter(last); day = day.plusDays(1)) {
      backups.add(full(day.toString(), day + "T01:30:00Z"));
    }
    return backups;
  }

  /** A full every Monday and an incremental on each following day, each named after its day. */
  private static List<Candidate> weeklyFullsWithDailyIncrementals(LocalDate first, LocalDate last) {
    var backups = new ArrayList<Candidate>();
    for (var day = first; !day.isAfter(last); day = day.plusDays(1)) {
      String time = day + "T01:30:00Z";
      backups.add(
          day.getDayOfWeek() == DayOfWeek.MONDAY
              ? full(day.toString(), time)
              : incremental(day.toString(), time, day.minusDays(1).toString()));
    }
    return backups;
  }

  private static Candidate full(String name, String time) {
    return new Candidate(name, Instant.parse(time), null, Status.Complete, false);
  }

  private static Candidate incremental(String name, String time, String parent) {
    return new Candidate(name, Instant.parse(time), parent, Status.Complete, false);
  }

  private static Candidate failed(String name, String time) {
    return new Candidate(name, Instant.parse(time), null, Status.Failed, false);
  }

  private static Candidate verified(Candidate backup) {
    return new Candidate(backup.name(), backup.time(), backup.parentName(), backup.status(), true);
  }

  private static Candidate inProgress(Candidate backup) {
    return new Candidate(
        backup.name(), backup.time(), backup.parentName(), Status.InProgress, false);
  }
}
