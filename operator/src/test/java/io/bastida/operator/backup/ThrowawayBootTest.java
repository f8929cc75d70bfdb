package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ThrowawayBootTest {

  @Test
  void eachBackupHasAThrowawayDomainNameOfItsOwn() {
    String first = ThrowawayBoot.domainName(new BackupLayout("a-b", "web", "c"));
    String second = ThrowawayBoot.domainName(new BackupLayout("a", "web", "b-c"));

    assertThat(first).startsWith("bastida-verify-a-b-c-").isNotEqualTo(second);
    assertThat(ThrowawayBoot.domainName(new BackupLayout("a-b", "web", "c"))).isEqualTo(first);
  }
}
