package io.bastida.operator.host;

import io.bastida.operator.migration.MigrationPreflight.Refusal;
import io.bastida.operator.vm.PlacementPlanner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What happens to each VM of a host in maintenance: live-migrate to which host, shut down (its
 * eviction strategy says so), or blocked with the reason; and which migrations to create now.
 * Targets are chosen one VM after the other with each earlier choice counted, so a drain never
 * sends more to a host than it can take. Pure.
 */
public final class DrainPlanner {
  private DrainPlanner() {}

  public enum Action {
    LiveMigrate,
    Shutdown,
    Blocked,
    None
  }

  /** Where a VM of the drain stands. */
  public enum State {
    Pending,
    Migrating,
    Migrated,
    ShuttingDown,
    Stopped,
    Blocked,
    Failed
  }

  /**
   * A VM placed on the draining host.
   *
   * @param evictionStrategy LiveMigrate, Shutdown or None
   * @param blocker what keeps it from live-migrating anywhere, if anything
   * @param migration the drain's migration of this VM, if created
   */
  public record VmOnHost(
      String namespace,
      String name,
      boolean running,
      String evictionStrategy,
      Optional<Refusal> blocker,
      PlacementPlanner.Request request,
      Optional<Migration> migration) {}

  /** A migration the drain created, as its status tells. */
  public record Migration(String name, String targetHostName, State state, String message) {}

  /** One line of the plan. */
  public record Eviction(
      String namespace,
      String name,
      Action action,
      String targetHostName,
      String migrationName,
      State state,
      String message) {}

  /** A migration to create. */
  public record NewMigration(String namespace, String vmName, String targetHostName) {}

  /**
   * @param remaining VMs still running on the host
   */
  public record Plan(List<Eviction> evictions, List<NewMigration> toCreate, int remaining) {}

  /**
   * @param hosts every Host (the draining one is never a target)
   * @param placed every VM with its host, and once more at the target of a migration under way
   */
  public static Plan plan(
      String hostName,
      List<VmOnHost> vms,
      List<PlacementPlanner.Candidate> hosts,
      List<PlacementPlanner.PlacedVm> placed) {
    List<PlacementPlanner.Candidate> targets =
        hosts.stream().filter(h -> !h.name().equals(hostName)).toList();
    List<PlacementPlanner.PlacedVm> planned = new ArrayList<>(placed);
    List<Eviction> evictions = new ArrayList<>();
    List<NewMigration> toCreate = new ArrayList<>();
    int remaining = 0;
    List<VmOnHost> ordered =
        vms.stream()
            .sorted(Comparator.comparing(VmOnHost::namespace).thenComparing(VmOnHost::name))
            .toList();
    for (VmOnHost vm : ordered) {
      Eviction eviction = evict(vm, targets, planned);
      if (eviction.state() != State.Stopped) {
        remaining++;
      }
      if (eviction.action() == Action.LiveMigrate && eviction.migrationName() == null) {
        toCreate.add(new NewMigration(vm.namespace(), vm.name(), eviction.targetHostName()));
        // Counted at its target from now on, so the next VM sees the room it takes and, with
        // the labels it has where it runs now, the anti-affinity it brings there.
        planned.add(
            new PlacementPlanner.PlacedVm(
                vm.namespace(),
                vm.name(),
                labelsOf(vm, placed),
                eviction.targetHostName(),
                vm.request().vcpus(),
                vm.request().memoryMiB()));
      }
      evictions.add(eviction);
    }
    return new Plan(evictions, toCreate, remaining);
  }

  /** The VM's labels, from its own entry among the placed VMs. */
  private static Map<String, String> labelsOf(VmOnHost vm, List<PlacementPlanner.PlacedVm> placed) {
    return placed.stream()
        .filter(p -> p.namespace().equals(vm.namespace()) && p.name().equals(vm.name()))
        .map(PlacementPlanner.PlacedVm::labels)
        .filter(Objects::nonNull)
        .findFirst()
        .orElse(Map.of());
  }

  private static Eviction evict(
      VmOnHost vm,
      List<PlacementPlanner.Candidate> targets,
      List<PlacementPlanner.PlacedVm> planned) {
    if (!vm.running()) {
      return "Shutdown".equals(vm.evictionStrategy())
          ? line(
              vm,
              Action.Shutdown,
              null,
              null,
              State.Stopped,
              "shut down (evictionStrategy Shutdown); it starts again when maintenance ends")
          : line(vm, Action.None, null, null, State.Stopped, "not running: nothing to move");
    }
    if (vm.migration().isPresent()) {
      Migration migration = vm.migration().get();
      if (migration.state() == State.Failed) {
        return line(
            vm,
            Action.Blocked,
            null,
            migration.name(),
            State.Failed,
            "migration "
                + migration.name()
                + " failed: "
                + migration.message()
                + " (delete it to try again)");
      }
      return line(
          vm,
          Action.LiveMigrate,
          migration.targetHostName(),
          migration.name(),
          migration.state(),
          migration.message());
    }
    switch (vm.evictionStrategy()) {
      case "None":
        return line(
            vm,
            Action.Blocked,
            null,
            null,
            State.Blocked,
            "evictionStrategy is None: stop or move the VM yourself");
      case "Shutdown":
        return line(
            vm,
            Action.Shutdown,
            null,
            null,
            State.ShuttingDown,
            "shutting down (evictionStrategy Shutdown); it starts again when maintenance ends");
      default:
        break;
    }
    if (vm.blocker().isPresent()) {
      return line(vm, Action.Blocked, null, null, State.Blocked, vm.blocker().get().message());
    }
    if (vm.request().pinnedHost() != null) {
      return line(
          vm,
          Action.Blocked,
          null,
          null,
          State.Blocked,
          "pinned to host " + vm.request().pinnedHost() + " (spec.hostName)");
    }
    var decision = PlacementPlanner.place(vm.request(), targets, planned);
    if (decision instanceof PlacementPlanner.Decision.Unschedulable unschedulable) {
      return line(vm, Action.Blocked, null, null, State.Blocked, unschedulable.message());
    }
    String target = ((PlacementPlanner.Decision.Placed) decision).hostName();
    return line(vm, Action.LiveMigrate, target, null, State.Pending, "to host " + target);
  }

  private static Eviction line(
      VmOnHost vm,
      Action action,
      String target,
      String migrationName,
      State state,
      String message) {
    return new Eviction(vm.namespace(), vm.name(), action, target, migrationName, state, message);
  }
}
