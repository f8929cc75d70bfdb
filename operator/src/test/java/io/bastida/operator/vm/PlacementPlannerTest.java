package io.bastida.operator.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.operator.vm.PlacementPlanner.AntiAffinityRule;
import io.bastida.operator.vm.PlacementPlanner.Candidate;
import io.bastida.operator.vm.PlacementPlanner.Decision;
import io.bastida.operator.vm.PlacementPlanner.PlacedVm;
import io.bastida.operator.vm.PlacementPlanner.Request;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PlacementPlannerTest {

  @Test
  void picksTheHostWithTheMostMemoryLeftAndBreaksTiesByName() {
    var hosts = List.of(host("b", 8, 8192), host("a", 8, 8192), host("c", 8, 4096));

    assertThat(PlacementPlanner.place(vm(2, 1024), hosts, List.of()))
        .isEqualTo(new Decision.Placed("a"));

    var placed = List.of(running("web", Map.of(), "a", 2, 2048));
    assertThat(PlacementPlanner.place(vm(2, 1024), hosts, placed))
        .isEqualTo(new Decision.Placed("b"));
  }

  @Test
  void countsWhatIsAlreadyPlacedAgainstAllocatableCapacity() {
    var hosts = List.of(host("a", 4, 4096));
    var placed = List.of(running("db", Map.of(), "a", 2, 3072));

    var memory = (Decision.Unschedulable) PlacementPlanner.place(vm(1, 2048), hosts, placed);
    assertThat(memory.message())
        .isEqualTo(
            "0/1 hosts can run this VM: a: not enough memory (needs 2048Mi, 1024Mi of 4096Mi"
                + " allocatable left)");

    var cpu = (Decision.Unschedulable) PlacementPlanner.place(vm(3, 512), hosts, placed);
    assertThat(cpu.message()).contains("a: not enough CPU (needs 3, 2 of 4 allocatable left)");
  }

  @Test
  void theVmItselfDoesNotCountAgainstItsOwnHost() {
    var hosts = List.of(host("a", 2, 2048));
    var itself = List.of(running("new", Map.of(), "a", 2, 2048));

    assertThat(PlacementPlanner.place(vm(2, 2048), hosts, itself))
        .isEqualTo(new Decision.Placed("a"));
  }

  @Test
  void neverPlacesOnHostsThatAreNotReadyOrInMaintenance() {
    var hosts =
        List.of(
            new Candidate("down", Map.of(), false, false, 64, 65536),
            new Candidate("maint", Map.of(), true, true, 64, 65536),
            host("small", 1, 512));

    var decision = (Decision.Unschedulable) PlacementPlanner.place(vm(1, 1024), hosts, List.of());

    assertThat(decision.message())
        .startsWith("0/3 hosts can run this VM: ")
        .contains("down: not Ready", "maint: in maintenance", "small: not enough memory");
  }

  @Test
  void honoursPinAndHostSelector() {
    var hosts =
        List.of(host("a", 8, 8192), new Candidate("b", Map.of("ssd", "yes"), true, false, 8, 8192));

    var pinned = new Request("school", "new", 1, 512, Map.of(), "a", List.of());
    assertThat(PlacementPlanner.place(pinned, hosts, List.of()))
        .isEqualTo(new Decision.Placed("a"));

    var selecting = new Request("school", "new", 1, 512, Map.of("ssd", "yes"), null, List.of());
    assertThat(PlacementPlanner.place(selecting, hosts, List.of()))
        .isEqualTo(new Decision.Placed("b"));

    var impossible = new Request("school", "new", 1, 512, Map.of("ssd", "yes"), "a", List.of());
    assertThat(
            ((Decision.Unschedulable) PlacementPlanner.place(impossible, hosts, List.of()))
                .message())
        .contains("a: does not match hostSelector", "b: the VM is pinned to a");
  }

  @Test
  void requiredAntiAffinityExcludesAndPreferredOnlySteers() {
    var hosts = List.of(host("a", 8, 8192), host("b", 8, 4096));
    var web1 = running("web-1", Map.of("app", "web"), "a", 1, 512);

    var required =
        new Request(
            "school",
            "web-2",
            1,
            512,
            Map.of(),
            null,
            List.of(new AntiAffinityRule(Map.of("app", "web"), true)));
    assertThat(PlacementPlanner.place(required, hosts, List.of(web1)))
        .isEqualTo(new Decision.Placed("b"));
    assertThat(PlacementPlanner.place(required, List.of(host("a", 8, 8192)), List.of(web1)))
        .isInstanceOf(Decision.Unschedulable.class);

    var preferred =
        new Request(
            "school",
            "web-2",
            1,
            512,
            Map.of(),
            null,
            List.of(new AntiAffinityRule(Map.of("app", "web"), false)));
    assertThat(PlacementPlanner.place(preferred, hosts, List.of(web1)))
        .isEqualTo(new Decision.Placed("b"));
    assertThat(PlacementPlanner.place(preferred, List.of(host("a", 8, 8192)), List.of(web1)))
        .isEqualTo(new Decision.Placed("a"));

    var otherNamespace = new PlacedVm("lab", "web-1", Map.of("app", "web"), "b", 1, 512);
    assertThat(PlacementPlanner.place(required, hosts, List.of(web1, otherNamespace)))
        .isEqualTo(new Decision.Placed("b"));
  }

  @Test
  void noHostsAtAllSaysSo() {
    assertThat(
            ((Decision.Unschedulable) PlacementPlanner.place(vm(1, 512), List.of(), List.of()))
                .message())
        .isEqualTo("0/0 hosts can run this VM: there are no Hosts");
  }

  private static Request vm(int vcpus, long memoryMiB) {
    return new Request("school", "new", vcpus, memoryMiB, Map.of(), null, List.of());
  }

  private static Candidate host(String name, int cpus, long memoryMiB) {
    return new Candidate(name, Map.of(), true, false, cpus, memoryMiB);
  }

  private static PlacedVm running(
      String name, Map<String, String> labels, String host, int vcpus, long memoryMiB) {
    return new PlacedVm("school", name, labels, host, vcpus, memoryMiB);
  }
}
