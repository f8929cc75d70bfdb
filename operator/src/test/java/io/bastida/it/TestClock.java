package io.bastida.it;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Real time, shifted by hand: a schedule fires when the test moves the clock past it, not after
 * sleeping, while timeouts and grace periods still see time pass.
 */
public final class TestClock extends Clock {
  private final AtomicReference<Duration> shift = new AtomicReference<>(Duration.ZERO);

  /** From now on, time goes on from {@code instant}. */
  public void set(Instant instant) {
    shift.set(Duration.between(Instant.now(), instant));
  }

  /** Moves one second past {@code time}; never backwards. */
  public void jumpPast(Instant time) {
    shift.updateAndGet(
        current -> {
          Duration needed = Duration.between(Instant.now(), time.plusSeconds(1));
          return needed.compareTo(current) > 0 ? needed : current;
        });
  }

  public void advance(Duration duration) {
    shift.updateAndGet(current -> current.plus(duration));
  }

  @Override
  public Instant instant() {
    return Instant.now().plus(shift.get());
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("the operator reads instants only");
  }
}
