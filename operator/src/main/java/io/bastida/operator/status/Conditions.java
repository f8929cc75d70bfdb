package io.bastida.operator.status;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** Conditions keyed by type, as the Kubernetes API conventions describe them. */
public final class Conditions {
  public static final String TRUE = "True";
  public static final String FALSE = "False";
  public static final String UNKNOWN = "Unknown";

  private Conditions() {}

  public static Condition of(String type, boolean status, String reason, String message) {
    return of(type, status ? TRUE : FALSE, reason, message);
  }

  public static Condition of(String type, String status, String reason, String message) {
    return new ConditionBuilder()
        .withType(type)
        .withStatus(status)
        .withReason(reason)
        .withMessage(message)
        .build();
  }

  /** The conditions with {@code condition} in place of the one of its type (or added). */
  public static List<Condition> replace(List<Condition> conditions, Condition condition) {
    List<Condition> result = new ArrayList<>();
    boolean replaced = false;
    for (Condition c : conditions == null ? List.<Condition>of() : conditions) {
      if (c.getType().equals(condition.getType())) {
        result.add(condition);
        replaced = true;
      } else {
        result.add(c);
      }
    }
    if (!replaced) {
      result.add(condition);
    }
    return result;
  }

  public static Optional<Condition> find(List<Condition> conditions, String type) {
    return conditions == null
        ? Optional.empty()
        : conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  /** Whether the condition of that type has that reason now: for events on a change only. */
  public static boolean hasReason(List<Condition> conditions, String type, String reason) {
    return find(conditions, type).map(Condition::getReason).filter(reason::equals).isPresent();
  }

  public static boolean isTrue(List<Condition> conditions, String type) {
    return find(conditions, type).map(c -> TRUE.equals(c.getStatus())).orElse(false);
  }

  /**
   * The desired conditions, each stamped with the generation it describes and with the transition
   * time of its previous version when the status did not flip, so that rewriting an unchanged
   * condition changes nothing.
   */
  public static List<Condition> merge(
      List<Condition> previous, List<Condition> desired, Long generation, Instant now) {
    List<Condition> merged = new ArrayList<>();
    for (Condition want : desired) {
      Condition next = new ConditionBuilder(want).withObservedGeneration(generation).build();
      Optional<Condition> before = find(previous, want.getType());
      next.setLastTransitionTime(
          before
              .filter(b -> Objects.equals(b.getStatus(), want.getStatus()))
              .map(Condition::getLastTransitionTime)
              .orElse(now.truncatedTo(ChronoUnit.SECONDS).toString()));
      merged.add(next);
    }
    return merged;
  }
}
