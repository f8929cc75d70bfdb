package io.bastida.operator.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.operator.host.DrainPlanner.Action;
import io.bastida.operator.host.DrainPlanner.Eviction;
import io.bastida.operator.host.DrainPlanner.Migration;
import io.bastida.operator.host.DrainPlanner.NewMigration;
import io.bastida.operator.host.DrainPlanner.Plan;
import io.bastida.operator.host.DrainPlanner.State;
import io.bastida.operator.host.DrainPlanner.VmOnHost;
import io.bastida.operator.migration.MigrationPreflight;
import io.bastida.operator.migration.MigrationPreflight.Refusal;
import io.bastida.operator.vm.PlacementPlanner.AntiAffinityRule;
import io.bastida.operator.vm.PlacementPlanner.Candidate;
import io.bastida.operator.vm.PlacementPlanner.PlacedVm;
import io.bastida.operator.vm.PlacementPlanner.Request;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DrainPlannerTest {

  /** The host in maintenance. */
  private static final String DRAINING = "h1";

  @Test
  void aHostWithoutVmsHasNothingToDo() {
    Plan plan = DrainPlanner.plan(DRAINING, List.of(), List.of(host("h2", 8, 8192)), List.of());

    assertThat(plan).isEqualTo(new Plan(List.of(), List.of(), 0));
  }

  @Test
  void aStoppedVmIsLeftAloneAndNotCountedAsRemaining() {
    var stopped = vm("web").running(false);

    Plan plan = plan(List.of(stopped), List.of(host("h2", 8, 8192)));

    assertThat(plan.evictions())
        .containsExactly(
            new Eviction(
                "school",
                "web",
                Action.None,
                null,
                null,
                State.Stopped,
                "not running: nothing to move"));
    assertThat(plan.toCreate()).isEmpty();
    assertThat(plan.remaining()).isZero();
  }

  @Test
  void aStoppedVmNeedsNothingWhateverItsStrategyOrMigration() {
    var stopped =
        vm("web")
            .running(false)
            .evictionStrategy("None")
            .migration(new Migration("web-drain-h1-2", "h2", State.Failed, "boom"));

    Eviction eviction = only(plan(List.of(stopped), List.of(host("h2", 8, 8192))));

    assertThat(eviction.action()).isEqualTo(Action.None);
    assertThat(eviction.state()).isEqualTo(State.Stopped);
  }

  @Test
  void evictionStrategyNoneBlocksTheVm() {
    var vm = vm("web").evictionStrategy("None");

    Plan plan = plan(List.of(vm), List.of(host("h2", 8, 8192)));

    assertThat(plan.evictions())
        .containsExactly(
            new Eviction(
                "school",
                "web",
                Action.Blocked,
                null,
                null,
                State.Blocked,
                "evictionStrategy is None: stop or move the VM yourself"));
    assertThat(plan.toCreate()).isEmpty();
    assertThat(plan.remaining()).isEqualTo(1);
  }

  @Test
  void evictionStrategyShutdownShutsTheVmDown() {
    var vm = vm("web").evictionStrategy("Shutdown");

    Plan plan = plan(List.of(vm), List.of(host("h2", 8, 8192)));

    Eviction eviction = only(plan);
    assertThat(eviction.action()).isEqualTo(Action.Shutdown);
    assertThat(eviction.state()).isEqualTo(State.ShuttingDown);
    assertThat(eviction.targetHostName()).isNull();
    assertThat(eviction.message())
        .isEqualTo(
            "shutting down (evictionStrategy Shutdown); it starts again when maintenance ends");
    assertThat(plan.toCreate()).isEmpty();
    assertThat(plan.remaining()).isEqualTo(1);
  }

  @Test
  void shutdownDoesNotTakeRoomOnAnyTarget() {
    var shutdown = vm("a").evictionStrategy("Shutdown").memoryMiB(2048);
    var migrating = vm("b").memoryMiB(2048);

    Plan plan = plan(List.of(shutdown, migrating), List.of(host("h2", 8, 2048)));

    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "b", "h2"));
  }

  @Test
  void aPassthroughBlockerBlocksTheVmWithItsMessage() {
    Optional<Refusal> blocker =
        MigrationPreflight.vmBlocker(
            new MigrationPreflight.Vm(
                "school/gpu",
                true,
                DRAINING,
                null,
                List.of("0000:03:00.0"),
                Set.of(),
                2,
                1024,
                false));
    var vm = vm("gpu").blocker(blocker);

    Plan plan = plan(List.of(vm), List.of(host("h2", 8, 8192)));

    Eviction eviction = only(plan);
    assertThat(eviction.action()).isEqualTo(Action.Blocked);
    assertThat(eviction.state()).isEqualTo(State.Blocked);
    assertThat(eviction.targetHostName()).isNull();
    assertThat(eviction.message())
        .isEqualTo(
            "host PCI device 0000:03:00.0 is passed through: the VM cannot leave its host while"
                + " running");
    assertThat(plan.toCreate()).isEmpty();
    assertThat(plan.remaining()).isEqualTo(1);
  }

  @Test
  void aVmPinnedToTheDrainingHostIsBlocked() {
    var vm = vm("web").pinnedHost(DRAINING);

    Plan plan = plan(List.of(vm), List.of(host("h2", 8, 8192)));

    Eviction eviction = only(plan);
    assertThat(eviction.action()).isEqualTo(Action.Blocked);
    assertThat(eviction.state()).isEqualTo(State.Blocked);
    assertThat(eviction.message()).isEqualTo("pinned to host h1 (spec.hostName)");
    assertThat(plan.toCreate()).isEmpty();
  }

  @Test
  void aLiveMigratingVmGoesToTheHostWithTheMostMemoryLeft() {
    var vm = vm("web");

    Plan plan =
        plan(List.of(vm), List.of(host("h2", 8, 8192), host("h3", 8, 16384), host("h4", 8, 4096)));

    assertThat(plan.evictions())
        .containsExactly(
            new Eviction(
                "school", "web", Action.LiveMigrate, "h3", null, State.Pending, "to host h3"));
    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "web", "h3"));
    assertThat(plan.remaining()).isEqualTo(1);
  }

  @Test
  void evictionStrategyLiveMigrateMigratesTheVm() {
    var vm = vm("web").evictionStrategy("LiveMigrate");

    assertThat(only(plan(List.of(vm), List.of(host("h2", 8, 8192)))).action())
        .isEqualTo(Action.LiveMigrate);
  }

  @Test
  void theDrainingHostIsNeverATargetEvenWithTheMostRoom() {
    var vm = vm("web");
    // Its maintenance may not show in the candidate yet.
    var hosts = List.of(host(DRAINING, 64, 262144), host("h2", 8, 8192));

    Plan plan = plan(List.of(vm), hosts);

    assertThat(only(plan).targetHostName()).isEqualTo("h2");
  }

  @Test
  void theDrainingHostAloneLeavesTheVmBlockedWithNoHosts() {
    var vm = vm("web");

    Eviction eviction = only(plan(List.of(vm), List.of(host(DRAINING, 64, 262144))));

    assertThat(eviction.action()).isEqualTo(Action.Blocked);
    assertThat(eviction.message()).isEqualTo("0/0 hosts can run this VM: there are no Hosts");
  }

  @Test
  void hostsInMaintenanceOrNotReadyAreNeverTargets() {
    var vm = vm("web");
    var hosts =
        List.of(
            new Candidate("down", Map.of(), false, false, 64, 262144),
            new Candidate("maint", Map.of(), true, true, 64, 262144),
            host("small", 8, 2048));

    Plan plan = plan(List.of(vm), hosts);

    assertThat(only(plan).targetHostName()).isEqualTo("small");
  }

  @Test
  void aVmThatFitsNowhereIsBlockedWithTheReason() {
    var vm = vm("web");
    var hosts =
        List.of(
            new Candidate("down", Map.of(), false, false, 64, 262144),
            new Candidate("maint", Map.of(), true, true, 64, 262144));

    Plan plan = plan(List.of(vm), hosts);

    Eviction eviction = only(plan);
    assertThat(eviction.action()).isEqualTo(Action.Blocked);
    assertThat(eviction.state()).isEqualTo(State.Blocked);
    assertThat(eviction.targetHostName()).isNull();
    assertThat(eviction.message())
        .isEqualTo("0/2 hosts can run this VM: down: not Ready; maint: in maintenance");
    assertThat(plan.toCreate()).isEmpty();
    assertThat(plan.remaining()).isEqualTo(1);
  }

  @Test
  void eachPlannedVmTakesRoomAtItsTargetSoTheDrainNeverOverfillsIt() {
    var vms = List.of(vm("a"), vm("b"), vm("c"));

    Plan plan = plan(vms, List.of(host("h2", 8, 2048)));

    assertThat(plan.toCreate())
        .containsExactly(
            new NewMigration("school", "a", "h2"), new NewMigration("school", "b", "h2"));
    Eviction third = plan.evictions().get(2);
    assertThat(third.name()).isEqualTo("c");
    assertThat(third.action()).isEqualTo(Action.Blocked);
    assertThat(third.state()).isEqualTo(State.Blocked);
    assertThat(third.message())
        .isEqualTo(
            "0/1 hosts can run this VM: h2: not enough memory (needs 1024Mi, 0Mi of 2048Mi"
                + " allocatable left)");
    assertThat(plan.remaining()).isEqualTo(3);
  }

  @Test
  void plannedVmsAlsoTakeTheirCpusAtTheTarget() {
    var vms = List.of(vm("a").vcpus(2), vm("b").vcpus(2));

    Plan plan = plan(vms, List.of(host("h2", 3, 65536)));

    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "a", "h2"));
    assertThat(plan.evictions().get(1).message())
        .contains("h2: not enough CPU (needs 2, 1 of 3 allocatable left)");
  }

  @Test
  void withTwoTargetsTheVmsAreSpread() {
    var vms = List.of(vm("a"), vm("b"), vm("c"), vm("d"));

    Plan plan = plan(vms, List.of(host("h2", 8, 2048), host("h3", 8, 2048)));

    assertThat(plan.toCreate())
        .containsExactly(
            new NewMigration("school", "a", "h2"),
            new NewMigration("school", "b", "h3"),
            new NewMigration("school", "c", "h2"),
            new NewMigration("school", "d", "h3"));
    assertThat(plan.evictions()).allMatch(e -> e.action() == Action.LiveMigrate);
  }

  @Test
  void vmsAlreadyOnATargetAreCounted() {
    var vms = List.of(vm("a"), vm("b"));
    var db = new PlacedVm("lab", "db", Map.of(), "h2", 1, 1024);

    Plan plan = plan(vms, List.of(host("h2", 8, 2048)), List.of(db));

    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "a", "h2"));
    assertThat(plan.evictions().get(1).action()).isEqualTo(Action.Blocked);
  }

  @Test
  void vmsAlreadyArrivingAtATargetAreCounted() {
    var vms = List.of(vm("a"), vm("b"));
    var arriving = new PlacedVm("lab", "db (arriving)", Map.of(), "h2", 1, 1024);

    Plan plan = plan(vms, List.of(host("h2", 8, 2048)), List.of(arriving));

    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "a", "h2"));
    assertThat(plan.evictions().get(1).message()).contains("h2: not enough memory");
  }

  @Test
  void theVmsOwnPlaceOnTheDrainingHostDoesNotMatter() {
    var vm = vm("web").memoryMiB(2048);

    Plan plan = plan(List.of(vm), List.of(host("h2", 8, 2048)));

    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "web", "h2"));
  }

  @Test
  void pendingMigratingAndMigratedMigrationsKeepTheirTargetAndAreNotCreatedAgain() {
    var pending =
        vm("a").migration(new Migration("a-drain-h1-2", "h3", State.Pending, "waiting to start"));
    var migrating =
        vm("b")
            .migration(
                new Migration("b-drain-h1-2", "h3", State.Migrating, "migrating to host h3"));
    var migrated =
        vm("c")
            .migration(new Migration("c-drain-h1-2", "h3", State.Migrated, "migrated to host h3"));

    // h2 has far more room: a fresh plan would pick it.
    Plan plan =
        plan(
            List.of(pending, migrating, migrated),
            List.of(host("h2", 64, 262144), host("h3", 8, 4096)));

    assertThat(plan.evictions())
        .containsExactly(
            new Eviction(
                "school",
                "a",
                Action.LiveMigrate,
                "h3",
                "a-drain-h1-2",
                State.Pending,
                "waiting to start"),
            new Eviction(
                "school",
                "b",
                Action.LiveMigrate,
                "h3",
                "b-drain-h1-2",
                State.Migrating,
                "migrating to host h3"),
            new Eviction(
                "school",
                "c",
                Action.LiveMigrate,
                "h3",
                "c-drain-h1-2",
                State.Migrated,
                "migrated to host h3"));
    assertThat(plan.toCreate()).isEmpty();
  }

  @Test
  void anExistingMigrationIsFollowedWhateverTheStrategyNow() {
    var vm =
        vm("web")
            .evictionStrategy("None")
            .migration(new Migration("web-drain-h1-2", "h2", State.Migrating, "migrating"));

    Eviction eviction = only(plan(List.of(vm), List.of(host("h2", 8, 8192))));

    assertThat(eviction.action()).isEqualTo(Action.LiveMigrate);
    assertThat(eviction.state()).isEqualTo(State.Migrating);
  }

  @Test
  void aFailedMigrationBlocksTheVmUntilItIsDeleted() {
    var vm =
        vm("web")
            .migration(
                new Migration(
                    "web-drain-h1-2",
                    "h2",
                    State.Failed,
                    "not done after 300 s: the VM goes on running on its source host"));

    Plan plan = plan(List.of(vm), List.of(host("h2", 8, 8192), host("h3", 8, 8192)));

    assertThat(plan.evictions())
        .containsExactly(
            new Eviction(
                "school",
                "web",
                Action.Blocked,
                null,
                "web-drain-h1-2",
                State.Failed,
                "migration web-drain-h1-2 failed: not done after 300 s: the VM goes on running on"
                    + " its source host (delete it to try again)"));
    assertThat(plan.toCreate()).isEmpty();
    assertThat(plan.remaining()).isEqualTo(1);
  }

  @Test
  void toCreateListsOnlyTheNewMigrations() {
    var existing =
        vm("a").migration(new Migration("a-drain-h1-2", "h2", State.Migrating, "migrating"));
    var failed = vm("b").migration(new Migration("b-drain-h1-2", "h2", State.Failed, "boom"));
    var fresh = vm("c");
    var shutdown = vm("d").evictionStrategy("Shutdown");
    var stopped = vm("e").running(false);

    Plan plan =
        plan(List.of(existing, failed, fresh, shutdown, stopped), List.of(host("h2", 8, 8192)));

    assertThat(plan.toCreate()).containsExactly(new NewMigration("school", "c", "h2"));
    assertThat(plan.remaining()).isEqualTo(4);
  }

  @Test
  void vmsArePlannedInNamespaceThenNameOrderWhateverTheInputOrder() {
    var vms = List.of(vm("lab", "x"), vm("school", "b"), vm("lab", "y"), vm("school", "a"));
    // Room for two only: the first two in order get it.
    var hosts = List.of(host("h2", 8, 2048));

    Plan forward = plan(vms, hosts);
    Plan backward = plan(reversed(vms), hosts);

    assertThat(forward.evictions())
        .extracting(e -> e.namespace() + "/" + e.name())
        .containsExactly("lab/x", "lab/y", "school/a", "school/b");
    assertThat(forward.toCreate())
        .containsExactly(new NewMigration("lab", "x", "h2"), new NewMigration("lab", "y", "h2"));
    assertThat(backward).isEqualTo(forward);
  }

  @Test
  void aVmPlannedEarlierInTheDrainCountsForRequiredAntiAffinity() {
    var rule = List.of(new AntiAffinityRule(Map.of("app", "db"), true));
    var vms =
        List.of(
            vm("db-1").labels(Map.of("app", "db")).antiAffinity(rule),
            vm("db-2").labels(Map.of("app", "db")).antiAffinity(rule));

    Plan plan = plan(vms, List.of(host("h2", 8, 16384), host("h3", 8, 8192)));

    assertThat(plan.toCreate())
        .containsExactly(
            new NewMigration("school", "db-1", "h2"), new NewMigration("school", "db-2", "h3"));
  }

  @Test
  void aVmPlannedEarlierInTheDrainCountsForPreferredAntiAffinity() {
    var rule = List.of(new AntiAffinityRule(Map.of("app", "web"), false));
    var vms =
        List.of(
            vm("web-1").labels(Map.of("app", "web")).antiAffinity(rule),
            vm("web-2").labels(Map.of("app", "web")).antiAffinity(rule));

    Plan plan = plan(vms, List.of(host("h2", 8, 16384), host("h3", 8, 8192)));

    assertThat(plan.toCreate())
        .containsExactly(
            new NewMigration("school", "web-1", "h2"), new NewMigration("school", "web-2", "h3"));
  }

  // --- facts ---

  /** The plan with every VM placed on the draining host, as HostDrain passes them. */
  private static Plan plan(List<VmFacts> vms, List<Candidate> hosts) {
    return plan(vms, hosts, List.of());
  }

  /** The same with {@code elsewhere} placed on other hosts. */
  private static Plan plan(List<VmFacts> vms, List<Candidate> hosts, List<PlacedVm> elsewhere) {
    List<PlacedVm> placed = new ArrayList<>(elsewhere);
    vms.forEach(vm -> placed.add(vm.placed()));
    return DrainPlanner.plan(DRAINING, vms.stream().map(VmFacts::onHost).toList(), hosts, placed);
  }

  private static Eviction only(Plan plan) {
    assertThat(plan.evictions()).hasSize(1);
    return plan.evictions().get(0);
  }

  private static <T> List<T> reversed(List<T> list) {
    var copy = new ArrayList<>(list);
    Collections.reverse(copy);
    return copy;
  }

  private static Candidate host(String name, int cpus, long memoryMiB) {
    return new Candidate(name, Map.of(), true, false, cpus, memoryMiB);
  }

  private static VmFacts vm(String name) {
    return vm("school", name);
  }

  private static VmFacts vm(String namespace, String name) {
    return new VmFacts(namespace, name);
  }

  /** A running 1 vCPU / 1 GiB VM that live-migrates, with nothing in its way. */
  private static final class VmFacts {
    private final String namespace;
    private final String name;
    private boolean running = true;
    private String evictionStrategy = "LiveMigrate";
    private Optional<Refusal> blocker = Optional.empty();
    private int vcpus = 1;
    private long memoryMiB = 1024;
    private String pinnedHost;
    private Map<String, String> labels = Map.of();
    private List<AntiAffinityRule> antiAffinity = List.of();
    private Optional<Migration> migration = Optional.empty();

    VmFacts(String namespace, String name) {
      this.namespace = namespace;
      this.name = name;
    }

    VmFacts running(boolean value) {
      running = value;
      return this;
    }

    VmFacts evictionStrategy(String value) {
      evictionStrategy = value;
      return this;
    }

    VmFacts blocker(Optional<Refusal> value) {
      blocker = value;
      return this;
    }

    VmFacts vcpus(int value) {
      vcpus = value;
      return this;
    }

    VmFacts memoryMiB(long value) {
      memoryMiB = value;
      return this;
    }

    VmFacts pinnedHost(String value) {
      pinnedHost = value;
      return this;
    }

    VmFacts labels(Map<String, String> value) {
      labels = value;
      return this;
    }

    VmFacts antiAffinity(List<AntiAffinityRule> value) {
      antiAffinity = value;
      return this;
    }

    VmFacts migration(Migration value) {
      migration = Optional.of(value);
      return this;
    }

    VmOnHost onHost() {
      return new VmOnHost(
          namespace,
          name,
          running,
          evictionStrategy,
          blocker,
          new Request(namespace, name, vcpus, memoryMiB, Map.of(), pinnedHost, antiAffinity),
          migration);
    }

    /** Where the VM is now: on the draining host. */
    PlacedVm placed() {
      return new PlacedVm(namespace, name, labels, DRAINING, vcpus, memoryMiB);
    }
  }
}
