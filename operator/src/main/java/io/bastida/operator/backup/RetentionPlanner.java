package io.bastida.operator.backup;

import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Decides which backups of one VM a BackupPolicy's retention keeps, with Proxmox's prune semantics:
 * keep-last, keep-daily, keep-weekly (ISO weeks) and keep-monthly are applied in that order, newest
 * first; each rule keeps the newest backup of each of its N most recent periods, skipping backups
 * an earlier rule kept and periods such a backup already covers.
 *
 * <p>Beyond Proxmox, it knows about incremental chains and never leaves a VM without a usable
 * backup. Pure: the reconciler deletes {@link Plan#prune()} in order.
 */
public final class RetentionPlanner {
  private RetentionPlanner() {}

  public enum Status {
    Complete,
    Failed,
    InProgress
  }

  /**
   * @param parentName the backup an incremental was taken on top of, or null for a full
   * @param verified restored into a throwaway domain and checked
   */
  public record Candidate(
      String name, Instant time, String parentName, Status status, boolean verified) {}

  /** How many backups each rule keeps; zero (or less) turns the rule off. */
  public record Retention(int keepLast, int keepDaily, int keepWeekly, int keepMonthly) {}

  public enum Reason {
    KeepLast(true),
    KeepDaily(true),
    KeepWeekly(true),
    KeepMonthly(true),
    NewestVerified(true),
    NewestComplete(true),
    InProgress(true),
    /** An incremental that is kept needs every backup below it to be restored. */
    ParentOfKept(true),
    /** Failed with no newer complete backup: kept so the user can see why it failed. */
    FailedNotSuperseded(true),
    /**
     * Complete, but its chain does not reach a full backup in the list. Unusable, so it counts for
     * no rule; kept because a parent missing from a partial listing looks the same as a deleted
     * one, and deleting is the step that cannot be undone.
     */
    BrokenChain(true),
    FailedSuperseded(false),
    Pruned(false);

    private final boolean keeps;

    Reason(boolean keeps) {
      this.keeps = keeps;
    }

    public boolean keeps() {
      return keeps;
    }
  }

  public record Verdict(String name, Reason reason) {
    public boolean keep() {
      return reason.keeps();
    }
  }

  /**
   * @param verdicts one per candidate, newest first
   * @param prune the names to delete, every child before its parent: stopping after any prefix
   *     leaves no kept backup without its parent
   */
  public record Plan(List<Verdict> verdicts, List<String> prune) {
    public List<String> kept() {
      return verdicts.stream().filter(Verdict::keep).map(Verdict::name).toList();
    }

    public Reason reasonFor(String name) {
      return verdicts.stream()
          .filter(verdict -> verdict.name().equals(name))
          .map(Verdict::reason)
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no backup named " + name));
    }
  }

  /** ISO week-based year and week: 2025-12-29 belongs to week 1 of 2026. */
  private record IsoWeek(int weekBasedYear, int week) {}

  /**
   * @param candidates every backup of one VM, in any order; names must be unique
   * @param zone where the calendar days, weeks and months of the rules begin and end
   */
  public static Plan plan(List<Candidate> candidates, Retention retention, ZoneId zone) {
    Map<String, Candidate> byName = new HashMap<>();
    for (Candidate candidate : candidates) {
      if (byName.putIfAbsent(candidate.name(), candidate) != null) {
        throw new IllegalArgumentException("two backups are named " + candidate.name());
      }
    }
    List<Candidate> newestFirst =
        candidates.stream()
            .sorted(Comparator.comparing(Candidate::time).reversed().thenComparing(Candidate::name))
            .toList();
    List<Candidate> usable =
        newestFirst.stream()
            .filter(c -> c.status() == Status.Complete && reachesFull(c, byName))
            .toList();

    // A backup keeps the first reason it is given: the order below is the order of precedence.
    Map<String, Reason> reasons = new HashMap<>();
    keepNewestPerPeriod(usable, retention.keepLast(), Candidate::name, Reason.KeepLast, reasons);
    keepNewestPerPeriod(
        usable, retention.keepDaily(), c -> localDate(c, zone), Reason.KeepDaily, reasons);
    keepNewestPerPeriod(
        usable, retention.keepWeekly(), c -> isoWeek(c, zone), Reason.KeepWeekly, reasons);
    keepNewestPerPeriod(
        usable,
        retention.keepMonthly(),
        c -> YearMonth.from(localDate(c, zone)),
        Reason.KeepMonthly,
        reasons);
    usable.stream()
        .filter(Candidate::verified)
        .findFirst()
        .ifPresent(c -> reasons.putIfAbsent(c.name(), Reason.NewestVerified));
    usable.stream()
        .findFirst()
        .ifPresent(c -> reasons.putIfAbsent(c.name(), Reason.NewestComplete));

    Instant newestUsable = usable.isEmpty() ? null : usable.get(0).time();
    for (Candidate candidate : newestFirst) {
      switch (candidate.status()) {
        case InProgress -> reasons.putIfAbsent(candidate.name(), Reason.InProgress);
        case Failed -> {
          if (newestUsable == null || !newestUsable.isAfter(candidate.time())) {
            reasons.putIfAbsent(candidate.name(), Reason.FailedNotSuperseded);
          }
        }
        case Complete -> {
          if (!reachesFull(candidate, byName)) {
            reasons.putIfAbsent(candidate.name(), Reason.BrokenChain);
          }
        }
      }
    }

    for (String keptName : List.copyOf(reasons.keySet())) {
      for (Candidate ancestor : ancestors(byName.get(keptName), byName)) {
        reasons.putIfAbsent(ancestor.name(), Reason.ParentOfKept);
      }
    }

    List<Verdict> verdicts = new ArrayList<>();
    for (Candidate candidate : newestFirst) {
      Reason unkept = candidate.status() == Status.Failed ? Reason.FailedSuperseded : Reason.Pruned;
      verdicts.add(new Verdict(candidate.name(), reasons.getOrDefault(candidate.name(), unkept)));
    }
    return new Plan(verdicts, deletionOrder(newestFirst, reasons, byName));
  }

  /**
   * One retention rule. Backups an earlier rule kept are passed over, and so are the periods they
   * fall in: a day already holding a keep-last backup does not use up a keep-daily slot.
   */
  private static <P> void keepNewestPerPeriod(
      List<Candidate> newestFirst,
      int periods,
      Function<Candidate, P> periodOf,
      Reason reason,
      Map<String, Reason> reasons) {
    Set<P> coveredEarlier = new HashSet<>();
    for (Candidate candidate : newestFirst) {
      if (reasons.containsKey(candidate.name())) {
        coveredEarlier.add(periodOf.apply(candidate));
      }
    }
    Set<P> keptNow = new HashSet<>();
    for (Candidate candidate : newestFirst) {
      if (keptNow.size() >= periods) {
        return;
      }
      P period = periodOf.apply(candidate);
      if (!reasons.containsKey(candidate.name())
          && !coveredEarlier.contains(period)
          && keptNow.add(period)) {
        reasons.put(candidate.name(), reason);
      }
    }
  }

  private static LocalDate localDate(Candidate candidate, ZoneId zone) {
    return LocalDate.ofInstant(candidate.time(), zone);
  }

  private static IsoWeek isoWeek(Candidate candidate, ZoneId zone) {
    LocalDate date = localDate(candidate, zone);
    return new IsoWeek(
        date.get(IsoFields.WEEK_BASED_YEAR), date.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
  }

  /** Parent first; stops at a parent missing from the list (and at a loop, rather than hang). */
  private static List<Candidate> ancestors(Candidate candidate, Map<String, Candidate> byName) {
    List<Candidate> found = new ArrayList<>();
    Set<String> seen = new HashSet<>(Set.of(candidate.name()));
    Candidate parent = byName.get(candidate.parentName());
    while (parent != null && seen.add(parent.name())) {
      found.add(parent);
      parent = byName.get(parent.parentName());
    }
    return found;
  }

  private static boolean reachesFull(Candidate candidate, Map<String, Candidate> byName) {
    List<Candidate> ancestors = ancestors(candidate, byName);
    Candidate root = ancestors.isEmpty() ? candidate : ancestors.get(ancestors.size() - 1);
    return root.parentName() == null;
  }

  /**
   * Deepest first: a child always sits deeper in its chain than its parent, so it is deleted before
   * it whatever the clocks said when they were taken.
   */
  private static List<String> deletionOrder(
      List<Candidate> newestFirst, Map<String, Reason> reasons, Map<String, Candidate> byName) {
    Map<String, Integer> depth = new LinkedHashMap<>();
    for (Candidate candidate : newestFirst) {
      if (!reasons.containsKey(candidate.name())) {
        depth.put(candidate.name(), ancestors(candidate, byName).size());
      }
    }
    // Stable sort: within one depth, newest first.
    return depth.keySet().stream()
        .sorted(Comparator.comparing(depth::get, Comparator.reverseOrder()))
        .toList();
  }
}
