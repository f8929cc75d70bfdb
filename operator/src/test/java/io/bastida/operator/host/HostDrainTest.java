package io.bastida.operator.host;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostDrainTest {

  @Test
  void aShortMigrationNameSaysVmHostAndGeneration() {
    assertThat(HostDrain.migrationName("web", "h1", 3L)).isEqualTo("web-drain-h1-3");
  }

  @Test
  void aNameOfExactly253CharactersIsKeptAsItIs() {
    String vm = "v".repeat(253 - "-drain-h1-3".length());

    String name = HostDrain.migrationName(vm, "h1", 3L);

    assertThat(name).hasSize(253).isEqualTo(vm + "-drain-h1-3");
  }

  @Test
  void aLongNameIsShortenedToAValidObjectName() {
    String vm = "v".repeat(250);

    String name = HostDrain.migrationName(vm, "host-with-a-long-name.example.org", 12L);

    assertThat(name.length()).isLessThanOrEqualTo(253);
    assertThat(name).matches("v{200}-drain-[0-9a-f]{16}");
  }

  @Test
  void aLongHostNameIsShortenedToo() {
    String name = HostDrain.migrationName("web", "h".repeat(253), 1L);

    assertThat(name.length()).isLessThanOrEqualTo(253);
    assertThat(name).matches("web-drain-[0-9a-f]{16}");
  }

  @Test
  void shortenedNamesAreTheSameForTheSameInputs() {
    String vm = "v".repeat(250);

    assertThat(HostDrain.migrationName(vm, "h1", 7L))
        .isEqualTo(HostDrain.migrationName(vm, "h1", 7L));
  }

  @Test
  void shortenedNamesDifferForDifferentInputs() {
    String vm = "v".repeat(250);
    String sameStart = "v".repeat(200) + "w".repeat(50);

    String name = HostDrain.migrationName(vm, "h1", 7L);

    assertThat(name)
        .isNotEqualTo(HostDrain.migrationName(vm, "h2", 7L))
        .isNotEqualTo(HostDrain.migrationName(vm, "h1", 8L))
        .isNotEqualTo(HostDrain.migrationName(sameStart, "h1", 7L));
  }
}
