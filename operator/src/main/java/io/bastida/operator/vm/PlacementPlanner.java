package io.bastida.operator.vm;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Chooses a host for a VM. Pure. Filters hosts that cannot take it (not Ready, in maintenance, not
 * the pinned one, selector mismatch, a required anti-affinity peer already there, not enough
 * allocatable CPU or memory), then prefers hosts with fewer preferred-anti-affinity peers, then the
 * most free memory (spreading load), then the name, so the same inputs always give the same host.
 */
public final class PlacementPlanner {
  private PlacementPlanner() {}

  /** What the VM needs. */
  public record Request(
      String namespace,
      String name,
      int vcpus,
      long memoryMiB,
      Map<String, String> hostSelector,
      String pinnedHost,
      List<AntiAffinityRule> antiAffinity) {}

  /** Keep away from VMs in the same namespace carrying all these labels. */
  public record AntiAffinityRule(Map<String, String> matchLabels, boolean required) {}

  /** A host as placement sees it; allocatable figures already include overcommit. */
  public record Candidate(
      String name,
      Map<String, String> labels,
      boolean ready,
      boolean inMaintenance,
      int allocatableCpus,
      long allocatableMemoryMiB) {}

  /** A VM already placed on a host. */
  public record PlacedVm(
      String namespace,
      String name,
      Map<String, String> labels,
      String hostName,
      int vcpus,
      long memoryMiB) {}

  /** The decision. */
  public sealed interface Decision {
    record Placed(String hostName) implements Decision {}

    /** Why no host fits, host by host, for the {@code Scheduled=False} message. */
    record Unschedulable(String message) implements Decision {}
  }

  public static Decision place(Request vm, List<Candidate> hosts, List<PlacedVm> placed) {
    List<String> refusals = new ArrayList<>();
    List<Scored> fitting = new ArrayList<>();
    for (Candidate host : hosts.stream().sorted(Comparator.comparing(Candidate::name)).toList()) {
      List<PlacedVm> there =
          placed.stream()
              .filter(p -> host.name().equals(p.hostName()))
              .filter(p -> !(p.namespace().equals(vm.namespace()) && p.name().equals(vm.name())))
              .toList();
      String refusal = refusal(vm, host, there);
      if (refusal != null) {
        refusals.add(host.name() + ": " + refusal);
        continue;
      }
      long usedMemory = there.stream().mapToLong(PlacedVm::memoryMiB).sum();
      fitting.add(
          new Scored(
              host.name(),
              peers(vm, there, false),
              host.allocatableMemoryMiB() - usedMemory - vm.memoryMiB()));
    }
    if (fitting.isEmpty()) {
      String detail = refusals.isEmpty() ? "there are no Hosts" : String.join("; ", refusals);
      return new Decision.Unschedulable("0/" + hosts.size() + " hosts can run this VM: " + detail);
    }
    fitting.sort(
        Comparator.comparingLong(Scored::softPeers)
            .thenComparing(Comparator.comparingLong(Scored::memoryLeftMiB).reversed())
            .thenComparing(Scored::name));
    return new Decision.Placed(fitting.get(0).name());
  }

  private record Scored(String name, long softPeers, long memoryLeftMiB) {}

  /** Why the host cannot take the VM, or null if it can. */
  private static String refusal(Request vm, Candidate host, List<PlacedVm> there) {
    if (vm.pinnedHost() != null && !vm.pinnedHost().equals(host.name())) {
      return "the VM is pinned to " + vm.pinnedHost();
    }
    if (!host.ready()) {
      return "not Ready";
    }
    if (host.inMaintenance()) {
      return "in maintenance";
    }
    if (!matches(vm.hostSelector(), host.labels())) {
      return "does not match hostSelector";
    }
    if (peers(vm, there, true) > 0) {
      return "runs a VM the required anti-affinity keeps away";
    }
    int usedCpus = there.stream().mapToInt(PlacedVm::vcpus).sum();
    if (usedCpus + vm.vcpus() > host.allocatableCpus()) {
      return "not enough CPU (needs "
          + vm.vcpus()
          + ", "
          + Math.max(0, host.allocatableCpus() - usedCpus)
          + " of "
          + host.allocatableCpus()
          + " allocatable left)";
    }
    long usedMemory = there.stream().mapToLong(PlacedVm::memoryMiB).sum();
    if (usedMemory + vm.memoryMiB() > host.allocatableMemoryMiB()) {
      return "not enough memory (needs "
          + vm.memoryMiB()
          + "Mi, "
          + Math.max(0, host.allocatableMemoryMiB() - usedMemory)
          + "Mi of "
          + host.allocatableMemoryMiB()
          + "Mi allocatable left)";
    }
    return null;
  }

  private static long peers(Request vm, List<PlacedVm> there, boolean required) {
    return vm.antiAffinity().stream()
        .filter(rule -> rule.required() == required)
        .mapToLong(
            rule ->
                there.stream()
                    .filter(p -> p.namespace().equals(vm.namespace()))
                    .filter(p -> matches(rule.matchLabels(), p.labels()))
                    .count())
        .sum();
  }

  private static boolean matches(Map<String, String> wanted, Map<String, String> labels) {
    if (wanted == null || wanted.isEmpty()) {
      return true;
    }
    Map<String, String> actual = labels == null ? Map.of() : labels;
    return wanted.entrySet().stream()
        .allMatch(e -> Objects.equals(actual.get(e.getKey()), e.getValue()));
  }
}
