package io.bastida.operator.host;

import io.bastida.api.v1alpha1.HostResources;
import io.bastida.api.v1alpha1.HostSpec;
import io.bastida.api.v1alpha1.HostStatus;
import io.bastida.api.v1alpha1.Overcommit;
import io.bastida.hypervisor.NodeFacts;
import io.bastida.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * Decides a Host's status from what was observed. Pure. Volatile readings (free memory, heartbeat)
 * are refreshed at most once per heartbeat interval, so a steady host is not rewritten on every
 * recheck.
 */
public final class HostStatusPlanner {
  public static final String CONNECTED = "Connected";
  public static final String READY = "Ready";
  public static final String SCHEDULABLE = "Schedulable";

  private static final long MIB = 1024 * 1024;
  private static final int MAX_LISTED_DOMAINS = 50;

  private final Duration heartbeatInterval;

  public HostStatusPlanner(Duration heartbeatInterval) {
    this.heartbeatInterval = heartbeatInterval;
  }

  public HostStatus plan(
      HostSpec spec, HostStatus previous, HostObservation observation, String uri, Instant now) {
    HostStatus next = previous == null ? new HostStatus() : copyFacts(previous);
    if (observation instanceof HostObservation.Reached reached) {
      NodeFacts facts = reached.facts();
      applyFacts(next, facts, spec.getOvercommit());
      List<String> unmanaged = reached.unmanagedDomains();
      next.setUnmanagedDomains(
          unmanaged.size() <= MAX_LISTED_DOMAINS
              ? unmanaged
              : unmanaged.subList(0, MAX_LISTED_DOMAINS));
      boolean refresh =
          previous == null || heartbeatDue(previous, now) || !sameFacts(previous, next);
      if (refresh) {
        next.setFreeMemory(
            facts.freeMemoryBytes() == null ? null : mebibytes(facts.freeMemoryBytes()));
        next.setLastHeartbeatTime(now.truncatedTo(ChronoUnit.SECONDS).toString());
      }
      next.setConditions(
          List.of(
              Conditions.of(
                  CONNECTED,
                  true,
                  "Connected",
                  "connected to " + uri + " (libvirt " + facts.libvirtVersion() + ")"),
              Conditions.of(
                  READY,
                  true,
                  "HostReady",
                  facts.hypervisor() + " on " + facts.hostname() + " is ready"),
              schedulable(spec)));
    } else {
      var unreached = (HostObservation.Unreached) observation;
      next.setConditions(
          List.of(
              Conditions.of(CONNECTED, false, unreached.reason(), unreached.message()),
              Conditions.of(READY, false, unreached.reason(), unreached.message()),
              Conditions.of(
                  SCHEDULABLE,
                  false,
                  "HostNotReady",
                  "the host cannot be reached: nothing is placed on it")));
    }
    return next;
  }

  private static Condition schedulable(HostSpec spec) {
    return spec.isMaintenance()
        ? Conditions.of(
            SCHEDULABLE,
            false,
            "Maintenance",
            "spec.maintenance is true: no new VMs are placed here")
        : Conditions.of(SCHEDULABLE, true, "Schedulable", "new VMs may be placed on this host");
  }

  /** The status of a Host's Ready condition, or null before the host was first checked. */
  public static String readyStatus(io.bastida.api.v1alpha1.Host host) {
    return host.getStatus() == null
        ? null
        : Conditions.find(host.getStatus().getConditions(), READY)
            .map(Condition::getStatus)
            .orElse(null);
  }

  private boolean heartbeatDue(HostStatus previous, Instant now) {
    String last = previous.getLastHeartbeatTime();
    return last == null || !Instant.parse(last).plus(heartbeatInterval).isAfter(now);
  }

  private static void applyFacts(HostStatus status, NodeFacts facts, Overcommit overcommit) {
    double cpuRatio =
        ratio(overcommit == null ? null : overcommit.getCpu(), Overcommit.DEFAULT_CPU);
    double memoryRatio =
        ratio(overcommit == null ? null : overcommit.getMemory(), Overcommit.DEFAULT_MEMORY);
    status.setCapacity(new HostResources(facts.cpus(), mebibytes(facts.memoryBytes())));
    status.setAllocatable(
        new HostResources(
            (int) Math.floor(facts.cpus() * cpuRatio),
            mebibytes((long) Math.floor(facts.memoryBytes() * memoryRatio))));
    status.setHostname(facts.hostname());
    status.setArchitecture(facts.architecture());
    status.setCpuModel(facts.cpuModel());
    status.setLibvirtVersion(facts.libvirtVersion());
    status.setHypervisor(facts.hypervisor());
    status.setDomains(facts.domains());
    status.setRunningDomains(facts.runningDomains());
  }

  private static double ratio(Double configured, double fallback) {
    return configured == null ? fallback : configured;
  }

  /** Whether everything except the volatile readings is unchanged. */
  private static boolean sameFacts(HostStatus a, HostStatus b) {
    HostStatus left = copyFacts(a);
    HostStatus right = copyFacts(b);
    for (HostStatus s : List.of(left, right)) {
      s.setFreeMemory(null);
      s.setLastHeartbeatTime(null);
      s.setConditions(List.of());
    }
    var json = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper();
    return json.valueToTree(left).equals(json.valueToTree(right));
  }

  private static HostStatus copyFacts(HostStatus from) {
    HostStatus to = new HostStatus();
    to.setCapacity(from.getCapacity());
    to.setAllocatable(from.getAllocatable());
    to.setFreeMemory(from.getFreeMemory());
    to.setHostname(from.getHostname());
    to.setArchitecture(from.getArchitecture());
    to.setCpuModel(from.getCpuModel());
    to.setLibvirtVersion(from.getLibvirtVersion());
    to.setHypervisor(from.getHypervisor());
    to.setDomains(from.getDomains());
    to.setRunningDomains(from.getRunningDomains());
    to.setLastHeartbeatTime(from.getLastHeartbeatTime());
    to.setUnmanagedDomains(from.getUnmanagedDomains());
    return to;
  }

  static Quantity mebibytes(long bytes) {
    return new Quantity(bytes / MIB + "Mi");
  }
}
