package io.bastida.operator.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.api.v1alpha1.HostSpec;
import io.bastida.api.v1alpha1.HostStatus;
import io.bastida.api.v1alpha1.Overcommit;
import io.bastida.hypervisor.NodeFacts;
import io.bastida.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.Condition;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class HostStatusPlannerTest {
  private static final long GIB = 1024L * 1024 * 1024;
  private static final Instant T0 = Instant.parse("2026-11-27T10:00:00Z");
  private final HostStatusPlanner planner = new HostStatusPlanner(Duration.ofSeconds(60));

  @Test
  void reachableHostIsReadyWithCapacityAndOvercommittedAllocatable() {
    HostSpec spec = spec(false);
    spec.setOvercommit(new Overcommit(2.0, 1.5));

    HostStatus status = planner.plan(spec, null, reached(4096), "qemu:///system", T0);

    assertThat(status.getCapacity().getCpu()).isEqualTo(8);
    assertThat(status.getCapacity().getMemory().toString()).isEqualTo("32768Mi");
    assertThat(status.getAllocatable().getCpu()).isEqualTo(16);
    assertThat(status.getAllocatable().getMemory().toString()).isEqualTo("49152Mi");
    assertThat(status.getFreeMemory().toString()).isEqualTo("4096Mi");
    assertThat(status.getCpuModel()).isEqualTo("Skylake-Client");
    assertThat(status.getUnmanagedDomains()).containsExactly("legacy-dhcp");
    assertThat(status.getLastHeartbeatTime()).isEqualTo("2026-11-27T10:00:00Z");
    assertThat(condition(status, "Ready").getStatus()).isEqualTo("True");
    assertThat(condition(status, "Connected").getStatus()).isEqualTo("True");
    assertThat(condition(status, "Schedulable").getStatus()).isEqualTo("True");
  }

  @Test
  void defaultsOvercommitToFourCpusPerThreadAndNoMemoryOvercommit() {
    HostStatus status = planner.plan(spec(false), null, reached(4096), "test:///default", T0);

    assertThat(status.getAllocatable().getCpu()).isEqualTo(32);
    assertThat(status.getAllocatable().getMemory()).isEqualTo(status.getCapacity().getMemory());
  }

  @Test
  void maintenanceKeepsTheHostReadyButUnschedulable() {
    HostStatus status = planner.plan(spec(true), null, reached(4096), "qemu:///system", T0);

    assertThat(condition(status, "Ready").getStatus()).isEqualTo("True");
    assertThat(condition(status, "Schedulable").getReason()).isEqualTo("Maintenance");
  }

  @Test
  void volatileReadingsWaitForTheHeartbeatSoASteadyHostIsNotRewritten() {
    HostStatus first = planner.plan(spec(false), null, reached(4096), "qemu:///system", T0);

    HostStatus soon =
        planner.plan(spec(false), first, reached(3000), "qemu:///system", T0.plusSeconds(30));
    assertThat(soon.getFreeMemory().toString()).isEqualTo("4096Mi");
    assertThat(soon.getLastHeartbeatTime()).isEqualTo("2026-11-27T10:00:00Z");

    HostStatus later =
        planner.plan(spec(false), first, reached(3000), "qemu:///system", T0.plusSeconds(60));
    assertThat(later.getFreeMemory().toString()).isEqualTo("3000Mi");
    assertThat(later.getLastHeartbeatTime()).isEqualTo("2026-11-27T10:01:00Z");
  }

  @Test
  void unreachableHostIsNotReadyWithTheSpecificReasonAndKeepsLastKnownFacts() {
    HostStatus first = planner.plan(spec(false), null, reached(4096), "qemu:///system", T0);

    HostStatus down =
        planner.plan(
            spec(false),
            first,
            new HostObservation.Unreached("ConnectionRefused", "connection refused by h:16509"),
            "qemu+tcp://h/system",
            T0.plusSeconds(90));

    assertThat(condition(down, "Ready").getStatus()).isEqualTo("False");
    assertThat(condition(down, "Ready").getReason()).isEqualTo("ConnectionRefused");
    assertThat(condition(down, "Connected").getReason()).isEqualTo("ConnectionRefused");
    assertThat(condition(down, "Schedulable").getStatus()).isEqualTo("False");
    assertThat(down.getCapacity().getCpu()).isEqualTo(8);
    assertThat(down.getLastHeartbeatTime()).isEqualTo("2026-11-27T10:00:00Z");
  }

  private static HostSpec spec(boolean maintenance) {
    HostSpec spec = new HostSpec();
    spec.setUri("qemu:///system");
    spec.setMaintenance(maintenance);
    return spec;
  }

  private static HostObservation reached(long freeMiB) {
    return new HostObservation.Reached(
        new NodeFacts(
            "h1",
            "x86_64",
            "Skylake-Client",
            8,
            32 * GIB,
            freeMiB * 1024 * 1024,
            "9.0.0",
            "QEMU 7.2.0",
            3,
            2,
            "kvm"),
        java.util.List.of("legacy-dhcp"));
  }

  private static Condition condition(HostStatus status, String type) {
    return Conditions.find(status.getConditions(), type).orElseThrow();
  }
}
