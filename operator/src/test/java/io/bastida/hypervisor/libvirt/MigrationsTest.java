package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.hypervisor.MigrationProgress;
import io.bastida.hypervisor.MigrationRequest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.libvirt.DomainJobStats;
import org.libvirt.TypedIntParameter;
import org.libvirt.TypedParameter;
import org.libvirt.TypedStringParameter;
import org.libvirt.TypedUlongParameter;

class MigrationsTest {
  private static final String DEST = "qemu+tcp://10.77.0.2/system";
  // virDomainJobType and virDomainJobOperation as libvirt reports them
  private static final int NONE = 0;
  private static final int UNBOUNDED = 2;
  private static final int COMPLETED = 3;
  private static final int FAILED = 4;
  private static final int MIGRATION_IN = 4;
  private static final int MIGRATION_OUT = 5;
  private static final int BACKUP = 9;

  @Test
  void aLivePeerToPeerMoveThatDefinesTheDomainThereAndForgetsItHere() {
    // LIVE | PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE | ABORT_ON_ERROR
    assertThat(Migrations.flags(new MigrationRequest(DEST, null, 300, null, false, false)))
        .isEqualTo(1 | 2 | 8 | 16 | 4096);
    // + AUTO_CONVERGE, + NON_SHARED_DISK
    assertThat(Migrations.flags(new MigrationRequest(DEST, null, 300, null, true, false)))
        .isEqualTo(1 | 2 | 8 | 16 | 4096 | 8192);
    assertThat(Migrations.flags(new MigrationRequest(DEST, null, 300, null, false, true)))
        .isEqualTo(1 | 2 | 8 | 16 | 4096 | 64);
  }

  @Test
  void parametersNameTheMigrationAddressAndBandwidthWhenGiven() {
    assertThat(
            describe(
                Migrations.parameters(
                    "web", new MigrationRequest(DEST, "10.77.0.2", 300, 100L, false, false))))
        .containsExactly("destination_name=web", "migrate_uri=tcp://10.77.0.2", "bandwidth=100");
    assertThat(
            describe(
                Migrations.parameters(
                    "web", new MigrationRequest(DEST, null, 300, null, false, false))))
        .containsExactly("destination_name=web");
  }

  @Test
  void migrationUriTakesABareHostOnly() {
    assertThat(Migrations.migrationUri("10.77.0.2")).isEqualTo("tcp://10.77.0.2");
    assertThat(Migrations.migrationUri("host-b.example.org")).isEqualTo("tcp://host-b.example.org");
    assertThat(Migrations.migrationUri("fd00:77::2")).isEqualTo("tcp://[fd00:77::2]");
    assertThat(Migrations.migrationUri("[fd00:77::2]")).isEqualTo("tcp://[fd00:77::2]");
    for (String bad :
        List.of("", "10.77.0.2:49152", "10.77.0.2/x", "user@10.77.0.2", "a b", "h?x", "bad_host")) {
      assertThatThrownBy(() -> Migrations.migrationUri(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not a host name or IP address");
    }
  }

  @Test
  void aRunningMigrationReportsItsFiguresButNoDowntimeYet() {
    DomainJobStats job =
        job(
            UNBOUNDED,
            MIGRATION_OUT,
            ulong("time_elapsed", 1500),
            ulong("data_total", 135_012_352),
            ulong("data_processed", 70_000_000),
            ulong("data_remaining", 65_012_352),
            ulong("memory_iteration", 2),
            ulong("memory_dirty_rate", 1200),
            ulong("downtime", 300)); // what QEMU expects, not what happened

    assertThat(Migrations.running(job))
        .contains(new MigrationProgress(1500, 135_012_352, 70_000_000, 65_012_352, 2, 1200, null));
    assertThat(Migrations.completed(job)).isEmpty();
  }

  @Test
  void figuresNotReportedYetAreZero() {
    assertThat(Migrations.running(job(UNBOUNDED, MIGRATION_OUT, ulong("time_elapsed", 243))))
        .contains(new MigrationProgress(243, 0, 0, 0, 0, 0, null));
  }

  @Test
  void noJobOrAnotherKindOfJobIsNoMigration() {
    assertThat(Migrations.running(new DomainJobStats(NONE, new TypedParameter[0]))).isEmpty();
    assertThat(Migrations.running(job(UNBOUNDED, BACKUP, ulong("data_total", 1)))).isEmpty();
    assertThat(Migrations.completed(new DomainJobStats(NONE, new TypedParameter[0]))).isEmpty();
    assertThat(Migrations.completed(job(COMPLETED, BACKUP, ulong("data_total", 1)))).isEmpty();
  }

  @Test
  void aCompletedMigrationReportsItsMeasuredDowntime() {
    DomainJobStats job =
        job(
            COMPLETED,
            MIGRATION_IN,
            ulong("time_elapsed", 710),
            ulong("data_total", 135_012_352),
            ulong("data_processed", 74_000_000),
            ulong("data_remaining", 0),
            ulong("memory_iteration", 3),
            ulong("downtime", 256));

    assertThat(Migrations.completed(job))
        .contains(new MigrationProgress(710, 135_012_352, 74_000_000, 0, 3, 0, 256L));
    assertThat(Migrations.running(job)).isEmpty();
  }

  @Test
  void aFailedMigrationIsNoCompletedOne() {
    assertThat(Migrations.completed(job(FAILED, MIGRATION_OUT, ulong("downtime", 10)))).isEmpty();
  }

  private static DomainJobStats job(int type, int operation, TypedParameter... stats) {
    List<TypedParameter> all = new ArrayList<>(Arrays.asList(stats));
    all.add(new TypedIntParameter("operation", operation));
    return new DomainJobStats(type, all.toArray(TypedParameter[]::new));
  }

  private static TypedParameter ulong(String field, long value) {
    return new TypedUlongParameter(field, value);
  }

  private static List<String> describe(TypedParameter[] params) {
    return Arrays.stream(params)
        .map(
            p ->
                p.field
                    + "="
                    + (p instanceof TypedStringParameter s
                        ? s.value
                        : String.valueOf(((TypedUlongParameter) p).value)))
        .toList();
  }
}
