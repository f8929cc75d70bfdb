package io.bastida.it;

import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.NfsAccess;
import io.bastida.api.v1alpha1.NfsSource;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainSpec;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.storage.nfs.NfsEntry;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

/**
 * What the backup tests set up on the testbed and check there: two Hosts, a Native NFS storage
 * domain for disks and one for backups, each in its own subfolder of the export, and the host-side
 * tools an admin would use to look at images and domains.
 *
 * @param hosts the test's Host names to the testbed hosts they stand for
 * @param labels on the test's Hosts, and the storage domains' host selector: hosts of other test
 *     classes may share the API server
 * @param exportFolder the test's subfolder of the export: its domains see only its files, and
 *     deleting them is not refused because of other tests' volumes at the export's root
 */
record BackupFixtures(
    Testbed testbed,
    String namespace,
    Map<String, String> hosts,
    Map<String, String> labels,
    String exportFolder,
    String disks,
    String backups) {
  static final Duration TIMEOUT = Duration.ofMinutes(3);
  // Files are made and removed through NFS, not in the export's directory here: nfs-ganesha goes
  // on serving, from its cache, a name removed behind its back (NfsFilesE2E).
  private static final NfsFiles nfs = new NfsFiles(Duration.ofSeconds(10));
  // VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA (1 << 4): the Java binding has no constant for it.
  private static final int UNDEFINE_CHECKPOINTS_METADATA = 16;

  void createNamespace(KubernetesClient client) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .serverSideApply();
  }

  void createHostsAndStorage(KubernetesClient client) throws NfsException {
    nfs.mkdirs(testbed.nfsServer(), testbed.nfsExport(), exportFolder + "/" + disks);
    nfs.mkdirs(testbed.nfsServer(), testbed.nfsExport(), exportFolder + "/" + backups);
    hosts.forEach(
        (name, testbedHost) ->
            client
                .resource(
                    Resources.emulated(
                        Resources.withLabels(host(name, testbed.tcpUri(testbedHost)), labels)))
                .create());
    client.resource(nativeNfsDomain(disks, StorageContent.Disks)).create();
    client.resource(nativeNfsDomain(backups, StorageContent.Backups)).create();
    for (String domain : List.of(disks, backups)) {
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  condition(client.resources(StorageDomain.class).withName(domain).get(), "Ready")
                      .filter(status("True"))
                      .isPresent());
    }
  }

  private StorageDomain nativeNfsDomain(String name, StorageContent content) {
    NfsSource nfs = new NfsSource();
    nfs.setServer(testbed.nfsServer());
    nfs.setPath(testbed.nfsExport() + "/" + exportFolder + "/" + name);
    nfs.setAccess(NfsAccess.Native);
    StorageDomainSpec spec = new StorageDomainSpec();
    spec.setNfs(nfs);
    spec.setContent(List.of(content));
    StorageDomain domain = new StorageDomain();
    domain.setMetadata(new ObjectMetaBuilder().withName(name).build());
    domain.setSpec(spec);
    return Resources.selecting(domain, labels);
  }

  void deleteVms(KubernetesClient client) {
    client.resources(VirtualMachine.class).inNamespace(namespace).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () -> client.resources(VirtualMachine.class).inNamespace(namespace).list().getItems(),
            List::isEmpty);
  }

  /** Newest first: a backup waits for those built on it to go. */
  void deleteBackups(KubernetesClient client) {
    List<VirtualMachineBackup> oldestFirst = backups(client);
    for (int i = oldestFirst.size() - 1; i >= 0; i--) {
      VirtualMachineBackup backup = oldestFirst.get(i);
      client.resource(backup).delete();
      await().atMost(TIMEOUT).until(() -> client.resource(backup).get() == null);
    }
  }

  void deleteStorageAndHosts(KubernetesClient client) throws NfsException {
    // Volumes of restored VMs are theirs to keep: the storage domain refuses to go while they stay.
    String volumes = exportFolder + "/" + disks;
    for (NfsEntry volume : nfs.list(testbed.nfsServer(), testbed.nfsExport(), volumes)) {
      nfs.remove(testbed.nfsServer(), testbed.nfsExport(), volumes + "/" + volume.name());
    }
    client.resources(StorageDomain.class).withName(disks).delete();
    client.resources(StorageDomain.class).withName(backups).delete();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client.resources(StorageDomain.class).withName(disks).get() == null
                    && client.resources(StorageDomain.class).withName(backups).get() == null);
    hosts.keySet().forEach(name -> client.resources(Host.class).withName(name).delete());
  }

  /** The namespace's backups, oldest first (their names sort so). */
  List<VirtualMachineBackup> backups(KubernetesClient client) {
    return client
        .resources(VirtualMachineBackup.class)
        .inNamespace(namespace)
        .list()
        .getItems()
        .stream()
        .sorted(Comparator.comparing(b -> b.getMetadata().getName()))
        .toList();
  }

  static boolean finished(VirtualMachineBackup backup) {
    return condition(backup, "Complete").filter(status("True")).isPresent()
        || condition(backup, "Failed").filter(status("True")).isPresent();
  }

  VirtualMachine vm(KubernetesClient client, String name) {
    return client.resources(VirtualMachine.class).inNamespace(namespace).withName(name).get();
  }

  String domainOf(String vm) {
    return namespace + "_" + vm;
  }

  /** The testbed host the VM's domain runs on, as its status says. */
  String testbedHostOf(KubernetesClient client, String vm) {
    return hosts.get(vm(client, vm).getStatus().hostName);
  }

  boolean domainRuns(String domain) throws LibvirtException {
    for (String host : hosts.values()) {
      Connect libvirt = new Connect(testbed.tcpUri(host), true);
      try {
        if (libvirt.domainLookupByName(domain).isActive() == 1) {
          return true;
        }
      } catch (LibvirtException notDefinedThere) {
        // look on the other host
      } finally {
        libvirt.close();
      }
    }
    return false;
  }

  /** {@code virsh} on a testbed host, as an admin would look at a domain there. */
  String virsh(String testbedHost, String... arguments) throws Exception {
    return run(
        Stream.concat(Stream.of("virsh", "-c", testbed.tcpUri(testbedHost)), Stream.of(arguments))
            .toArray(String[]::new));
  }

  static String compare(Path image, Path other) throws Exception {
    // -U: a VM may run on the image already; the test guest does not write to it by itself.
    return run("qemu-img", "compare", "-U", image.toString(), other.toString()).trim();
  }

  static String readPattern(Path image, String qemuIoRead) throws Exception {
    return run("qemu-io", "-r", "-U", "-f", "qcow2", "-c", qemuIoRead, image.toString());
  }

  static String run(String... command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(process.exitValue()).as(String.join(" ", command) + ": " + output).isZero();
    return output;
  }

  Path exportFolder(String storageDomain) {
    return testbed.nfsDirectory().resolve(exportFolder).resolve(storageDomain);
  }

  /** An nfs:// URL on the testbed's export, as a path here. */
  Path localPath(String nfsUrl) {
    String prefix = "nfs://" + testbed.nfsServer() + testbed.nfsExport() + "/";
    assertThat(nfsUrl).startsWith(prefix);
    return testbed.nfsDirectory().resolve(nfsUrl.substring(prefix.length()));
  }

  /** Domains and files a killed earlier run left on the testbed: made anew by the test. */
  void removeLeftoversOfAnEarlierRun(List<String> vms) throws Exception {
    for (String host : hosts.values()) {
      Connect libvirt = new Connect(testbed.tcpUri(host), false);
      try {
        for (String vm : vms) {
          try {
            var domain = libvirt.domainLookupByName(domainOf(vm));
            if (domain.isActive() == 1) {
              domain.destroy();
            }
            // Checkpoints and snapshots live in the image, which goes below; their metadata here.
            domain.undefine(
                org.libvirt.Domain.UndefineFlags.SNAPSHOTS_METADATA
                    | UNDEFINE_CHECKPOINTS_METADATA);
          } catch (LibvirtException e) {
            // not there: nothing to clean
          }
        }
      } finally {
        libvirt.close();
      }
    }
    nfs.removeTree(testbed.nfsServer(), testbed.nfsExport(), exportFolder);
  }
}
