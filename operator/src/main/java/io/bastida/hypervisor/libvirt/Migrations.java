package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.MigrationProgress;
import io.bastida.hypervisor.MigrationRequest;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.libvirt.DomainJobStats;
import org.libvirt.TypedIntParameter;
import org.libvirt.TypedLongParameter;
import org.libvirt.TypedParameter;
import org.libvirt.TypedStringParameter;
import org.libvirt.TypedUintParameter;
import org.libvirt.TypedUlongParameter;

/** What libvirt's migration calls take and what its job statistics say, as plain functions. */
final class Migrations {
  // virDomainMigrateFlags
  private static final int LIVE = 1;
  private static final int PEER2PEER = 2;
  private static final int PERSIST_DEST = 8;
  private static final int UNDEFINE_SOURCE = 16;
  private static final int NON_SHARED_DISK = 64;
  private static final int ABORT_ON_ERROR = 4096;
  private static final int AUTO_CONVERGE = 8192;
  // virDomainJobType
  private static final int JOB_BOUNDED = 1;
  private static final int JOB_UNBOUNDED = 2;
  private static final int JOB_COMPLETED = 3;
  // virDomainJobOperation
  private static final int OPERATION_MIGRATION_IN = 4;
  private static final int OPERATION_MIGRATION_OUT = 5;

  /** A migration coming in: the destination's libvirt reports no figures of it. */
  static final MigrationProgress INCOMING = new MigrationProgress(0, 0, 0, 0, 0, 0, null);

  private Migrations() {}

  static int flags(MigrationRequest request) {
    int flags = LIVE | PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE | ABORT_ON_ERROR;
    if (request.autoConverge()) {
      flags |= AUTO_CONVERGE;
    }
    if (request.copyStorage()) {
      flags |= NON_SHARED_DISK;
    }
    return flags;
  }

  /**
   * The typed parameters of virDomainMigrateToURI3. libvirt 9.0 takes no downtime among them: the
   * caller sets it on the domain before.
   *
   * @throws IllegalArgumentException when the migration address is no host name or IP address
   */
  static TypedParameter[] parameters(String domainName, MigrationRequest request) {
    List<TypedParameter> params = new ArrayList<>();
    // The name stays; it also keeps the array non-empty, which libvirt-java cannot pass.
    params.add(new TypedStringParameter("destination_name", domainName));
    if (request.migrationAddress() != null) {
      params.add(new TypedStringParameter("migrate_uri", migrationUri(request.migrationAddress())));
    }
    if (request.bandwidthMiBPerSecond() != null) {
      params.add(new TypedUlongParameter("bandwidth", request.bandwidthMiBPerSecond()));
    }
    return params.toArray(TypedParameter[]::new);
  }

  /**
   * {@code tcp://<address>}, where QEMU on the source sends the guest's memory; an IPv6 literal in
   * brackets. Anything but a bare host (a port, a path, user info) is refused, not passed on.
   */
  static String migrationUri(String address) {
    String host = address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
    URI uri;
    try {
      uri = URI.create("tcp://" + host);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a host name or IP address: " + address, e);
    }
    if (!host.equalsIgnoreCase(uri.getHost())) {
      throw new IllegalArgumentException("not a host name or IP address: " + address);
    }
    return uri.toString();
  }

  /** The statistics of a running migration; empty for no job or a job of another kind. */
  static Optional<MigrationProgress> running(DomainJobStats job) {
    if ((job.type != JOB_BOUNDED && job.type != JOB_UNBOUNDED) || !isMigration(job)) {
      return Optional.empty();
    }
    // A running job's "downtime" is only what QEMU expects: left out.
    return Optional.of(progress(job.stats, null));
  }

  /** The statistics of a completed migration; empty when the last completed job was none. */
  static Optional<MigrationProgress> completed(DomainJobStats job) {
    if (job.type != JOB_COMPLETED || !isMigration(job)) {
      return Optional.empty();
    }
    OptionalLong downtime = value(job.stats, "downtime");
    return Optional.of(
        progress(job.stats, downtime.isPresent() ? Long.valueOf(downtime.getAsLong()) : null));
  }

  private static boolean isMigration(DomainJobStats job) {
    long operation = value(job.stats, "operation").orElse(-1);
    return operation == OPERATION_MIGRATION_OUT || operation == OPERATION_MIGRATION_IN;
  }

  private static MigrationProgress progress(TypedParameter[] stats, Long downtimeMillis) {
    return new MigrationProgress(
        value(stats, "time_elapsed").orElse(0),
        value(stats, "data_total").orElse(0),
        value(stats, "data_processed").orElse(0),
        value(stats, "data_remaining").orElse(0),
        value(stats, "memory_iteration").orElse(0),
        value(stats, "memory_dirty_rate").orElse(0),
        downtimeMillis);
  }

  static OptionalLong value(TypedParameter[] stats, String field) {
    for (TypedParameter stat : stats) {
      if (!field.equals(stat.field)) {
        continue;
      }
      if (stat instanceof TypedUlongParameter ulong) {
        return OptionalLong.of(ulong.value);
      }
      if (stat instanceof TypedLongParameter number) {
        return OptionalLong.of(number.value);
      }
      if (stat instanceof TypedUintParameter uint) {
        return OptionalLong.of(Integer.toUnsignedLong(uint.value));
      }
      if (stat instanceof TypedIntParameter number) {
        return OptionalLong.of(number.value);
      }
    }
    return OptionalLong.empty();
  }
}
