package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.operator.backup.BackupSchedule.Decision;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BackupScheduleTest {

  private static final ZoneId MADRID = ZoneId.of("Europe/Madrid");
  private static final Duration ONE_HOUR = Duration.ofHours(1);
  private static final Instant CREATED = Instant.parse("2024-01-01T09:00:00Z");

  // --- parse: every problem names the field

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "61 * * * *  | minute must be 0-59",
        "* 24 * * *  | hour must be 0-23",
        "* * 0 * *   | day of month must be 1-31",
        "* * 32 * *  | day of month must be 1-31",
        "* * * 13 *  | month must be 1-12",
        "* * * * 8   | day of week must be 0-7",
      })
  void anOutOfRangeValueNamesTheFieldAndItsRange(String cron, String problem) {
    assertThatThrownBy(() -> BackupSchedule.parse(cron, "UTC"))
        .isInstanceOf(InvalidScheduleException.class)
        .hasMessage("spec.schedule: \"" + cron + "\": " + problem);
  }

  @Test
  void aMalformedFieldIsNamedWithWhatCronUtilsFoundWrong() {
    assertThatThrownBy(() -> BackupSchedule.parse("0 5-1 * * *", "UTC"))
        .hasMessageStartingWith("spec.schedule: \"0 5-1 * * *\": hour \"5-1\": ")
        .hasMessageContaining("Invalid range");
    assertThatThrownBy(() -> BackupSchedule.parse("0 2 * * MON-FRY", "UTC"))
        .hasMessageStartingWith("spec.schedule: \"0 2 * * MON-FRY\": day of week \"MON-FRY\": ");
    assertThatThrownBy(() -> BackupSchedule.parse("0 2 L * *", "UTC"))
        .hasMessageStartingWith("spec.schedule: \"0 2 L * *\": day of month \"L\": ");
  }

  @Test
  void aSecondsFieldOrAYearFieldIsRefusedAsNotUnixCron() {
    assertThatThrownBy(() -> BackupSchedule.parse("0 0 2 * * *", "UTC"))
        .hasMessage(
            "spec.schedule: \"0 0 2 * * *\": has 6 fields, expected 5 (minute hour day-of-month"
                + " month day-of-week); seconds and years are not supported");
    assertThatThrownBy(() -> BackupSchedule.parse("0 0 2 * * ? 2030", "UTC"))
        .hasMessageStartingWith("spec.schedule: \"0 0 2 * * ? 2030\": has 7 fields, expected 5");
  }

  @Test
  void tooFewFieldsAreRefused() {
    assertThatThrownBy(() -> BackupSchedule.parse("0 2 *", "UTC"))
        .hasMessage(
            "spec.schedule: \"0 2 *\": has 3 fields, expected 5 (minute hour day-of-month month"
                + " day-of-week)");
  }

  @Test
  void anEmptyScheduleIsRefused() {
    assertThatThrownBy(() -> BackupSchedule.parse("  ", "UTC"))
        .hasMessage("spec.schedule: \"  \": must not be empty");
    assertThatThrownBy(() -> BackupSchedule.parse(null, "UTC"))
        .hasMessage("spec.schedule: \"null\": must not be empty");
  }

  @Test
  void anUnknownMacroIsRefused() {
    assertThatThrownBy(() -> BackupSchedule.parse("@reboot", "UTC"))
        .hasMessage(
            "spec.schedule: \"@reboot\": unknown macro, expected one of @hourly @daily @weekly"
                + " @monthly @yearly");
  }

  @Test
  void aScheduleThatMatchesNoDateIsRefusedInsteadOfNeverRunning() {
    assertThatThrownBy(() -> BackupSchedule.parse("0 0 30 2 *", "UTC"))
        .hasMessage("spec.schedule: \"0 0 30 2 *\": matches no date");
  }

  @Test
  void anUnknownTimeZoneIsNamed() {
    assertThatThrownBy(() -> BackupSchedule.parse("0 2 * * *", "Mars/Base"))
        .isInstanceOf(InvalidScheduleException.class)
        .hasMessageStartingWith("spec.timeZone: \"Mars/Base\": unknown time zone");
    assertThatThrownBy(() -> BackupSchedule.parse("0 2 * * *", "not a zone"))
        .hasMessageStartingWith("spec.timeZone: \"not a zone\": unknown time zone");
  }

  @Test
  void extraSpacesBetweenFieldsAreAccepted() throws Exception {
    var schedule = BackupSchedule.parse(" 0  2 * *\t* ", "UTC");

    assertThat(schedule.nextAfter(at("2024-05-15T10:00:00Z"))).contains(at("2024-05-16T02:00:00Z"));
  }

  // --- macros

  @ParameterizedTest
  @CsvSource({
    "@hourly, 2024-05-15T11:00:00Z",
    "@daily, 2024-05-16T00:00:00Z",
    "@midnight, 2024-05-16T00:00:00Z",
    "@weekly, 2024-05-19T00:00:00Z", // the Sunday after Wednesday the 15th
    "@monthly, 2024-06-01T00:00:00Z",
    "@yearly, 2025-01-01T00:00:00Z",
    "@annually, 2025-01-01T00:00:00Z",
  })
  void macrosRunAtTheStartOfTheirPeriod(String macro, String expected) throws Exception {
    var schedule = BackupSchedule.parse(macro, "UTC");

    assertThat(schedule.nextAfter(at("2024-05-15T10:20:00Z"))).contains(at(expected));
  }

  // --- time zones

  @Test
  void theSameScheduleIsEarlierInMadridThanInUtc() throws Exception {
    var utc = BackupSchedule.parse("0 2 * * *", "UTC");
    var madrid = BackupSchedule.parse("0 2 * * *", "Europe/Madrid");

    assertThat(utc.nextAfter(at("2024-01-15T12:00:00Z"))).contains(at("2024-01-16T02:00:00Z"));
    // CET is UTC+1 in winter, CEST UTC+2 in summer.
    assertThat(madrid.nextAfter(at("2024-01-15T12:00:00Z"))).contains(at("2024-01-16T01:00:00Z"));
    assertThat(madrid.nextAfter(at("2024-07-15T12:00:00Z"))).contains(at("2024-07-16T00:00:00Z"));
  }

  @Test
  void noTimeZoneMeansUtc() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", null);

    assertThat(schedule.nextAfter(at("2024-01-15T12:00:00Z"))).contains(at("2024-01-16T02:00:00Z"));
  }

  @Test
  void nextAfterIsStrictlyAfter() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");

    assertThat(schedule.nextAfter(at("2024-01-16T02:00:00Z"))).contains(at("2024-01-17T02:00:00Z"));
  }

  @Test
  void whenClocksGoForwardA0230BackupDoesNotRunThatDay() throws Exception {
    // Madrid, Sunday 31 March 2024: 02:00 CET becomes 03:00 CEST, there is no 02:30.
    var schedule = BackupSchedule.parse("30 2 * * *", "Europe/Madrid");

    assertThat(runsFrom(schedule, at("2024-03-29T00:00:00Z"), 3))
        .containsExactly(
            at("2024-03-29T01:30:00Z"), // 02:30 CET
            at("2024-03-30T01:30:00Z"),
            at("2024-04-01T00:30:00Z")); // 02:30 CEST
  }

  @Test
  void whenClocksGoBackA0230BackupRunsOnceAtTheFirst0230() throws Exception {
    // Madrid, Sunday 27 October 2024: 03:00 CEST becomes 02:00 CET, 02:30 happens twice.
    var schedule = BackupSchedule.parse("30 2 * * *", "Europe/Madrid");

    assertThat(runsFrom(schedule, at("2024-10-26T00:00:00Z"), 3))
        .containsExactly(
            at("2024-10-26T00:30:00Z"),
            at("2024-10-27T00:30:00Z"), // 02:30 CEST, not 02:30 CET an hour later
            at("2024-10-28T01:30:00Z"));
  }

  @Test
  void aPassDuringTheRepeatedHourDoesNotRunTheDayAgain() throws Exception {
    var schedule = BackupSchedule.parse("30 2 * * *", "Europe/Madrid");
    Instant ranAt0230Cest = at("2024-10-27T00:30:00Z");

    // 02:45 CET, after the second 02:30.
    var decision = schedule.decide(ranAt0230Cest, CREATED, at("2024-10-27T01:45:00Z"), ONE_HOUR);

    assertThat(decision.runNow()).isEmpty();
    assertThat(decision.skippedAsTooLate()).isEmpty();
    assertThat(decision.nextRun()).contains(at("2024-10-28T01:30:00Z"));
  }

  @Test
  void anHourlyBackupRunsOnceFor0200WhenClocksGoBack() throws Exception {
    // Each wall-clock time runs once, so the repeated hour leaves a two-hour gap.
    var schedule = BackupSchedule.parse("@hourly", "Europe/Madrid");

    assertThat(runsFrom(schedule, at("2024-10-26T23:30:00Z"), 3))
        .containsExactly(
            at("2024-10-27T00:00:00Z"), // 02:00 CEST
            at("2024-10-27T02:00:00Z"), // 03:00 CET
            at("2024-10-27T03:00:00Z"));
  }

  @Test
  void aReconcilerFollowingTheSchedulePastBothClockChangesRunsEachDayAtMostOnce() throws Exception {
    var schedule = BackupSchedule.parse("30 2 * * *", "Europe/Madrid");

    var spring = reconcileUntil(schedule, at("2024-03-25T00:00:00Z"), at("2024-04-05T00:00:00Z"));
    var autumn = reconcileUntil(schedule, at("2024-10-20T00:00:00Z"), at("2024-11-01T00:00:00Z"));

    assertThat(localDates(spring)).doesNotHaveDuplicates().hasSize(10); // no 31 March
    assertThat(localDates(autumn)).doesNotHaveDuplicates().hasSize(12);
  }

  // --- decide

  @Test
  void aScheduledTimeInThePastIsRunOnce() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");

    var decision =
        schedule.decide(at("2024-05-10T02:00:00Z"), CREATED, at("2024-05-11T02:10:00Z"), ONE_HOUR);

    assertThat(decision)
        .isEqualTo(
            new Decision(
                Optional.of(at("2024-05-11T02:00:00Z")),
                Optional.empty(),
                0,
                Optional.of(at("2024-05-12T02:00:00Z"))));
  }

  @Test
  void afterThreeDaysDownOnlyTheLatestMissedTimeRunsWithinTheDeadline() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");

    var decision =
        schedule.decide(at("2024-05-10T02:00:00Z"), CREATED, at("2024-05-13T02:20:00Z"), ONE_HOUR);

    assertThat(decision.runNow()).contains(at("2024-05-13T02:00:00Z"));
    assertThat(decision.missedRuns()).isEqualTo(2); // the 11th and the 12th
    assertThat(decision.skippedAsTooLate()).isEmpty();
    assertThat(decision.nextRun()).contains(at("2024-05-14T02:00:00Z"));
  }

  @Test
  void afterThreeDaysDownTheLatestMissedTimeIsSkippedPastTheDeadline() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");

    var decision =
        schedule.decide(at("2024-05-10T02:00:00Z"), CREATED, at("2024-05-13T03:30:00Z"), ONE_HOUR);

    assertThat(decision.runNow()).isEmpty();
    assertThat(decision.skippedAsTooLate()).contains(at("2024-05-13T02:00:00Z"));
    assertThat(decision.missedRuns()).isEqualTo(2);
    assertThat(decision.nextRun()).contains(at("2024-05-14T02:00:00Z"));
  }

  @Test
  void aRunStartingExactlyAtTheDeadlineIsStillOnTime() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");

    var decision =
        schedule.decide(at("2024-05-10T02:00:00Z"), CREATED, at("2024-05-11T03:00:00Z"), ONE_HOUR);

    assertThat(decision.runNow()).contains(at("2024-05-11T02:00:00Z"));
  }

  @Test
  void withoutADeadlineARunMayStartUpToAnHourLate() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");
    Instant last = at("2024-05-10T02:00:00Z");

    assertThat(schedule.decide(last, CREATED, at("2024-05-11T02:59:00Z"), null).runNow())
        .contains(at("2024-05-11T02:00:00Z"));
    assertThat(schedule.decide(last, CREATED, at("2024-05-11T03:01:00Z"), null).skippedAsTooLate())
        .contains(at("2024-05-11T02:00:00Z"));
  }

  @Test
  void aPolicyThatNeverRanWaitsForTheFirstScheduledTimeAfterItWasCreated() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");
    Instant created = at("2024-05-10T10:15:00Z");

    var beforeFirst = schedule.decide(null, created, at("2024-05-10T12:00:00Z"), ONE_HOUR);
    var atFirst = schedule.decide(null, created, at("2024-05-11T02:00:05Z"), ONE_HOUR);

    assertThat(beforeFirst.runNow()).isEmpty();
    assertThat(beforeFirst.nextRun()).contains(at("2024-05-11T02:00:00Z"));
    assertThat(atFirst.runNow()).contains(at("2024-05-11T02:00:00Z"));
    assertThat(atFirst.missedRuns()).isZero();
  }

  @Test
  void aPassExactlyOnTheScheduledTimeRunsIt() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");

    var decision =
        schedule.decide(at("2024-05-10T02:00:00Z"), CREATED, at("2024-05-11T02:00:00Z"), ONE_HOUR);

    assertThat(decision.runNow()).contains(at("2024-05-11T02:00:00Z"));
    assertThat(decision.nextRun()).contains(at("2024-05-12T02:00:00Z"));
  }

  @Test
  void thePassAfterARunDoesNotRunItAgain() throws Exception {
    var schedule = BackupSchedule.parse("0 2 * * *", "UTC");
    Instant now = at("2024-05-11T02:00:00Z");
    Instant ran =
        schedule.decide(at("2024-05-10T02:00:00Z"), CREATED, now, ONE_HOUR).runNow().get();

    var again = schedule.decide(ran, CREATED, now.plusSeconds(30), ONE_HOUR);

    assertThat(again.runNow()).isEmpty();
    assertThat(again.skippedAsTooLate()).isEmpty();
    assertThat(again.nextRun()).contains(at("2024-05-12T02:00:00Z"));
  }

  @Test
  void aLongOutageCountsMissedRunsUpToALimitAndStillRunsTheLatest() throws Exception {
    var everyMinute = BackupSchedule.parse("* * * * *", "UTC");

    var decision =
        everyMinute.decide(
            at("2024-05-01T00:00:00Z"), CREATED, at("2024-05-31T12:00:30Z"), ONE_HOUR);

    assertThat(decision.runNow()).contains(at("2024-05-31T12:00:00Z"));
    assertThat(decision.missedRuns()).isEqualTo(BackupSchedule.MISSED_RUNS_COUNTED_UP_TO);
  }

  // --- helpers

  private static Instant at(String instant) {
    return Instant.parse(instant);
  }

  private static List<Instant> runsFrom(BackupSchedule schedule, Instant from, int count) {
    List<Instant> runs = new ArrayList<>();
    Instant time = from;
    for (int i = 0; i < count; i++) {
      time = schedule.nextAfter(time).orElseThrow();
      runs.add(time);
    }
    return runs;
  }

  /**
   * Acts like the reconciler: a pass at creation, then one each time it requeued for. The number of
   * passes is bounded, so a planner that kept asking for the same time would fail the test.
   */
  private static List<Instant> reconcileUntil(
      BackupSchedule schedule, Instant created, Instant end) {
    List<Instant> runs = new ArrayList<>();
    Instant last = null;
    Instant now = created;
    for (int pass = 0; pass < 100 && now.isBefore(end); pass++) {
      Decision decision = schedule.decide(last, created, now, ONE_HOUR);
      if (decision.runNow().isPresent()) {
        last = decision.runNow().get();
        runs.add(last);
      }
      Instant next = decision.nextRun().orElseThrow();
      assertThat(next).isAfter(now);
      now = next;
    }
    assertThat(now).isAfterOrEqualTo(end);
    return runs;
  }

  private static List<LocalDate> localDates(List<Instant> runs) {
    return runs.stream().map(run -> run.atZone(MADRID).toLocalDate()).toList();
  }
}
