package io.bastida.operator.storage;

import io.bastida.api.v1alpha1.NfsAccess;
import io.bastida.api.v1alpha1.StorageDomainHostStatus;
import io.bastida.api.v1alpha1.StorageDomainSpec;
import io.bastida.api.v1alpha1.StorageDomainStatus;
import io.bastida.hypervisor.PoolDefinition;
import io.bastida.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Pure decisions about storage domains: which hosts use one, which libvirt pool each host gets,
 * what the domain's status says, and whether it may be deleted.
 */
public final class StoragePlanner {
  public static final String READY = "Ready";
  public static final String HOST_NOT_READY = "HostNotReady";
  public static final String HOST_PENDING = "HostPending";

  /** Not a problem, only not known yet: no Warning is due. */
  public static final String WAITING_FOR_HOSTS = "WaitingForHosts";

  static final String POOL_PREFIX = "bastida-";
  static final String MOUNT_ROOT = "/var/lib/bastida/mnt/";
  private static final long MIB = 1024 * 1024;

  private StoragePlanner() {}

  /**
   * A Host as storage sees it.
   *
   * @param checked whether the host reconciler has reported on it yet
   */
  public record HostView(String name, Map<String, String> labels, boolean checked, boolean ready) {}

  /** How a domain fared on one host. */
  public record Attachment(
      String hostName,
      boolean attached,
      String pool,
      Long capacityBytes,
      Long availableBytes,
      String reason,
      String message) {

    static Attachment attached(String host, String pool, Long capacity, Long available) {
      return new Attachment(host, true, pool, capacity, available, "Attached", null);
    }

    static Attachment failed(String host, String pool, String reason, String message) {
      return new Attachment(host, false, pool, null, null, reason, message);
    }
  }

  public static List<HostView> selectedHosts(StorageDomainSpec spec, List<HostView> hosts) {
    return hosts.stream()
        .filter(h -> LabelSelectors.matches(spec.getHostSelector(), h.labels()))
        .sorted(java.util.Comparator.comparing(HostView::name))
        .toList();
  }

  public static String poolName(String domainName) {
    return POOL_PREFIX + domainName;
  }

  /** The pool each host needs, or empty for NFS Native access, where QEMU opens the export. */
  public static Optional<PoolDefinition> poolFor(String domainName, StorageDomainSpec spec) {
    if (spec.getLocal() != null) {
      return Optional.of(
          new PoolDefinition.Directory(poolName(domainName), spec.getLocal().getPath()));
    }
    var nfs = spec.getNfs();
    if (isNative(spec)) {
      return Optional.empty();
    }
    return Optional.of(
        new PoolDefinition.NetworkFilesystem(
            poolName(domainName),
            nfs.getServer(),
            nfs.getPath(),
            MOUNT_ROOT + domainName,
            nfs.getMountOptions() == null ? List.of() : nfs.getMountOptions()));
  }

  public static boolean isNative(StorageDomainSpec spec) {
    return spec.getNfs() != null && spec.getNfs().getAccess() == NfsAccess.Native;
  }

  public static String typeOf(StorageDomainSpec spec) {
    if (spec.getLocal() != null) {
      return "Local";
    }
    return "NFS/"
        + (spec.getNfs().getAccess() == null ? NfsAccess.Mount : spec.getNfs().getAccess());
  }

  /**
   * The status of a domain given how each selected host fared and, for NFS Native access, what the
   * operator's own probe of the export found.
   */
  public static StorageDomainStatus status(
      StorageDomainSpec spec, List<Attachment> attachments, NfsExportProbe.Result exportProbe) {
    StorageDomainStatus status = new StorageDomainStatus();
    status.setType(typeOf(spec));
    List<StorageDomainHostStatus> hosts = new ArrayList<>();
    for (Attachment a : attachments) {
      StorageDomainHostStatus h = new StorageDomainHostStatus();
      h.setHostName(a.hostName());
      h.setAttached(a.attached());
      h.setPool(a.pool());
      h.setCapacity(mebibytes(a.capacityBytes()));
      h.setAvailable(mebibytes(a.availableBytes()));
      h.setReason(a.reason());
      h.setMessage(a.message());
      hosts.add(h);
    }
    status.setHosts(hosts);
    List<Attachment> attached = attachments.stream().filter(Attachment::attached).toList();
    status.setAttachedHosts(attached.size() + "/" + attachments.size());

    if (exportProbe != null && exportProbe.succeeded()) {
      status.setCapacity(mebibytes(exportProbe.capacityBytes()));
      status.setAvailable(mebibytes(exportProbe.availableBytes()));
    } else if (spec.getLocal() != null) {
      // Each host has its own directory: the domain holds what they hold together.
      status.setCapacity(mebibytes(sum(attached, Attachment::capacityBytes)));
      status.setAvailable(mebibytes(sum(attached, Attachment::availableBytes)));
    } else if (!attached.isEmpty()) {
      // Every host mounts the same export: any one of them tells its size.
      status.setCapacity(mebibytes(attached.get(0).capacityBytes()));
      status.setAvailable(mebibytes(attached.get(0).availableBytes()));
    }
    status.setConditions(List.of(readiness(attachments, attached, exportProbe)));
    return status;
  }

  private static io.fabric8.kubernetes.api.model.Condition readiness(
      List<Attachment> all, List<Attachment> attached, NfsExportProbe.Result exportProbe) {
    if (all.isEmpty()) {
      return Conditions.of(READY, false, "NoHosts", "no Host matches spec.hostSelector");
    }
    if (exportProbe != null && !exportProbe.succeeded()) {
      return Conditions.of(READY, false, exportProbe.failureReason(), exportProbe.message());
    }
    List<Attachment> failedOnReadyHosts =
        all.stream()
            .filter(a -> !a.attached())
            .filter(a -> !HOST_NOT_READY.equals(a.reason()) && !HOST_PENDING.equals(a.reason()))
            .toList();
    if (!failedOnReadyHosts.isEmpty()) {
      return Conditions.of(
          READY,
          false,
          "AttachFailed",
          failedOnReadyHosts.stream()
              .map(a -> a.hostName() + ": " + a.message())
              .collect(Collectors.joining("; ")));
    }
    if (attached.isEmpty() && all.stream().anyMatch(a -> HOST_PENDING.equals(a.reason()))) {
      return Conditions.of(
          READY, false, WAITING_FOR_HOSTS, "the selected hosts have not been checked yet");
    }
    if (attached.isEmpty()) {
      return Conditions.of(READY, false, "NoReadyHosts", "none of the selected hosts is Ready");
    }
    String detail =
        attached.size() == all.size()
            ? ""
            : " (not ready: "
                + all.stream()
                    .filter(a -> !a.attached())
                    .map(Attachment::hostName)
                    .collect(Collectors.joining(", "))
                + ")";
    return Conditions.of(
        READY,
        true,
        "Attached",
        "attached to " + attached.size() + " of " + all.size() + " hosts" + detail);
  }

  /** What deleting a domain may do, given what each selected host's pool still holds. */
  public sealed interface DeletionDecision {
    /** Nothing is stored: forget the pools and let the resource go. */
    record Proceed() implements DeletionDecision {}

    /** The domain still holds data, or hosts that may hold some cannot be asked. */
    record Blocked(String reason, String message) implements DeletionDecision {}
  }

  /**
   * @param volumesByHost volume names per host, or null for a host that could not be asked
   */
  public static DeletionDecision deletion(Map<String, List<String>> volumesByHost) {
    List<String> unknown =
        volumesByHost.entrySet().stream()
            .filter(e -> e.getValue() == null)
            .map(Map.Entry::getKey)
            .sorted()
            .toList();
    List<String> holding =
        volumesByHost.entrySet().stream()
            .filter(e -> e.getValue() != null && !e.getValue().isEmpty())
            .sorted(Map.Entry.comparingByKey())
            .map(e -> e.getKey() + ": " + String.join(", ", e.getValue()))
            .toList();
    if (!holding.isEmpty()) {
      return new DeletionDecision.Blocked(
          "InUse",
          "deletion refused: the domain still holds volumes ("
              + String.join("; ", holding)
              + "); move or delete them first, Bastida never deletes stored data");
    }
    if (!unknown.isEmpty()) {
      return new DeletionDecision.Blocked(
          WAITING_FOR_HOSTS,
          "deletion waits until these can be checked for volumes: " + String.join(", ", unknown));
    }
    return new DeletionDecision.Proceed();
  }

  private static Long sum(
      List<Attachment> attachments, java.util.function.Function<Attachment, Long> f) {
    return attachments.stream()
        .map(f)
        .filter(java.util.Objects::nonNull)
        .mapToLong(Long::longValue)
        .sum();
  }

  private static Quantity mebibytes(Long bytes) {
    return bytes == null ? null : new Quantity(bytes / MIB + "Mi");
  }
}
