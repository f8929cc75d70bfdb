package io.bastida.operator.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostStatus;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class StatusWriterTest {

  @Test
  void writesOnceThenNeverAgainForTheSameObservation() {
    Host host = new Host();
    host.setMetadata(new ObjectMetaBuilder().withName("h1").withGeneration(4L).build());

    var first = writerAt("2026-11-27T10:00:00Z").update(host, observed(7));
    assertThat(first.isPatchStatus()).isTrue();
    assertThat(host.getStatus().getObservedGeneration()).isEqualTo(4L);

    var second = writerAt("2026-11-27T10:10:00Z").update(host, observed(7));
    assertThat(second.isPatchStatus()).isFalse();
  }

  @Test
  void writesWhenAnObservedFactChanges() {
    Host host = new Host();
    host.setMetadata(new ObjectMetaBuilder().withName("h1").withGeneration(1L).build());
    writerAt("2026-11-27T10:00:00Z").update(host, observed(7));

    var update = writerAt("2026-11-27T10:01:00Z").update(host, observed(8));

    assertThat(update.isPatchStatus()).isTrue();
    assertThat(host.getStatus().getDomains()).isEqualTo(8);
  }

  private static HostStatus observed(int domains) {
    HostStatus status = new HostStatus();
    status.setDomains(domains);
    status.setConditions(List.of(Conditions.of("Ready", true, "HostReady", "ok")));
    return status;
  }

  private static StatusWriter writerAt(String instant) {
    return new StatusWriter(Clock.fixed(Instant.parse(instant), ZoneOffset.UTC));
  }
}
