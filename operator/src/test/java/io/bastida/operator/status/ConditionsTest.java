package io.bastida.operator.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConditionsTest {
  private static final Instant T0 = Instant.parse("2026-11-27T10:00:00Z");
  private static final Instant T1 = Instant.parse("2026-11-27T10:05:00Z");

  @Test
  void newConditionGetsNowAsTransitionTimeAndTheGeneration() {
    List<Condition> merged =
        Conditions.merge(null, List.of(Conditions.of("Ready", true, "HostReady", "ok")), 3L, T0);

    assertThat(merged)
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getLastTransitionTime()).isEqualTo("2026-11-27T10:00:00Z");
              assertThat(c.getObservedGeneration()).isEqualTo(3L);
            });
  }

  @Test
  void unchangedStatusKeepsItsTransitionTimeEvenWhenTheMessageChanges() {
    List<Condition> before =
        Conditions.merge(null, List.of(Conditions.of("Ready", true, "HostReady", "a")), 1L, T0);
    List<Condition> after =
        Conditions.merge(before, List.of(Conditions.of("Ready", true, "HostReady", "b")), 2L, T1);

    assertThat(after.get(0).getLastTransitionTime()).isEqualTo("2026-11-27T10:00:00Z");
    assertThat(after.get(0).getMessage()).isEqualTo("b");
  }

  @Test
  void flippedStatusMovesTheTransitionTime() {
    List<Condition> before =
        Conditions.merge(null, List.of(Conditions.of("Ready", true, "HostReady", "a")), 1L, T0);
    List<Condition> after =
        Conditions.merge(
            before, List.of(Conditions.of("Ready", false, "ConnectionRefused", "x")), 1L, T1);

    assertThat(after.get(0).getLastTransitionTime()).isEqualTo("2026-11-27T10:05:00Z");
    assertThat(Conditions.isTrue(after, "Ready")).isFalse();
  }
}
