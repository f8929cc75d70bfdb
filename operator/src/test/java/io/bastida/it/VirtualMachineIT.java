package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;

/**
 * VirtualMachines on libvirt's test driver with the real operator and a real API server. The host
 * the tests inspect is {@code test:///default}, whose state every connection in this JVM shares, so
 * the test sees exactly what the operator did.
 */
class VirtualMachineIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String NS = "school";
  private static TestCluster cluster;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static Connect libvirt;

  @TempDir static Path nodes;

  @BeforeAll
  static void start() throws Exception {
    cluster = TestCluster.get();
    client = cluster.newClient();
    cluster.kubectl("create", "namespace", NS);
    libvirt = new Connect("test:///default", false);
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() throws Exception {
    operator.close();
    client.close();
    libvirt.close();
  }

  @BeforeEach
  void hostAndStorage() {
    client
        .resource(Resources.withLabels(host("shared", "test:///default"), Map.of("tier", "a")))
        .create();
    awaitCondition(
        () -> client.resources(Host.class).withName("shared").get(), "Ready", status("True"));
    client.resource(localDomain("scratch", "/var/lib/bastida-it/vms")).create();
    awaitCondition(
        () -> client.resources(StorageDomain.class).withName("scratch").get(),
        "Ready",
        status("True"));
  }

  @AfterEach
  void cleanUp() {
    client.resources(VirtualMachine.class).inNamespace(NS).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().isEmpty());
    client.resources(StorageDomain.class).delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(StorageDomain.class).list().getItems().isEmpty());
    client.resources(Host.class).delete();
    await().atMost(TIMEOUT).until(() -> client.resources(Host.class).list().getItems().isEmpty());
  }

  @Test
  void vmRunsOnItsHostWithItsDiskAndStableIdentity() throws Exception {
    client.resource(vm("web", spec -> spec)).create();

    VirtualMachine ready = awaitReady("web");

    var status = ready.getStatus();
    assertThat(status.hostName).isEqualTo("shared");
    assertThat(status.printableStatus).isEqualTo("Running");
    assertThat(status.domainName).isEqualTo("school_web");
    Domain domain = libvirt.domainLookupByName("school_web");
    assertThat(domain.getInfo().state).isEqualTo(DomainState.VIR_DOMAIN_RUNNING);
    assertThat(domain.getUUIDString()).isEqualTo(status.domainUUID);
    assertThat(domain.getXMLDesc(0))
        .contains(
            "school-web-root.qcow2",
            status.interfaces.get(0).macAddress,
            "<title>school/web</title>");
    assertThat(status.interfaces.get(0).macAddress).matches("52:54:00(:[0-9a-f]{2}){3}");
    assertThat(libvirt.storagePoolLookupByName("bastida-scratch").listVolumes())
        .contains("school-web-root.qcow2");

    // The test driver's "guest agent" reports a made-up address for each interface.
    awaitCondition(() -> get("web"), "AgentConnected", status("True"));
    String ip = get("web").getStatus().interfaces.get(0).ipAddresses.get(0);
    // ... and names each guest after its domain.
    assertThat(get("web").getStatus().guestHostname).isEqualTo("school_webhost");
    assertThat(ip).matches("\\d+\\.\\d+\\.\\d+\\.\\d+");
    var table = cluster.kubectl("get", "bvm", "-n", NS);
    assertThat(table.stdout())
        .containsPattern("web\\s+Running\\s+shared\\s+" + ip.replace(".", "\\."));
    assertThat(
            cluster
                .kubectl("wait", "--for=condition=Ready", "bvm/web", "-n", NS, "--timeout=5s")
                .exitCode())
        .isZero();
  }

  @Test
  void haltedStopsPausedPausesAndAlwaysStartsAgain() throws Exception {
    client.resource(vm("files", spec -> spec)).create();
    awaitReady("files");

    edit(
        "files",
        spec -> {
          spec.paused = true;
          return spec;
        });
    awaitCondition(() -> get("files"), "Paused", status("True"));
    assertThat(libvirt.domainLookupByName("school_files").getInfo().state)
        .isEqualTo(DomainState.VIR_DOMAIN_PAUSED);

    edit(
        "files",
        spec -> {
          spec.paused = false;
          return spec;
        });
    awaitCondition(() -> get("files"), "Ready", status("True"));

    edit(
        "files",
        spec -> {
          spec.runStrategy = RunStrategy.Halted;
          return spec;
        });
    awaitCondition(() -> get("files"), "Running", status("False"));
    assertThat(libvirt.domainLookupByName("school_files").getInfo().state)
        .isEqualTo(DomainState.VIR_DOMAIN_SHUTOFF);
    assertThat(get("files").getStatus().printableStatus).isEqualTo("Stopped");

    edit(
        "files",
        spec -> {
          spec.runStrategy = RunStrategy.Always;
          return spec;
        });
    awaitReady("files");

    // A domain that stops behind Bastida's back is started again under Always.
    libvirt.domainLookupByName("school_files").destroy();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                libvirt.domainLookupByName("school_files").getInfo().state
                    == DomainState.VIR_DOMAIN_RUNNING);
  }

  @Test
  void rerunOnFailureAndOnceStartOnceAndLeaveAGuestShutdownAlone() throws Exception {
    client
        .resource(
            vm(
                "batch",
                spec -> {
                  spec.runStrategy = RunStrategy.Once;
                  return spec;
                }))
        .create();
    client
        .resource(
            vm(
                "kiosk",
                spec -> {
                  spec.runStrategy = RunStrategy.RerunOnFailure;
                  return spec;
                }))
        .create();
    awaitReady("batch");
    awaitReady("kiosk");

    // The guests power themselves off (not a failure): neither strategy starts them again.
    libvirt.domainLookupByName("school_batch").shutdown();
    libvirt.domainLookupByName("school_kiosk").shutdown();
    awaitCondition(() -> get("batch"), "Running", status("False"));
    awaitCondition(() -> get("kiosk"), "Running", status("False"));
    Thread.sleep(3000); // events and rechecks come and go
    assertThat(libvirt.domainLookupByName("school_batch").getInfo().state)
        .isEqualTo(DomainState.VIR_DOMAIN_SHUTOFF);
    assertThat(libvirt.domainLookupByName("school_kiosk").getInfo().state)
        .isEqualTo(DomainState.VIR_DOMAIN_SHUTOFF);
    assertThat(get("kiosk").getStatus().printableStatus).isEqualTo("Stopped");
  }

  @Test
  void restartRequestStopsAndStartsOnce() throws Exception {
    client.resource(vm("dhcp", spec -> spec)).create();
    String firstStart = awaitReady("dhcp").getStatus().lastStartedAt;

    Thread.sleep(1100); // lastStartedAt has a resolution of one second
    edit(
        "dhcp",
        spec -> {
          spec.restartRequestedAt = "2026-11-27T10:00:00Z";
          return spec;
        });

    await()
        .atMost(TIMEOUT)
        .until(() -> "2026-11-27T10:00:00Z".equals(get("dhcp").getStatus().restartedFor));
    awaitReady("dhcp");
    assertThat(get("dhcp").getStatus().lastStartedAt).isNotEqualTo(firstStart);
  }

  @Test
  void definitionChangesWhileRunningWaitForARestartButPausingDoesNot() throws Exception {
    client.resource(vm("lab", spec -> spec)).create();
    awaitReady("lab");

    edit(
        "lab",
        spec -> {
          spec.paused = true;
          return spec;
        });
    awaitCondition(() -> get("lab"), "Paused", status("True"));
    assertThat(Resources.condition(get("lab"), "RestartRequired").orElseThrow().getStatus())
        .isEqualTo("False");
    edit(
        "lab",
        spec -> {
          spec.paused = false;
          return spec;
        });
    awaitReady("lab");

    edit(
        "lab",
        spec -> {
          spec.cpu.model = "qemu64";
          return spec;
        });
    awaitCondition(() -> get("lab"), "RestartRequired", status("True"));
    assertThat(libvirt.domainLookupByName("school_lab").getXMLDesc(2)).contains("qemu64");

    edit(
        "lab",
        spec -> {
          spec.restartRequestedAt = "now";
          return spec;
        });
    awaitCondition(() -> get("lab"), "RestartRequired", status("False"));
    awaitReady("lab");
  }

  @Test
  void memoryAndVcpusWithinTheirMaximumsChangeWithoutARestart() throws Exception {
    client
        .resource(
            vm(
                "elastic",
                spec -> {
                  spec.memory.max = "1Gi";
                  spec.cpu.maxSockets = 4;
                  return spec;
                }))
        .create();
    String started = awaitReady("elastic").getStatus().lastStartedAt;

    edit(
        "elastic",
        spec -> {
          spec.memory.size = "512Mi";
          spec.cpu.sockets = 2;
          return spec;
        });

    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () -> {
              var info = libvirt.domainLookupByName("school_elastic").getInfo();
              assertThat(info.memory).isEqualTo(512 * 1024);
              assertThat(info.nrVirtCpu).isEqualTo(2);
            });
    assertThat(Resources.condition(get("elastic"), "RestartRequired").orElseThrow().getStatus())
        .isEqualTo("False");
    assertThat(get("elastic").getStatus().lastStartedAt).isEqualTo(started);
    assertThat(eventsFor(client, "VirtualMachine", "elastic"))
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("Resized"));
  }

  @Test
  void pciPassthroughIsAHostDeviceAndMakesTheVmNotLiveMigratable() throws Exception {
    client
        .resource(
            vm(
                "router",
                spec -> {
                  var nic = new VirtualMachineSpec.NetworkInterface();
                  nic.name = "uplink";
                  nic.pciPassthrough = new VirtualMachineSpec.PciPassthrough();
                  nic.pciPassthrough.address = "0000:03:00.0";
                  spec.interfaces.add(nic);
                  return spec;
                }))
        .create();

    var migratable = awaitCondition(() -> get("router"), "LiveMigratable", status("False"));

    assertThat(migratable.getReason()).isEqualTo("HostDevicePassthrough");
    assertThat(libvirt.domainLookupByName("school_router").getXMLDesc(0))
        .contains("<hostdev mode='subsystem' type='pci' managed='yes'>")
        .contains("bus='0x03'");
  }

  @Test
  void disksClonedFromATemplateAreLinkedOrFullAndTheTemplateOutlivesThem() throws Exception {
    var pool = libvirt.storagePoolLookupByName("bastida-scratch");
    pool.storageVolCreateXML(
        "<volume><name>debian-12.qcow2</name><capacity unit='G'>2</capacity>"
            + "<target><format type='qcow2'/></target></volume>",
        0);
    client
        .resource(
            vm(
                "cloned",
                spec -> {
                  spec.disks.clear();
                  spec.disks.add(clone("root", VirtualMachineSpec.CloneMode.Linked));
                  spec.disks.add(clone("copy", VirtualMachineSpec.CloneMode.Full));
                  return spec;
                }))
        .create();
    awaitReady("cloned");

    String linked = pool.storageVolLookupByName("school-cloned-root.qcow2").getXMLDesc(0);
    assertThat(linked).contains("<backingStore>").contains("debian-12.qcow2");
    String full = pool.storageVolLookupByName("school-cloned-copy.qcow2").getXMLDesc(0);
    assertThat(full).doesNotContain("debian-12.qcow2");

    client.resources(VirtualMachine.class).inNamespace(NS).withName("cloned").delete();
    await().atMost(TIMEOUT).until(() -> get("cloned") == null);
    pool.refresh(0);
    assertThat(pool.listVolumes())
        .contains("debian-12.qcow2")
        .doesNotContain("school-cloned-root.qcow2", "school-cloned-copy.qcow2");
    pool.storageVolLookupByName("debian-12.qcow2").delete(0);
  }

  @Test
  void aCloneOfAMissingTemplateIsReportedAndNothingIsCreated() throws Exception {
    client
        .resource(
            vm(
                "orphaned",
                spec -> {
                  spec.disks.clear();
                  spec.disks.add(clone("root", VirtualMachineSpec.CloneMode.Linked));
                  return spec;
                }))
        .create();

    var ready = awaitCondition(() -> get("orphaned"), "Ready", reason("VolumeNotFound"));

    assertThat(ready.getMessage()).contains("debian-12.qcow2");
    assertThat(domainExists("school_orphaned")).isFalse();
  }

  @Test
  void aMissingIsoIsReportedAndAStorageDomainWithoutIsoContentIsRefused() throws Exception {
    StorageDomain isos = localDomain("isos", "/var/lib/bastida-it/isos");
    isos.getSpec().setContent(List.of(io.bastida.api.v1alpha1.StorageContent.ISO));
    client.resource(isos).create();
    awaitCondition(
        () -> client.resources(StorageDomain.class).withName("isos").get(),
        "Ready",
        status("True"));
    client
        .resource(
            vm(
                "installer",
                spec -> {
                  var iso = new VirtualMachineSpec.Disk();
                  iso.name = "cd";
                  iso.iso = new VirtualMachineSpec.VolumeRef();
                  iso.iso.storageDomainName = "isos";
                  iso.iso.volume = "debian-12.iso";
                  spec.disks.add(iso);
                  return spec;
                }))
        .create();

    var missing = awaitCondition(() -> get("installer"), "Ready", reason("IsoNotFound"));
    assertThat(missing.getMessage()).contains("debian-12.iso");

    client
        .resource(
            vm(
                "misfiled",
                spec -> {
                  var iso = new VirtualMachineSpec.Disk();
                  iso.name = "cd";
                  iso.iso = new VirtualMachineSpec.VolumeRef();
                  iso.iso.storageDomainName = "scratch";
                  iso.iso.volume = "debian-12.iso";
                  spec.disks.add(iso);
                  return spec;
                }))
        .create();
    var mismatch = awaitCondition(() -> get("misfiled"), "Ready", reason("StorageContentMismatch"));
    assertThat(mismatch.getMessage()).contains("StorageDomain scratch does not hold ISO");
  }

  private static VirtualMachineSpec.Disk clone(String name, VirtualMachineSpec.CloneMode mode) {
    var disk = new VirtualMachineSpec.Disk();
    disk.name = name;
    disk.clone = new VirtualMachineSpec.CloneSource();
    disk.clone.storageDomainName = "scratch";
    disk.clone.volume = "debian-12.qcow2";
    disk.clone.mode = mode;
    return disk;
  }

  @Test
  void aVmThatFitsNowhereIsUnschedulableAndSaysWhy() {
    client
        .resource(
            vm(
                "huge",
                spec -> {
                  spec.memory.size = "512Gi";
                  return spec;
                }))
        .create();

    var condition = awaitCondition(() -> get("huge"), "Scheduled", status("False"));

    assertThat(condition.getReason()).isEqualTo("Unschedulable");
    assertThat(condition.getMessage()).contains("shared: not enough memory (needs 524288Mi");
    assertThat(get("huge").getStatus().printableStatus).isEqualTo("Unschedulable");
  }

  @Test
  void unknownStorageDomainIsReportedWithAWarningAndNothingIsCreated() throws Exception {
    client
        .resource(
            vm(
                "lost",
                spec -> {
                  spec.disks.get(0).blank.storageDomainName = "nowhere";
                  return spec;
                }))
        .create();

    var ready = awaitCondition(() -> get("lost"), "Ready", reason("StorageDomainNotFound"));

    assertThat(ready.getMessage()).contains("StorageDomain nowhere does not exist");
    assertThat(eventsFor(client, "VirtualMachine", "lost"))
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("StorageDomainNotFound"));
    assertThat(Arrays.asList(libvirt.listDefinedDomains())).doesNotContain("school_lost");
    assertThat(Arrays.stream(libvirt.listDomains()).mapToObj(this::nameOf))
        .doesNotContain("school_lost");
  }

  @Test
  void aMacAddressAlreadyInUseKeepsTheNewerVmWaiting() throws Exception {
    client
        .resource(
            vm(
                "first",
                spec -> {
                  spec.interfaces.get(0).macAddress = "52:54:00:12:34:56";
                  return spec;
                }))
        .create();
    awaitReady("first");

    client
        .resource(
            vm(
                "second",
                spec -> {
                  spec.interfaces.get(0).macAddress = "52:54:00:12:34:56";
                  return spec;
                }))
        .create();

    var ready = awaitCondition(() -> get("second"), "Ready", reason("MacAddressInUse"));
    assertThat(ready.getMessage()).contains("52:54:00:12:34:56", "school/first");
    assertThat(domainExists("school_second")).isFalse();
    assertThat(eventsFor(client, "VirtualMachine", "second"))
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("MacAddressInUse"));
  }

  @Test
  void aDiskLargerThanTheStorageDomainCanHoldIsRefusedAndNothingIsCreated() throws Exception {
    client
        .resource(
            vm(
                "hoarder",
                spec -> {
                  spec.disks.get(0).blank.size = "200Gi";
                  return spec;
                }))
        .create();

    var ready = awaitCondition(() -> get("hoarder"), "Ready", reason("StorageDomainFull"));

    assertThat(ready.getMessage()).contains("needs 200Gi", "storage domain scratch");
    assertThat(libvirt.storagePoolLookupByName("bastida-scratch").listVolumes())
        .doesNotContain("school-hoarder-root.qcow2");
    assertThat(domainExists("school_hoarder")).isFalse();
  }

  @Test
  void deletionShutsDownUndefinesAndDeletesVolumesPerPolicy() throws Exception {
    client
        .resource(
            vm(
                "cloud",
                spec -> {
                  var data = disk("data", "1Gi");
                  data.deletionPolicy = VirtualMachineSpec.DeletionPolicy.Retain;
                  spec.disks.add(data);
                  return spec;
                }))
        .create();
    awaitReady("cloud");
    var pool = libvirt.storagePoolLookupByName("bastida-scratch");
    assertThat(pool.listVolumes()).contains("school-cloud-root.qcow2", "school-cloud-data.qcow2");

    client.resources(VirtualMachine.class).inNamespace(NS).withName("cloud").delete();

    await().atMost(TIMEOUT).until(() -> get("cloud") == null);
    assertThat(domainExists("school_cloud")).isFalse();
    pool.refresh(0);
    assertThat(pool.listVolumes())
        .doesNotContain("school-cloud-root.qcow2")
        .contains("school-cloud-data.qcow2");
    pool.storageVolLookupByName("school-cloud-data.qcow2").delete(0);
    assertThat(domainExists("test")).as("a domain no VM owns is never touched").isTrue();
    assertThat(
            client.resources(Host.class).withName("shared").get().getStatus().getUnmanagedDomains())
        .as("and it is reported on its Host")
        .contains("test");
  }

  @Test
  void deletionWaitsForADownHostInsteadOfLeakingOrGuessing() throws Exception {
    client.resource(vm("stranded", spec -> spec)).create();
    awaitReady("stranded");
    setHostUri("qemu+tcp://127.0.0.1:1/system"); // the host "goes down"
    awaitCondition(
        () -> client.resources(Host.class).withName("shared").get(), "Ready", status("False"));

    client.resources(VirtualMachine.class).inNamespace(NS).withName("stranded").delete();

    var waiting = awaitCondition(() -> get("stranded"), "Ready", reason("HostNotReady"));
    assertThat(waiting.getMessage()).contains("deletion waits for host shared");
    assertThat(domainExists("school_stranded")).isTrue();

    setHostUri("test:///default"); // and comes back
    await().atMost(TIMEOUT).until(() -> get("stranded") == null);
    assertThat(domainExists("school_stranded")).isFalse();
  }

  private void setHostUri(String uri) {
    client
        .resources(Host.class)
        .withName("shared")
        .edit(
            h -> {
              h.getSpec().setUri(uri);
              return h;
            });
  }

  @Test
  void restartedOperatorFindsItsDomainInsteadOfCreatingATwin() throws Exception {
    client.resource(vm("survivor", spec -> spec)).create();
    var before = awaitReady("survivor").getStatus();

    operator.close();
    operator = RunningOperator.start(cluster);
    edit(
        "survivor",
        spec -> {
          spec.cpu.model = null;
          return spec;
        }); // any event: reconcile now
    Thread.sleep(3000);

    var after = awaitReady("survivor").getStatus();
    assertThat(after.domainUUID).isEqualTo(before.domainUUID);
    assertThat(after.lastStartedAt).isEqualTo(before.lastStartedAt);
    long twins =
        Arrays.stream(libvirt.listDomains())
                .mapToObj(this::nameOf)
                .filter(n -> n.startsWith("school_survivor"))
                .count()
            + Arrays.stream(libvirt.listDefinedDomains())
                .filter(n -> n.startsWith("school_survivor"))
                .count();
    assertThat(twins).isEqualTo(1);
  }

  private boolean domainExists(String name) {
    try {
      libvirt.domainLookupByName(name);
      return true;
    } catch (LibvirtException e) {
      return false;
    }
  }

  private String nameOf(int id) {
    try {
      return libvirt.domainLookupByID(id).getName();
    } catch (LibvirtException e) {
      return "";
    }
  }

  private VirtualMachine vm(String name, UnaryOperator<VirtualMachineSpec> customize) {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "256Mi";
    spec.disks = new java.util.ArrayList<>(List.of(disk("root", "2Gi")));
    var nic = new VirtualMachineSpec.NetworkInterface();
    nic.name = "lan";
    nic.bridge = "br0";
    spec.interfaces = new java.util.ArrayList<>(List.of(nic));
    spec.terminationGracePeriodSeconds = 5;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    vm.setSpec(customize.apply(spec));
    return vm;
  }

  private static VirtualMachineSpec.Disk disk(String name, String size) {
    var disk = new VirtualMachineSpec.Disk();
    disk.name = name;
    disk.blank = new VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = "scratch";
    disk.blank.size = size;
    return disk;
  }

  private void edit(String name, UnaryOperator<VirtualMachineSpec> change) {
    client
        .resources(VirtualMachine.class)
        .inNamespace(NS)
        .withName(name)
        .edit(
            vm -> {
              vm.setSpec(change.apply(vm.getSpec()));
              return vm;
            });
  }

  private VirtualMachine get(String name) {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachine awaitReady(String name) {
    awaitCondition(() -> get(name), "Ready", status("True"));
    return get(name);
  }
}
