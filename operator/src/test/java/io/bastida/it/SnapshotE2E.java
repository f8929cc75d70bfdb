package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.nativeNfsDomain;
import static io.bastida.it.Resources.reason;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineRestore;
import io.bastida.api.v1alpha1.VirtualMachineRestoreSpec;
import io.bastida.api.v1alpha1.VirtualMachineSnapshot;
import io.bastida.api.v1alpha1.VirtualMachineSnapshotSpec;
import io.bastida.storage.nfs.NfsFiles;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

/**
 * Snapshots and restores of a real guest: libvirtd + QEMU on a testbed host, its disk a qcow2 on
 * the testbed's NFS export (Native access), the tiny guest of {@code hack/guest/build-initramfs.sh}
 * serving its boot id and a counter it keeps in RAM and bumps every second. A snapshot with memory
 * and a restore from it take the guest back in time without a reboot: same boot id, the counter
 * back where it was, the disk as it was. A snapshot without memory restores by booting afresh.
 */
class SnapshotE2E {
  private static final String NS = "snap-e2e";
  private static final String HOST = "snap-e2e-ha";
  private static final String TESTBED_HOST = "hA";
  private static final String STORAGE = "snap-e2e-nfs";
  private static final String VM = "counter";
  private static final String DOMAIN = NS + "_" + VM;
  // The blank disk Testbed.tinyGuestVm gives the guest, named by the operator: <ns>-<vm>-<disk>.
  private static final String VOLUME = NS + "-" + VM + "-data.qcow2";
  // Hosts and storage of other test classes may share the API server: the VM goes only on ours.
  private static final Map<String, String> LABELS = Map.of("bastida.io/e2e", "snapshot");
  // Unique on the testbed's guest segment (10.77.1.0/24), shared with other tests' guests.
  private static final String GUEST_IP = "10.77.1.231";
  // Written after the snapshot, so a restore must take it away again.
  private static final int WRITE_OFFSET_MIB = 8;
  private static final int WRITE_SIZE_MIB = 2;
  private static final int WRITE_BYTE = 0xA5;
  // Far enough past the snapshot that the counter of a reverted guest, which goes on ticking while
  // the test waits for its first answer, still reads less.
  private static final int COUNTER_MOVES_ON = 10;
  private static final Duration TIMEOUT = Duration.ofSeconds(120);
  private static final Pattern STATE = Pattern.compile("boot_id=([0-9a-f-]+) counter=(\\d+)");

  private static Testbed testbed;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static Path guestDir;
  private static final NfsFiles nfs = new NfsFiles(Duration.ofSeconds(10));
  private static final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeAll
  static void start() throws Exception {
    testbed = Testbed.get();
    guestDir = Testbed.guest();
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
    removeLeftoversOfAnEarlierRun();
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() {
    try {
      client.resources(VirtualMachineRestore.class).inNamespace(NS).delete();
      // Snapshots first, while their VM is there to take them out of its images.
      client.resources(VirtualMachineSnapshot.class).inNamespace(NS).delete();
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  client
                      .resources(VirtualMachineSnapshot.class)
                      .inNamespace(NS)
                      .list()
                      .getItems()
                      .isEmpty());
      client.resources(VirtualMachine.class).inNamespace(NS).delete();
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  client
                      .resources(VirtualMachine.class)
                      .inNamespace(NS)
                      .list()
                      .getItems()
                      .isEmpty());
      client.resources(StorageDomain.class).withName(STORAGE).delete();
      await()
          .atMost(TIMEOUT)
          .until(() -> client.resources(StorageDomain.class).withName(STORAGE).get() == null);
      client.resources(Host.class).withName(HOST).delete();
    } finally {
      operator.close();
      client.close();
    }
  }

  @Test
  void snapshotWithMemoryResumesTheGuestWhereItWasAndOneWithoutBootsItAfresh() throws Throwable {
    try {
      snapshotsAndRestores();
    } catch (Throwable failure) {
      AssertionError withContext = new AssertionError(failure.getMessage() + diagnostics());
      withContext.initCause(failure);
      throw withContext;
    }
  }

  private void snapshotsAndRestores() throws Exception {
    client
        .resource(
            Resources.emulated(
                Resources.withLabels(host(HOST, testbed.tcpUri(TESTBED_HOST)), LABELS)))
        .create();
    awaitCondition(
        () -> client.resources(Host.class).withName(HOST).get(), "Ready", status("True"));
    client
        .resource(
            Resources.selecting(
                nativeNfsDomain(STORAGE, testbed.nfsServer(), testbed.nfsExport()), LABELS))
        .create();
    awaitCondition(
        () -> client.resources(StorageDomain.class).withName(STORAGE).get(),
        "Ready",
        status("True"));
    VirtualMachine vm = testbed.tinyGuestVm(NS, VM, GUEST_IP, guestDir, STORAGE, LABELS);
    vm.getSpec().runStrategy = RunStrategy.Always;
    vm.getSpec().guestAgent = true; // the tiny guest runs qemu-ga: quiesce asks it
    client.resource(vm).create();
    awaitCondition(this::vm, "Ready", status("True"));
    Answer booted = awaitAnswer();

    // A snapshot with memory: the guest's RAM and disk at this moment, inside the qcow2.
    Answer beforeSnapshot = awaitAnswer();
    Instant snapshotAsked = Instant.now();
    client.resource(snapshot("with-memory", true)).create();
    VirtualMachineSnapshot withMemory = awaitSnapshotReady("with-memory");
    Duration snapshotTook = Duration.between(snapshotAsked, Instant.now());
    Answer afterSnapshot = awaitAnswer();
    assertThat(afterSnapshot.bootId()).isEqualTo(booted.bootId());
    assertThat(withMemory.getStatus().memoryIncluded).isTrue();
    assertThat(withMemory.getStatus().hostName).isEqualTo(HOST);
    assertThat(withMemory.getStatus().creationTime).isNotNull();
    // The guest's 128 MiB of RAM, compressed by nothing: tens of MiB at least.
    assertThat(withMemory.getStatus().sizeBytes).isGreaterThan(8L << 20);
    assertThat(snapshotsInLibvirt()).contains(withMemory.getStatus().snapshotName);
    assertThat(snapshotXml(withMemory.getStatus().snapshotName))
        .as("virsh snapshot-dumpxml: RAM saved in the image, taken of a running guest")
        .contains("<memory snapshot='internal'/>")
        .contains("<state>running</state>");

    // After the snapshot: time passes in the guest, and it writes to its disk.
    await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                ask()
                    .filter(a -> a.counter() >= afterSnapshot.counter() + COUNTER_MOVES_ON)
                    .isPresent());
    assertThat(
            guestSays(
                "cgi-bin/write?offset="
                    + WRITE_OFFSET_MIB
                    + "&size="
                    + WRITE_SIZE_MIB
                    + "&byte="
                    + WRITE_BYTE))
        .hasValueSatisfying(
            answer ->
                assertThat(answer)
                    .contains(
                        "wrote " + WRITE_SIZE_MIB + " MiB at offset " + WRITE_OFFSET_MIB + " MiB"));
    assertThat(bytesOnDisk(WRITE_OFFSET_MIB, WRITE_SIZE_MIB))
        .as("the write reached the image on the NFS export")
        .containsOnly(WRITE_BYTE);
    Answer beforeRestore = awaitAnswer();

    // Restore in place: the guest goes on from the snapshot's moment, not booted again.
    Instant restoreAsked = Instant.now();
    client.resource(restore("to-memory", "with-memory")).create();
    VirtualMachineRestore toMemory = awaitRestoreSucceeded("to-memory");
    Duration restoreTook = Duration.between(restoreAsked, Instant.now());
    Answer restored = awaitAnswer();
    Duration answeringAfter = Duration.between(restoreAsked, Instant.now());
    System.out.printf(
        "SnapshotE2E: snapshot with memory ready %d ms after create; restore Succeeded %d ms after"
            + " create, guest answering after %d ms (counter %d at the snapshot, %d before the"
            + " restore, %d after)%n",
        snapshotTook.toMillis(),
        restoreTook.toMillis(),
        answeringAfter.toMillis(),
        beforeSnapshot.counter(),
        beforeRestore.counter(),
        restored.counter());
    assertThat(toMemory.getStatus().printableStatus).isEqualTo("Succeeded");
    assertThat(toMemory.getStatus().restoredVmName).isEqualTo(VM);
    assertThat(toMemory.getStatus().completionTime).isNotNull();
    assertThat(restored.bootId()).as("the same boot: RAM restored").isEqualTo(booted.bootId());
    assertThat(restored.counter())
        .as("the counter is back near the snapshot's value")
        .isGreaterThanOrEqualTo(beforeSnapshot.counter())
        .isLessThan(beforeRestore.counter());
    assertThat(bytesOnDisk(WRITE_OFFSET_MIB, WRITE_SIZE_MIB))
        .as("the write made after the snapshot is gone from the disk")
        .doesNotContain(WRITE_BYTE);
    assertThat(eventsFor(client, "VirtualMachine", VM).stream().map(Event::getReason))
        .contains("Restored")
        .as("libvirt pauses the guest while it saves the RAM: the VM is not to resume it")
        .doesNotContain("DomainOperationFailed");
    awaitCondition(this::vm, "Ready", status("True"));

    // A snapshot without memory restores like a power cut back then: the guest boots afresh.
    // Taken with the guest's file systems frozen by its agent, as a disk-only snapshot should be.
    VirtualMachineSnapshot quiesced = snapshot("disks-only", false);
    quiesced.getSpec().quiesce = true;
    client.resource(quiesced).create();
    VirtualMachineSnapshot disksOnly = awaitSnapshotReady("disks-only");
    assertThat(disksOnly.getStatus().memoryIncluded).isFalse();
    assertThat(condition(disksOnly, "Quiesced"))
        .as("snapshot: %s", disksOnly.getStatus().conditions)
        .get()
        .matches(status("True"))
        .matches(reason("FilesystemsFrozen"));
    assertThat(snapshotsInLibvirt())
        .contains(withMemory.getStatus().snapshotName, disksOnly.getStatus().snapshotName);
    client.resource(restore("to-disks", "disks-only")).create();
    awaitRestoreSucceeded("to-disks");
    Answer rebooted =
        await()
            .atMost(TIMEOUT)
            .pollInterval(Duration.ofMillis(500))
            .until(
                () -> ask().filter(a -> !a.bootId().equals(booted.bootId())), Optional::isPresent)
            .orElseThrow();
    assertThat(rebooted.counter()).as("counting from a fresh boot").isLessThan(COUNTER_MOVES_ON);
    awaitCondition(this::vm, "Ready", status("True"));
    assertThat(vm().getStatus().printableStatus).isEqualTo("Running");

    // Deleting a snapshot takes it out of the domain's images.
    client.resources(VirtualMachineSnapshot.class).inNamespace(NS).withName("with-memory").delete();
    await()
        .atMost(TIMEOUT)
        .until(() -> !snapshotsInLibvirt().contains(withMemory.getStatus().snapshotName));
    assertThat(snapshotsInLibvirt()).contains(disksOnly.getStatus().snapshotName);
    client.resources(VirtualMachineSnapshot.class).inNamespace(NS).withName("disks-only").delete();
    await().atMost(TIMEOUT).until(() -> snapshotsInLibvirt().isEmpty());
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client
                    .resources(VirtualMachineSnapshot.class)
                    .inNamespace(NS)
                    .list()
                    .getItems()
                    .isEmpty());
  }

  private static VirtualMachineSnapshot snapshot(String name, boolean memory) {
    var spec = new VirtualMachineSnapshotSpec();
    spec.vmName = VM;
    spec.memory = memory;
    var snapshot = new VirtualMachineSnapshot();
    snapshot.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    snapshot.setSpec(spec);
    return snapshot;
  }

  private static VirtualMachineRestore restore(String name, String snapshotName) {
    var spec = new VirtualMachineRestoreSpec();
    spec.vmName = VM;
    spec.snapshotName = snapshotName;
    var restore = new VirtualMachineRestore();
    restore.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    restore.setSpec(spec);
    return restore;
  }

  private VirtualMachineSnapshot awaitSnapshotReady(String name) {
    return await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                client.resources(VirtualMachineSnapshot.class).inNamespace(NS).withName(name).get(),
            s -> s.getStatus() != null && Boolean.TRUE.equals(s.getStatus().readyToUse));
  }

  private VirtualMachineRestore awaitRestoreSucceeded(String name) {
    awaitCondition(
        () -> client.resources(VirtualMachineRestore.class).inNamespace(NS).withName(name).get(),
        "Succeeded",
        status("True"));
    return client.resources(VirtualMachineRestore.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachine vm() {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).get();
  }

  private record Answer(String bootId, long counter) {}

  private static Optional<Answer> ask() {
    return guestSays("")
        .map(STATE::matcher)
        .filter(Matcher::find)
        .map(m -> new Answer(m.group(1), Long.parseLong(m.group(2))));
  }

  private static Answer awaitAnswer() {
    return await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(200))
        .until(SnapshotE2E::ask, Optional::isPresent)
        .orElseThrow();
  }

  /** What the guest's HTTP server on port 8080 says, if it answers 200 within 10 s. */
  private static Optional<String> guestSays(String path) {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + GUEST_IP + ":8080/" + path))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200 ? Optional.of(response.body()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /**
   * The guest's disk as the host stores it, read from the qcow2 on the export while QEMU runs
   * ({@code -U}: QEMU holds the image's lock), as an admin would check it with qemu-img.
   */
  private static byte[] bytesOnDisk(int offsetMiB, int sizeMiB) throws Exception {
    Path raw = Files.createTempFile("snapshot-e2e-", ".raw");
    try {
      Process convert =
          new ProcessBuilder(
                  "qemu-img",
                  "convert",
                  "-U",
                  "-f",
                  "qcow2",
                  "-O",
                  "raw",
                  testbed.nfsDirectory().resolve(VOLUME).toString(),
                  raw.toString())
              .redirectErrorStream(true)
              .start();
      String output = new String(convert.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(convert.waitFor()).as("qemu-img convert: " + output).isZero();
      byte[] bytes = new byte[sizeMiB << 20];
      try (var file = new RandomAccessFile(raw.toFile(), "r")) {
        file.seek((long) offsetMiB << 20);
        file.readFully(bytes);
      }
      return bytes;
    } finally {
      Files.deleteIfExists(raw);
    }
  }

  private static List<String> snapshotsInLibvirt() throws Exception {
    return libvirt(c -> Arrays.asList(c.domainLookupByName(DOMAIN).snapshotListNames()));
  }

  private static String snapshotXml(String name) throws Exception {
    return libvirt(c -> c.domainLookupByName(DOMAIN).snapshotLookupByName(name).getXMLDesc());
  }

  private interface LibvirtCall<T> {
    T call(Connect libvirt) throws Exception;
  }

  /** One call on a fresh connection to the testbed host, as an admin's virsh would make. */
  private static <T> T libvirt(LibvirtCall<T> call) throws Exception {
    Connect libvirt = new Connect(testbed.tcpUri(TESTBED_HOST), false);
    try {
      return call.call(libvirt);
    } finally {
      libvirt.close();
    }
  }

  /** Statuses and events of what the test made, for a failure message. */
  private String diagnostics() {
    StringBuilder out = new StringBuilder("\n---- diagnostics ----\n");
    try {
      VirtualMachine vm = vm();
      out.append("VirtualMachine status: ")
          .append(vm == null ? "(gone)" : Serialization.asYaml(vm.getStatus()));
      for (var s :
          client.resources(VirtualMachineSnapshot.class).inNamespace(NS).list().getItems()) {
        out.append("VirtualMachineSnapshot ")
            .append(s.getMetadata().getName())
            .append(": ")
            .append(Serialization.asYaml(s.getStatus()));
      }
      for (var r :
          client.resources(VirtualMachineRestore.class).inNamespace(NS).list().getItems()) {
        out.append("VirtualMachineRestore ")
            .append(r.getMetadata().getName())
            .append(": ")
            .append(Serialization.asYaml(r.getStatus()));
      }
      for (Event e : client.v1().events().inNamespace(NS).list().getItems()) {
        out.append("event ")
            .append(e.getInvolvedObject().getKind())
            .append('/')
            .append(e.getInvolvedObject().getName())
            .append(' ')
            .append(e.getReason())
            .append(": ")
            .append(e.getMessage())
            .append('\n');
      }
    } catch (RuntimeException e) {
      out.append("(could not read the resources: ").append(e).append(")\n");
    }
    return out.toString();
  }

  /** The domain and disk a killed earlier run left behind: made anew here. */
  private static void removeLeftoversOfAnEarlierRun() throws Exception {
    libvirt(
        c -> {
          try {
            var domain = c.domainLookupByName(DOMAIN);
            if (domain.isActive() == 1) {
              domain.destroy();
            }
            // Internal snapshots live in the image, which goes below; their metadata goes here.
            domain.undefine(org.libvirt.Domain.UndefineFlags.SNAPSHOTS_METADATA);
          } catch (LibvirtException e) {
            // not there: nothing to clean
          }
          return null;
        });
    // Through NFS, not the export's directory: nfs-ganesha would go on serving a name removed
    // behind its back (NfsFilesE2E).
    if (nfs.stat(testbed.nfsServer(), testbed.nfsExport(), VOLUME).isPresent()) {
      nfs.remove(testbed.nfsServer(), testbed.nfsExport(), VOLUME);
    }
  }
}
