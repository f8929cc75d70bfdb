package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.nativeNfsDomain;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainHostStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;

/**
 * The operator against real libvirtd + QEMU hosts in network namespaces and a real nfs-ganesha
 * export (hack/testbed.sh), with a real API server.
 */
class RealHostsE2E {
  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final long MIB = 1024 * 1024;
  private static Testbed testbed;
  private static KubernetesClient client;
  private static RunningOperator operator;

  @BeforeAll
  static void start() {
    testbed = Testbed.get();
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() {
    operator.close();
    client.close();
  }

  @AfterEach
  void cleanUp() {
    client.resources(StorageDomain.class).delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> client.resources(StorageDomain.class).list().getItems().isEmpty());
    client.resources(Host.class).delete();
    await().atMost(TIMEOUT).until(() -> client.resources(Host.class).list().getItems().isEmpty());
  }

  @Test
  void realHostsAreReadyWithTheMachinesCapacityOverTcpAndOverTheSocket() throws Exception {
    client.resource(host("host-a", testbed.tcpUri("hA"))).create();
    client.resource(host("host-b", testbed.socketUri("hB"))).create();

    for (String name : new String[] {"host-a", "host-b"}) {
      Host ready = awaitHostReady(name);
      var status = ready.getStatus();
      // The namespaced daemons run on this very machine: they must report its real resources.
      assertThat(status.getCapacity().getCpu()).isEqualTo(Testbed.onlineCpus());
      assertThat(status.getCapacity().getMemory().toString())
          .isEqualTo(Testbed.numaMemoryKiB() / 1024 + "Mi");
      assertThat(status.getFreeMemory()).isNotNull();
      assertThat(status.getHypervisor()).startsWith("QEMU ");
      assertThat(status.getLibvirtVersion()).startsWith("9.");
      assertThat(status.getArchitecture()).isEqualTo("x86_64");
      assertThat(status.getDomains()).isNotNull();
    }
  }

  @Test
  void nativeNfsAndLocalDomainsAreReadyWithRealCapacity() throws Exception {
    client.resource(host("host-a", testbed.tcpUri("hA"))).create();
    client.resource(host("host-b", testbed.tcpUri("hB"))).create();
    awaitHostReady("host-a");
    awaitHostReady("host-b");

    client
        .resource(nativeNfsDomain("school-nfs", testbed.nfsServer(), testbed.nfsExport()))
        .create();
    client.resource(localDomain("scratch", testbed.localDir() + "/scratch")).create();

    StorageDomain nfs = awaitDomainReady("school-nfs");
    var exportStore = Files.getFileStore(testbed.nfsDirectory());
    assertThat(nfs.getStatus().getType()).isEqualTo("NFS/Native");
    assertThat(nfs.getStatus().getAttachedHosts()).isEqualTo("2/2");
    assertThat(nfs.getStatus().getCapacity().toString())
        .isEqualTo(exportStore.getTotalSpace() / MIB + "Mi");
    assertThat(mebibytes(nfs.getStatus().getAvailable().toString()))
        .isCloseTo(exportStore.getUsableSpace() / MIB, org.assertj.core.data.Offset.offset(512L));

    StorageDomain local = awaitDomainReady("scratch");
    assertThat(local.getStatus().getAttachedHosts()).isEqualTo("2/2");
    for (StorageDomainHostStatus h : local.getStatus().getHosts()) {
      String testbedHost = h.getHostName().equals("host-a") ? "hA" : "hB";
      var store = Files.getFileStore(testbed.localDirBacking(testbedHost).resolve("scratch"));
      assertThat(h.getPool()).isEqualTo("bastida-scratch");
      assertThat(h.getCapacity().toString()).isEqualTo(store.getTotalSpace() / MIB + "Mi");
      Connect libvirt = new Connect(testbed.tcpUri(testbedHost), false);
      try {
        var pool = libvirt.storagePoolLookupByName("bastida-scratch");
        assertThat(pool.isActive()).isEqualTo(1);
        assertThat(pool.getAutostart()).isTrue();
        assertThat(pool.getXMLDesc(0)).contains("<path>" + testbed.localDir() + "/scratch</path>");
      } finally {
        libvirt.close();
      }
    }
  }

  @Test
  void deletingALocalDomainWithAVolumeIsRefusedAndDataIsNeverDeleted() throws Exception {
    client.resource(host("host-a", testbed.tcpUri("hA"))).create();
    awaitHostReady("host-a");
    client.resource(localDomain("keeper", testbed.localDir() + "/keeper")).create();
    awaitDomainReady("keeper");
    Connect libvirt = new Connect(testbed.tcpUri("hA"), false);
    try {
      var pool = libvirt.storagePoolLookupByName("bastida-keeper");
      pool.storageVolCreateXML(
          "<volume><name>web-root.qcow2</name><capacity unit='M'>16</capacity>"
              + "<target><format type='qcow2'/></target></volume>",
          0);
      Path onDisk = testbed.localDirBacking("hA").resolve("keeper/web-root.qcow2");
      assertThat(onDisk).exists();

      client.resources(StorageDomain.class).withName("keeper").delete();

      Condition blocked = awaitCondition(() -> domain("keeper"), "Ready", reason("InUse"));
      assertThat(blocked.getMessage()).contains("host-a: web-root.qcow2");

      // An admin moves the disk out of the domain; then the deletion goes through.
      Path kept = testbed.localDirBacking("hA").resolve("kept-web-root.qcow2");
      Files.move(onDisk, kept);
      await().atMost(TIMEOUT).until(() -> domain("keeper") == null);

      assertThat(kept).exists();
      assertThat(testbed.localDirBacking("hA").resolve("keeper")).isDirectory();
      assertThat(libvirt.listStoragePools()).doesNotContain("bastida-keeper");
      assertThat(libvirt.listDefinedStoragePools()).doesNotContain("bastida-keeper");
      Files.delete(kept);
    } finally {
      libvirt.close();
    }
  }

  @Test
  void vmDiskOnANativeNfsExportLivesThereAndProtectsTheDomain() throws Exception {
    client.resource(Resources.emulated(host("host-a", testbed.tcpUri("hA")))).create();
    awaitHostReady("host-a");
    client
        .resource(nativeNfsDomain("school-nfs", testbed.nfsServer(), testbed.nfsExport()))
        .create();
    awaitDomainReady("school-nfs");
    cluster().kubectl("create", "namespace", "nfs-e2e");
    var vm = new io.bastida.api.v1alpha1.VirtualMachine();
    vm.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
            .withName("web")
            .withNamespace("nfs-e2e")
            .build());
    var spec = new io.bastida.api.v1alpha1.VirtualMachineSpec();
    spec.cpu = new io.bastida.api.v1alpha1.VirtualMachineSpec.Cpu();
    spec.memory = new io.bastida.api.v1alpha1.VirtualMachineSpec.Memory();
    spec.memory.size = "128Mi";
    spec.terminationGracePeriodSeconds = 5;
    var disk = new io.bastida.api.v1alpha1.VirtualMachineSpec.Disk();
    disk.name = "root";
    disk.blank = new io.bastida.api.v1alpha1.VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = "school-nfs";
    disk.blank.size = "64Mi";
    spec.disks.add(disk);
    // A linked clone of a template image that sits on the export.
    Path template = testbed.nfsDirectory().resolve("e2e-template.qcow2");
    assertThat(
            new ProcessBuilder(
                    "qemu-img", "create", "-q", "-f", "qcow2", template.toString(), "64M")
                .inheritIO()
                .start()
                .waitFor())
        .isZero();
    var cloned = new io.bastida.api.v1alpha1.VirtualMachineSpec.Disk();
    cloned.name = "data";
    cloned.clone = new io.bastida.api.v1alpha1.VirtualMachineSpec.CloneSource();
    cloned.clone.storageDomainName = "school-nfs";
    cloned.clone.volume = "e2e-template.qcow2";
    spec.disks.add(cloned);
    vm.setSpec(spec);
    client.resource(vm).create();

    var vms = client.resources(io.bastida.api.v1alpha1.VirtualMachine.class).inNamespace("nfs-e2e");
    awaitCondition(() -> vms.withName("web").get(), "Ready", status("True"));
    Path image = testbed.nfsDirectory().resolve("nfs-e2e-web-root.qcow2");
    assertThat(image).exists();
    Process info =
        new ProcessBuilder(
                "qemu-img",
                "info",
                "-U",
                testbed.nfsDirectory().resolve("nfs-e2e-web-data.qcow2").toString())
            .redirectErrorStream(true)
            .start();
    String described = new String(info.getInputStream().readAllBytes());
    assertThat(info.waitFor()).isZero();
    assertThat(described)
        .contains(
            "backing file: nfs://"
                + testbed.nfsServer()
                + testbed.nfsExport()
                + "/e2e-template.qcow2");
    assertThat(vms.withName("web").get().getStatus().disks.get(0).source)
        .isEqualTo(
            "nfs://" + testbed.nfsServer() + testbed.nfsExport() + "/nfs-e2e-web-root.qcow2");
    Connect libvirt = new Connect(testbed.tcpUri("hA"), false);
    try {
      assertThat(libvirt.domainLookupByName("nfs-e2e_web").getXMLDesc(0))
          .contains("protocol='nfs'", "name='" + testbed.nfsExport() + "/nfs-e2e-web-root.qcow2'");
    } finally {
      libvirt.close();
    }

    client.resources(StorageDomain.class).withName("school-nfs").delete();
    Condition blocked = awaitCondition(() -> domain("school-nfs"), "Ready", reason("InUse"));
    assertThat(blocked.getMessage()).contains("nfs-e2e-web-root.qcow2");

    vms.withName("web").delete();
    await().atMost(TIMEOUT).until(() -> vms.withName("web").get() == null);
    assertThat(image).doesNotExist();
    assertThat(testbed.nfsDirectory().resolve("nfs-e2e-web-data.qcow2")).doesNotExist();
    assertThat(template).as("the template outlives its clones").exists();
    Files.delete(template);
    await().atMost(TIMEOUT).until(() -> domain("school-nfs") == null);
  }

  private static TestCluster cluster() {
    return TestCluster.get();
  }

  @Test
  void exportThatTheServerRefusesIsReportedWithItsReason() {
    client.resource(host("host-a", testbed.tcpUri("hA"))).create();
    awaitHostReady("host-a");

    client
        .resource(nativeNfsDomain("wrong-export", testbed.nfsServer(), "/no-such-export"))
        .create();

    Condition ready = awaitCondition(() -> domain("wrong-export"), "Ready", status("False"));
    assertThat(ready.getReason()).isEqualTo("ExportAccessDenied");
    assertThat(ready.getMessage()).contains("nfs://" + testbed.nfsServer() + "/no-such-export");
  }

  private StorageDomain domain(String name) {
    return client.resources(StorageDomain.class).withName(name).get();
  }

  private Host awaitHostReady(String name) {
    awaitCondition(
        () -> client.resources(Host.class).withName(name).get(), "Ready", status("True"));
    return client.resources(Host.class).withName(name).get();
  }

  private StorageDomain awaitDomainReady(String name) {
    awaitCondition(() -> domain(name), "Ready", status("True"));
    return domain(name);
  }

  private static long mebibytes(String quantity) {
    return Long.parseLong(quantity.replace("Mi", ""));
  }
}
