package io.bastida.operator.backup;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * When a BackupPolicy runs: a 5-field Unix cron expression (or a macro such as {@code @daily}) read
 * as wall-clock time in the policy's time zone. Decides, like a Kubernetes CronJob, whether a
 * backup is due now. Pure: the reconciler starts the backup, records the time and requeues itself
 * for the next run.
 *
 * <p>Daylight saving time: a wall-clock time that does not exist (clocks go forward) is not run
 * that day; a wall-clock time that happens twice (clocks go back) is run once, at its first
 * occurrence.
 */
public final class BackupSchedule {
  /** The default of spec.startingDeadlineSeconds. */
  private static final Duration DEFAULT_STARTING_DEADLINE = Duration.ofHours(1);

  /** Missed runs are counted up to this many, so a policy paused for years costs no more. */
  static final int MISSED_RUNS_COUNTED_UP_TO = 1000;

  private static final CronParser UNIX_CRON =
      new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

  // cron-utils' Unix definition has no macros.
  private static final Map<String, String> MACROS =
      Map.of(
          "@hourly", "0 * * * *",
          "@daily", "0 0 * * *",
          "@midnight", "0 0 * * *",
          "@weekly", "0 0 * * 0",
          "@monthly", "0 0 1 * *",
          "@yearly", "0 0 1 1 *",
          "@annually", "0 0 1 1 *");

  private static final List<String> FIELDS =
      List.of("minute", "hour", "day of month", "month", "day of week");

  private static final Pattern OUT_OF_RANGE =
      Pattern.compile("Value \\S+ not in range \\[(\\d+), (\\d+)]");

  private final ExecutionTime executionTime;
  private final ZoneId zone;

  private BackupSchedule(ExecutionTime executionTime, ZoneId zone) {
    this.executionTime = executionTime;
    this.zone = zone;
  }

  /**
   * What to do on this pass. At most one of {@code runNow} and {@code skippedAsTooLate} is set;
   * either way the caller moves lastScheduleTime to that time.
   *
   * @param runNow the scheduled time to back up for now: the latest one due
   * @param skippedAsTooLate the latest scheduled time due, not run because its starting deadline
   *     has passed
   * @param missedRuns scheduled times due before the latest one, never run because a newer one
   *     overtook them; counted up to {@link #MISSED_RUNS_COUNTED_UP_TO}
   * @param nextRun the first scheduled time after now, to requeue for
   */
  public record Decision(
      Optional<Instant> runNow,
      Optional<Instant> skippedAsTooLate,
      int missedRuns,
      Optional<Instant> nextRun) {}

  /**
   * @param cron spec.schedule
   * @param timeZone spec.timeZone, an IANA name; null means UTC
   */
  public static BackupSchedule parse(String cron, String timeZone) throws InvalidScheduleException {
    ZoneId zone = parseZone(timeZone == null ? "UTC" : timeZone);
    ExecutionTime executionTime = ExecutionTime.forCron(parseUnix(cron));
    // Refused here rather than accepted as a policy that never runs, like "0 0 30 2 *".
    if (executionTime.nextExecution(Instant.EPOCH.atZone(zone)).isEmpty()) {
      throw scheduleError(cron, "matches no date");
    }
    return new BackupSchedule(executionTime, zone);
  }

  /** The first scheduled time strictly after {@code time}; empty if there is none. */
  public Optional<Instant> nextAfter(Instant time) {
    Optional<ZonedDateTime> next = executionTime.nextExecution(time.atZone(zone));
    while (next.isPresent() && isRepeatedWallClockTime(next.get())) {
      next = executionTime.nextExecution(next.get());
    }
    return next.map(ZonedDateTime::toInstant);
  }

  /**
   * @param lastScheduleTime status.lastScheduleTime; null if the policy never ran
   * @param policyCreatedAt when the policy was created: it runs only for times after that
   * @param startingDeadline how late a run may start; null means one hour, the field's default
   */
  public Decision decide(
      Instant lastScheduleTime, Instant policyCreatedAt, Instant now, Duration startingDeadline) {
    Instant since = lastScheduleTime != null ? lastScheduleTime : policyCreatedAt;
    Duration deadline = startingDeadline != null ? startingDeadline : DEFAULT_STARTING_DEADLINE;
    // A lastScheduleTime ahead of this clock (skew between replicas) must not be run again.
    Optional<Instant> nextRun = nextAfter(now.isAfter(since) ? now : since);
    Optional<Instant> latestDue = latestAtOrBefore(now).filter(due -> due.isAfter(since));
    if (latestDue.isEmpty()) {
      return new Decision(Optional.empty(), Optional.empty(), 0, nextRun);
    }
    Instant due = latestDue.get();
    int missed = countBetween(since, due);
    if (now.isAfter(due.plus(deadline))) {
      return new Decision(Optional.empty(), latestDue, missed, nextRun);
    }
    return new Decision(latestDue, Optional.empty(), missed, nextRun);
  }

  /** Found backwards from now, so that a long outage does not mean walking every missed time. */
  private Optional<Instant> latestAtOrBefore(Instant time) {
    // cron-utils looks strictly before the time given.
    Optional<ZonedDateTime> latest = executionTime.lastExecution(time.plusNanos(1).atZone(zone));
    while (latest.isPresent() && isRepeatedWallClockTime(latest.get())) {
      latest = executionTime.lastExecution(latest.get());
    }
    return latest.map(ZonedDateTime::toInstant);
  }

  /** Scheduled times strictly between the two, up to {@link #MISSED_RUNS_COUNTED_UP_TO}. */
  private int countBetween(Instant after, Instant before) {
    int count = 0;
    Optional<Instant> time = nextAfter(after);
    while (count < MISSED_RUNS_COUNTED_UP_TO && time.isPresent() && time.get().isBefore(before)) {
      count++;
      time = nextAfter(time.get());
    }
    return count;
  }

  /**
   * The second occurrence of a wall-clock time when clocks go back. cron-utils is not consistent
   * about it (going forward it yields it for hourly schedules but not daily ones, going backward it
   * yields it even for daily ones); a backup runs once per wall-clock time.
   */
  private static boolean isRepeatedWallClockTime(ZonedDateTime time) {
    return time.withEarlierOffsetAtOverlap().isBefore(time);
  }

  private static ZoneId parseZone(String timeZone) throws InvalidScheduleException {
    try {
      return ZoneId.of(timeZone);
    } catch (DateTimeException e) {
      throw new InvalidScheduleException(
          "spec.timeZone: \""
              + timeZone
              + "\": unknown time zone, expected an IANA name such as \"Europe/Madrid\"");
    }
  }

  private static Cron parseUnix(String cron) throws InvalidScheduleException {
    String trimmed = cron == null ? "" : cron.trim();
    if (trimmed.isEmpty()) {
      throw scheduleError(cron, "must not be empty");
    }
    if (trimmed.startsWith("@")) {
      String expanded = MACROS.get(trimmed);
      if (expanded == null) {
        throw scheduleError(
            cron, "unknown macro, expected one of @hourly @daily @weekly @monthly @yearly");
      }
      return UNIX_CRON.parse(expanded);
    }
    String[] parts = trimmed.split("\\s+");
    if (parts.length != FIELDS.size()) {
      throw scheduleError(
          cron,
          "has "
              + parts.length
              + " fields, expected 5 (minute hour day-of-month month day-of-week)"
              + (parts.length > FIELDS.size() ? "; seconds and years are not supported" : ""));
    }
    try {
      return UNIX_CRON.parse(String.join(" ", parts));
    } catch (IllegalArgumentException whole) {
      for (int i = 0; i < parts.length; i++) {
        Optional<String> problem = fieldProblem(i, parts[i]);
        if (problem.isPresent()) {
          throw scheduleError(cron, problem.get());
        }
      }
      throw scheduleError(cron, reason(whole));
    }
  }

  /**
   * cron-utils does not say which field it rejects, so each field is tried alone with the others
   * left as "*".
   */
  private static Optional<String> fieldProblem(int index, String value) {
    List<String> alone = new ArrayList<>(List.of("*", "*", "*", "*", "*"));
    alone.set(index, value);
    try {
      UNIX_CRON.parse(String.join(" ", alone));
      return Optional.empty();
    } catch (IllegalArgumentException e) {
      String field = FIELDS.get(index);
      Matcher range = OUT_OF_RANGE.matcher(reason(e));
      if (range.find()) {
        return Optional.of(field + " must be " + range.group(1) + "-" + range.group(2));
      }
      return Optional.of(field + " \"" + value + "\": " + reason(e));
    }
  }

  private static String reason(IllegalArgumentException fromCronUtils) {
    return fromCronUtils.getMessage().replace("Failed to parse cron expression. ", "");
  }

  private static InvalidScheduleException scheduleError(String cron, String problem) {
    return new InvalidScheduleException("spec.schedule: \"" + cron + "\": " + problem);
  }
}
