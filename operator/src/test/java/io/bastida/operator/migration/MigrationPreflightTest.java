package io.bastida.operator.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.operator.migration.MigrationPreflight.Host;
import io.bastida.operator.migration.MigrationPreflight.Refusal;
import io.bastida.operator.migration.MigrationPreflight.Vm;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MigrationPreflightTest {

  private static final String SKYLAKE = "Skylake-Client-IBRS";
  private static final String EPYC = "EPYC-Rome";

  @Test
  void aRunningVmMovingBetweenTwoMatchingReadyHostsPasses() {
    assertThat(MigrationPreflight.check(vm().build(), source(), target().build())).isEmpty();
  }

  @Test
  void aVmThatFitsExactlyPasses() {
    var target = target().freeCpus(2).freeMemoryMiB(2048).build();

    assertThat(MigrationPreflight.check(vm().vcpus(2).memoryMiB(2048).build(), source(), target))
        .isEmpty();
  }

  @Test
  void aPassedThroughHostDeviceKeepsTheVmOnItsHost() {
    var vm = vm().passthrough("0000:03:00.0").build();

    assertThat(MigrationPreflight.check(vm, source(), target().build()))
        .hasValueSatisfying(
            refusal -> {
              assertThat(refusal.reason()).isEqualTo("HostDevicePassthrough");
              assertThat(refusal.message())
                  .isEqualTo(
                      "host PCI device 0000:03:00.0 is passed through: the VM cannot leave its"
                          + " host while running");
            });
  }

  @Test
  void passthroughIsReportedBeforeAnythingElse() {
    var vm =
        vm().passthrough("0000:03:00.0")
            .running(false)
            .pinnedHost("h1")
            .vcpus(64)
            .hostPassthroughCpu(true)
            .localStorage("local-ssd")
            .build();
    var brokenTarget =
        target()
            .name("h1")
            .ready(false)
            .maintenance(true)
            .architecture("aarch64")
            .freeCpus(0)
            .build();

    assertThat(MigrationPreflight.check(vm, source(), brokenTarget))
        .map(Refusal::reason)
        .hasValue("HostDevicePassthrough");
  }

  @Test
  void aStoppedVmHasNothingToMigrateLive() {
    var refusal = MigrationPreflight.check(vm().running(false).build(), source(), target().build());

    assertThat(refusal)
        .hasValue(
            new Refusal("VmNotRunning", "VM school/web is not running: nothing to migrate live"));
  }

  @Test
  void notRunningIsReportedBeforeThePin() {
    var vm = vm().running(false).pinnedHost("h1").build();

    assertThat(MigrationPreflight.check(vm, source(), target().build()))
        .map(Refusal::reason)
        .hasValue("VmNotRunning");
  }

  @Test
  void aVmPinnedToItsHostCannotMoveElsewhere() {
    var vm = vm().pinnedHost("h1").build();

    assertThat(MigrationPreflight.check(vm, source(), target().build()))
        .hasValue(
            new Refusal("PinnedToHost", "VM school/web is pinned to host h1 (spec.hostName)"));
  }

  @Test
  void aVmPinnedToTheTargetMayMoveThere() {
    var vm = vm().pinnedHost("h2").build();

    assertThat(MigrationPreflight.check(vm, source(), target().build())).isEmpty();
  }

  @Test
  void theTargetMustBeAnotherHost() {
    var refusal = MigrationPreflight.check(vm().build(), source(), target().name("h1").build());

    assertThat(refusal).hasValue(new Refusal("SameHost", "VM school/web already runs on host h1"));
  }

  @Test
  void sameHostIsReportedBeforeTheHostsState() {
    var notReady = host("h1").ready(false).build();

    assertThat(MigrationPreflight.check(vm().build(), notReady, notReady))
        .map(Refusal::reason)
        .hasValue("SameHost");
  }

  @Test
  void theSourceMustBeReady() {
    var source = host("h1").ready(false).build();

    assertThat(MigrationPreflight.check(vm().build(), source, target().build()))
        .hasValue(new Refusal("SourceHostNotReady", "source host h1 is not Ready"));
  }

  @Test
  void anUnreadySourceIsReportedBeforeAnUnreadyTarget() {
    var source = host("h1").ready(false).build();

    assertThat(MigrationPreflight.check(vm().build(), source, target().ready(false).build()))
        .map(Refusal::reason)
        .hasValue("SourceHostNotReady");
  }

  @Test
  void theTargetMustBeReady() {
    var refusal = MigrationPreflight.check(vm().build(), source(), target().ready(false).build());

    assertThat(refusal).hasValue(new Refusal("TargetHostNotReady", "target host h2 is not Ready"));
  }

  @Test
  void anUnreadyTargetIsReportedBeforeItsMaintenance() {
    var target = target().ready(false).maintenance(true).build();

    assertThat(MigrationPreflight.check(vm().build(), source(), target))
        .map(Refusal::reason)
        .hasValue("TargetHostNotReady");
  }

  @Test
  void theTargetMustNotBeInMaintenance() {
    var refusal =
        MigrationPreflight.check(vm().build(), source(), target().maintenance(true).build());

    assertThat(refusal)
        .hasValue(new Refusal("TargetHostInMaintenance", "target host h2 is in maintenance"));
  }

  @Test
  void maintenanceIsReportedBeforeAnIncompatibleCpu() {
    var target = target().maintenance(true).architecture("aarch64").build();

    assertThat(MigrationPreflight.check(vm().build(), source(), target))
        .map(Refusal::reason)
        .hasValue("TargetHostInMaintenance");
  }

  @Test
  void anotherArchitectureIsAnIncompatibleCpu() {
    var refusal =
        MigrationPreflight.check(vm().build(), source(), target().architecture("aarch64").build());

    assertThat(refusal)
        .hasValue(
            new Refusal("CpuIncompatible", "host h1 runs x86_64/kvm guests, host h2 aarch64/kvm"));
  }

  @Test
  void anotherDomainTypeIsAnIncompatibleCpu() {
    var refusal =
        MigrationPreflight.check(vm().build(), source(), target().domainType("qemu").build());

    assertThat(refusal)
        .hasValue(
            new Refusal("CpuIncompatible", "host h1 runs x86_64/kvm guests, host h2 x86_64/qemu"));
  }

  @Test
  void aHostPassthroughCpuNeedsTheSameHostCpuModel() {
    var vm = vm().hostPassthroughCpu(true).build();

    var refusal = MigrationPreflight.check(vm, source(), target().cpuModel(EPYC).build());

    assertThat(refusal)
        .hasValue(
            new Refusal(
                "CpuIncompatible",
                "the VM sees its host's exact CPU (Skylake-Client-IBRS); host h2 has EPYC-Rome"));
  }

  @Test
  void aHostPassthroughCpuMovesBetweenHostsWithTheSameCpuModel() {
    var vm = vm().hostPassthroughCpu(true).build();

    assertThat(MigrationPreflight.check(vm, source(), target().cpuModel(SKYLAKE).build()))
        .isEmpty();
  }

  @Test
  void aModelledCpuIgnoresTheHostCpuModel() {
    assertThat(MigrationPreflight.check(vm().build(), source(), target().cpuModel(EPYC).build()))
        .isEmpty();
  }

  @Test
  void hostLocalStorageMustBeAttachedToTheTarget() {
    var vm = vm().localStorage("local-ssd").build();

    var refusal = MigrationPreflight.check(vm, source(), target().storage("shared-nfs").build());

    assertThat(refusal)
        .hasValue(
            new Refusal(
                "StorageNotOnTarget",
                "storage domain local-ssd (host-local, copied along) is not attached to host h2"));
  }

  @Test
  void hostLocalStorageAttachedToTheTargetPasses() {
    var vm = vm().localStorage("local-ssd").build();

    assertThat(
            MigrationPreflight.check(
                vm, source(), target().storage("local-ssd", "shared-nfs").build()))
        .isEmpty();
  }

  @Test
  void onlyTheMissingOneOfSeveralLocalStorageDomainsIsNamed() {
    var vm = vm().localStorage("local-ssd", "local-hdd").build();

    var refusal = MigrationPreflight.check(vm, source(), target().storage("local-ssd").build());

    assertThat(refusal.map(Refusal::message).orElseThrow())
        .contains("storage domain local-hdd ")
        .doesNotContain("local-ssd");
  }

  @Test
  void missingStorageIsReportedBeforeMissingCapacity() {
    var vm = vm().localStorage("local-ssd").build();
    var target = target().storage().freeCpus(0).freeMemoryMiB(0).build();

    assertThat(MigrationPreflight.check(vm, source(), target))
        .map(Refusal::reason)
        .hasValue("StorageNotOnTarget");
  }

  @Test
  void tooFewFreeCpusOnTheTargetIsInsufficientCapacity() {
    var vm = vm().vcpus(4).memoryMiB(2048).build();

    var refusal = MigrationPreflight.check(vm, source(), target().freeCpus(3).build());

    assertThat(refusal)
        .hasValue(
            new Refusal(
                "InsufficientCapacity",
                "host h2 has 3 vCPUs and 32768Mi free; the VM needs 4 and 2048Mi"));
  }

  @Test
  void tooLittleFreeMemoryOnTheTargetIsInsufficientCapacity() {
    var vm = vm().vcpus(2).memoryMiB(8192).build();

    var refusal = MigrationPreflight.check(vm, source(), target().freeMemoryMiB(8191).build());

    assertThat(refusal)
        .hasValue(
            new Refusal(
                "InsufficientCapacity",
                "host h2 has 16 vCPUs and 8191Mi free; the VM needs 2 and 8192Mi"));
  }

  @Test
  void aFullSourceDoesNotMatter() {
    var fullSource = host("h1").freeCpus(0).freeMemoryMiB(0).build();

    assertThat(MigrationPreflight.check(vm().build(), fullSource, target().build())).isEmpty();
  }

  @Test
  void vmBlockerIsEmptyWithoutPassthroughWhateverElseIsWrong() {
    var vm =
        vm().running(false)
            .pinnedHost("h1")
            .hostPassthroughCpu(true)
            .localStorage("local-ssd")
            .build();

    assertThat(MigrationPreflight.vmBlocker(vm)).isEmpty();
  }

  @Test
  void vmBlockerNamesEveryPassedThroughDevice() {
    var vm = vm().passthrough("0000:03:00.0", "0000:81:00.1").build();

    assertThat(MigrationPreflight.vmBlocker(vm))
        .hasValue(
            new Refusal(
                "HostDevicePassthrough",
                "host PCI device 0000:03:00.0, 0000:81:00.1 is passed through: the VM cannot"
                    + " leave its host while running"));
  }

  @Test
  void checkRefusesExactlyAsVmBlockerDoes() {
    var vm = vm().passthrough("0000:03:00.0").build();

    Optional<Refusal> blocker = MigrationPreflight.vmBlocker(vm);

    assertThat(blocker).isPresent();
    assertThat(MigrationPreflight.check(vm, source(), target().build())).isEqualTo(blocker);
  }

  // --- facts ---

  private static VmFacts vm() {
    return new VmFacts();
  }

  private static Host source() {
    return host("h1").build();
  }

  private static HostFacts target() {
    return host("h2");
  }

  private static HostFacts host(String name) {
    return new HostFacts().name(name);
  }

  /** A running 2 vCPU / 2 GiB VM on h1 with shared storage only and a modelled CPU. */
  private static final class VmFacts {
    private boolean running = true;
    private String pinnedHost;
    private List<String> passthrough = List.of();
    private Set<String> localStorage = Set.of();
    private int vcpus = 2;
    private long memoryMiB = 2048;
    private boolean hostPassthroughCpu;

    VmFacts running(boolean value) {
      running = value;
      return this;
    }

    VmFacts pinnedHost(String value) {
      pinnedHost = value;
      return this;
    }

    VmFacts passthrough(String... addresses) {
      passthrough = List.of(addresses);
      return this;
    }

    VmFacts localStorage(String... domains) {
      localStorage = Set.of(domains);
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

    VmFacts hostPassthroughCpu(boolean value) {
      hostPassthroughCpu = value;
      return this;
    }

    Vm build() {
      return new Vm(
          "school/web",
          running,
          "h1",
          pinnedHost,
          passthrough,
          localStorage,
          vcpus,
          memoryMiB,
          hostPassthroughCpu);
    }
  }

  /** A Ready x86_64 KVM host with shared storage and 16 vCPUs / 32 GiB free. */
  private static final class HostFacts {
    private String name;
    private boolean ready = true;
    private boolean maintenance;
    private String architecture = "x86_64";
    private String cpuModel = SKYLAKE;
    private String domainType = "kvm";
    private Set<String> storage = Set.of("shared-nfs");
    private long freeCpus = 16;
    private long freeMemoryMiB = 32768;

    HostFacts name(String value) {
      name = value;
      return this;
    }

    HostFacts ready(boolean value) {
      ready = value;
      return this;
    }

    HostFacts maintenance(boolean value) {
      maintenance = value;
      return this;
    }

    HostFacts architecture(String value) {
      architecture = value;
      return this;
    }

    HostFacts cpuModel(String value) {
      cpuModel = value;
      return this;
    }

    HostFacts domainType(String value) {
      domainType = value;
      return this;
    }

    HostFacts storage(String... domains) {
      storage = Set.of(domains);
      return this;
    }

    HostFacts freeCpus(long value) {
      freeCpus = value;
      return this;
    }

    HostFacts freeMemoryMiB(long value) {
      freeMemoryMiB = value;
      return this;
    }

    Host build() {
      return new Host(
          name,
          ready,
          maintenance,
          architecture,
          cpuModel,
          domainType,
          storage,
          freeCpus,
          freeMemoryMiB);
    }
  }
}
