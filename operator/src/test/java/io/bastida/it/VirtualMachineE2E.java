package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.RunStrategy;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;

/**
 * A real guest under the operator: Hosts on real libvirtd + QEMU (TCG) testbed hosts, a real API
 * server, the operator in process, and the tiny guest of {@code hack/guest/build-initramfs.sh},
 * which says on its serial console when it is up ({@code BASTIDA-GUEST-READY boot_id=...}), when it
 * sees the ACPI power button, and ticks once a second. The test acts only through the
 * VirtualMachine's spec, as a user would, and checks what the user would see: status, the guest's
 * console log on the host, the guest's HTTP answer on the VM network, and the libvirt domain.
 */
class VirtualMachineE2E {
  private static final String NS = "e2e";
  private static final String VM = "lifecycle";
  private static final String DOMAIN = NS + "_" + VM;
  private static final String STORAGE = "vm-e2e-local";
  private static final String VOLUME = NS + "-" + VM + "-scratch.qcow2";
  private static final Map<String, String> HOSTS = Map.of("vm-e2e-ha", "hA", "vm-e2e-hb", "hB");
  // Hosts of other test classes may share the API server: the VM goes only on these.
  private static final Map<String, String> LABELS = Map.of("bastida.io/e2e", "virtualmachine");
  // Unique on the testbed's guest segment (10.77.1.0/24), shared with other tests' guests.
  private static final String GUEST_IP = "10.77.1.201";
  private static final int GRACE_SECONDS = 30;
  // TCG boots the guest in ~8 s; leave room for a busy machine.
  private static final Duration BOOT = Duration.ofSeconds(90);
  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final Pattern READY = Pattern.compile("BASTIDA-GUEST-READY boot_id=([0-9a-f-]+)");
  private static final Pattern TICK = Pattern.compile("BASTIDA-GUEST-TICK counter=(\\d+)");

  private static Testbed testbed;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static Path guestDir;
  private static final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeAll
  static void start() throws Exception {
    testbed = Testbed.get();
    guestDir = Testbed.guest();
    removeLeftoversOfAnEarlierRun();
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() {
    try {
      client.resources(VirtualMachine.class).inNamespace(NS).delete();
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().stream()
                      .noneMatch(vm -> vm.getMetadata().getName().equals(VM)));
      client.resources(StorageDomain.class).withName(STORAGE).delete();
      await()
          .atMost(TIMEOUT)
          .until(() -> client.resources(StorageDomain.class).withName(STORAGE).get() == null);
      for (String name : HOSTS.keySet()) {
        client.resources(Host.class).withName(name).delete();
      }
    } finally {
      operator.close();
      client.close();
    }
  }

  @Test
  void guestBootsPausesShutsDownGracefullyBootsAgainAndIsDeleted() throws Throwable {
    try {
      lifecycle();
    } catch (Throwable failure) {
      AssertionError withContext = new AssertionError(failure.getMessage() + diagnostics());
      withContext.initCause(failure);
      throw withContext;
    }
  }

  private void lifecycle() throws Exception {
    for (var h : HOSTS.entrySet()) {
      client
          .resource(
              Resources.emulated(
                  Resources.withLabels(host(h.getKey(), testbed.tcpUri(h.getValue())), LABELS)))
          .create();
    }
    for (String name : HOSTS.keySet()) {
      awaitCondition(
          () -> client.resources(Host.class).withName(name).get(), "Ready", status("True"));
    }
    client.resource(localDomain(STORAGE, testbed.localDir() + "/e2e")).create();
    awaitCondition(
        () -> client.resources(StorageDomain.class).withName(STORAGE).get(),
        "Ready",
        status("True"));

    // Boot.
    Instant created = Instant.now();
    client.resource(vm()).create();
    VirtualMachine running = awaitReady();
    Instant ready = Instant.now();
    assertThat(running.getStatus().printableStatus).isEqualTo("Running");
    assertThat(running.getStatus().domainName).isEqualTo(DOMAIN);
    String host = HOSTS.get(running.getStatus().hostName);
    assertThat(host).as("the VM is placed on one of our Hosts").isNotNull();
    String firstBoot = awaitGuestReady(host, null);
    Instant guestUp = Instant.now();
    System.out.printf(
        "VirtualMachineE2E: Ready %d ms after create, guest READY %d ms after Ready, on %s%n",
        Duration.between(created, ready).toMillis(),
        Duration.between(ready, guestUp).toMillis(),
        host);
    String uuid = libvirt(host, c -> c.domainLookupByName(DOMAIN).getUUIDString());
    assertThat(uuid).isEqualTo(running.getStatus().domainUUID);
    assertThat(domainState(host)).isEqualTo(DomainState.VIR_DOMAIN_RUNNING);
    String xml = libvirt(host, c -> c.domainLookupByName(DOMAIN).getXMLDesc(0));
    assertThat(xml)
        .contains(guestDir.resolve("vmlinuz").toString())
        .contains(testbed.localDir() + "/e2e/" + VOLUME)
        .contains("<acpi/>")
        .as("UEFI: OVMF loads the kernel, with its own NVRAM")
        .contains("OVMF")
        .contains("<nvram");
    Path volume = testbed.localDirBacking(host).resolve("e2e").resolve(VOLUME);
    assertThat(volume).as("the blank disk's qcow2 on the host").exists();
    // The VNC console QEMU opened, where a viewer reaches it.
    await().atMost(Duration.ofSeconds(30)).until(() -> get().getStatus().consoleAddress != null);
    assertThat(get().getStatus().consoleAddress)
        .matches("vnc://" + java.util.regex.Pattern.quote(ipOfHost(host)) + ":59\\d\\d");
    // The cloud-init seed: a cidata ISO on the host, attached read-only, holding the user-data.
    Path seed = cloudInitSeed(host);
    assertThat(xml).contains(testbed.localDir() + "/e2e/" + seed.getFileName());
    assertThat(isoFile(seed, "/user-data")).isEqualTo(USER_DATA);
    assertThat(isoFile(seed, "/meta-data")).contains("local-hostname", VM);
    assertThat(running.getStatus().disks)
        .anySatisfy(d -> assertThat(d.source).endsWith("/e2e/" + VOLUME));
    // The guest answers on the VM network, through the host's bridge.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> guestSays().filter(s -> s.contains("boot_id=" + firstBoot)).isPresent());

    // Pause: the domain is paused and the guest stops ticking; resume: it ticks on.
    edit(spec -> spec.paused = true);
    awaitCondition(this::get, "Paused", status("True"));
    assertThat(get().getStatus().printableStatus).isEqualTo("Paused");
    assertThat(domainState(host)).isEqualTo(DomainState.VIR_DOMAIN_PAUSED);
    Thread.sleep(1000); // what the guest wrote just before it stopped reaches the log
    long pausedAt = lastTick(host);
    Thread.sleep(4000);
    assertThat(lastTick(host)).as("the paused guest's clock stands still").isEqualTo(pausedAt);
    assertThat(guestSays()).as("a paused guest does not answer").isEmpty();

    edit(spec -> spec.paused = false);
    awaitCondition(this::get, "Paused", status("False"));
    awaitReady();
    assertThat(get().getStatus().printableStatus).isEqualTo("Running");
    assertThat(domainState(host)).isEqualTo(DomainState.VIR_DOMAIN_RUNNING);
    await().atMost(Duration.ofSeconds(30)).until(() -> lastTick(host) > pausedAt);
    assertThat(serialLog(host)).as("resumed, not rebooted").contains("boot_id=" + firstBoot);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> guestSays().filter(s -> s.contains("boot_id=" + firstBoot)).isPresent());

    // Halted: the guest gets the ACPI power button and powers itself off, well within the grace
    // period; nothing is forced.
    Instant haltAsked = Instant.now();
    edit(spec -> spec.runStrategy = RunStrategy.Halted);
    await().atMost(TIMEOUT).until(() -> domainState(host) == DomainState.VIR_DOMAIN_SHUTOFF);
    Duration shutdown = Duration.between(haltAsked, Instant.now());
    awaitCondition(this::get, "Running", status("False"));
    await().atMost(TIMEOUT).until(() -> "Stopped".equals(get().getStatus().printableStatus));
    System.out.printf(
        "VirtualMachineE2E: graceful shutdown took %d ms (spec edit to domain shut off)%n",
        shutdown.toMillis());
    assertThat(serialLog(host))
        .as("the guest saw the power button")
        .contains("BASTIDA-GUEST-POWER-BUTTON boot_id=" + firstBoot);
    assertThat(shutdown).isLessThan(Duration.ofSeconds(GRACE_SECONDS));
    List<String> reasons =
        eventsFor(client, "VirtualMachine", VM).stream().map(Event::getReason).toList();
    assertThat(reasons).contains("ShuttingDown").doesNotContain("PoweredOff");
    assertThat(get().getStatus().stopRequestedAt).as("no stop pending once off").isNull();
    assertThat(volume).as("stopping keeps the disk").exists();

    // Always: it boots again, a new boot.
    edit(spec -> spec.runStrategy = RunStrategy.Always);
    awaitReady();
    String secondBoot = awaitGuestReady(host, firstBoot);
    assertThat(secondBoot).isNotEqualTo(firstBoot);
    assertThat(get().getStatus().hostName).isEqualTo(running.getStatus().hostName);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> guestSays().filter(s -> s.contains("boot_id=" + secondBoot)).isPresent());

    // RerunOnFailure: a guest kernel panic (pvpanic) stops the domain as crashed, and the
    // operator boots it again; a shutdown would have been left alone (VirtualMachineIT).
    edit(spec -> spec.runStrategy = RunStrategy.RerunOnFailure);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> guestSays("cgi-bin/crash").filter(s -> s.contains("crashing")).isPresent());
    String afterCrash = awaitGuestReady(host, secondBoot);
    awaitReady();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> guestSays().filter(s -> s.contains("boot_id=" + afterCrash)).isPresent());
    assertThat(eventsFor(client, "VirtualMachine", VM).stream().map(Event::getReason))
        .contains("GuestCrashed");

    // Delete: the domain is shut down and undefined, the blank volume deleted.
    client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).delete();
    await().atMost(TIMEOUT).until(() -> get() == null);
    List<String> defined = libvirt(host, c -> Arrays.asList(c.listDefinedDomains()));
    List<String> active =
        libvirt(host, c -> Arrays.stream(c.listDomains()).mapToObj(id -> nameOf(c, id)).toList());
    assertThat(defined).doesNotContain(DOMAIN);
    assertThat(active).doesNotContain(DOMAIN);
    List<String> volumes =
        libvirt(
            host,
            c -> {
              var pool = c.storagePoolLookupByName("bastida-" + STORAGE);
              pool.refresh(0);
              return Arrays.asList(pool.listVolumes());
            });
    assertThat(volumes).doesNotContain(VOLUME);
    assertThat(volumes).noneMatch(v -> v.startsWith(NS + "-" + VM + "-cidata-"));
    assertThat(volume).doesNotExist();
    assertThat(eventsFor(client, "VirtualMachine", VM).stream().map(Event::getReason))
        .as("the guest was running at deletion: it was asked to shut down, not forced")
        .doesNotContain("PoweredOff");
  }

  private String ipOfHost(String testbedHost) {
    return io.bastida.hypervisor.LibvirtUri.parse(testbed.tcpUri(testbedHost)).host();
  }

  private static final String USER_DATA = "#cloud-config\nhostname: school-e2e\n";

  private Path cloudInitSeed(String host) throws Exception {
    try (var files = Files.list(testbed.localDirBacking(host).resolve("e2e"))) {
      return files
          .filter(f -> f.getFileName().toString().startsWith(NS + "-" + VM + "-cidata-"))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no cloud-init seed image on " + host));
    }
  }

  private static String isoFile(Path iso, String name) throws Exception {
    Process p =
        new ProcessBuilder("isoinfo", "-R", "-i", iso.toString(), "-x", name)
            .redirectErrorStream(true)
            .start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor()).isZero();
    return out;
  }

  private VirtualMachine vm() {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.runStrategy = RunStrategy.Always;
    spec.hostSelector = LABELS;
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "256Mi";
    spec.firmware = VirtualMachineSpec.Firmware.UEFI;
    spec.kernelBoot = new VirtualMachineSpec.KernelBoot();
    spec.kernelBoot.kernel = guestDir.resolve("vmlinuz").toString();
    spec.kernelBoot.initrd = guestDir.resolve("initramfs.cpio.gz").toString();
    spec.kernelBoot.cmdline =
        "console=ttyS0 quiet ip=" + GUEST_IP + "/24," + testbed.vmGateway() + " bastida.tick=1";
    var scratch = new VirtualMachineSpec.Disk();
    scratch.name = "scratch";
    scratch.blank = new VirtualMachineSpec.BlankVolume();
    scratch.blank.storageDomainName = STORAGE;
    scratch.blank.size = "64Mi";
    spec.disks = new ArrayList<>(List.of(scratch));
    var nic = new VirtualMachineSpec.NetworkInterface();
    nic.name = "lan";
    nic.bridge = testbed.vmBridge();
    spec.interfaces = new ArrayList<>(List.of(nic));
    spec.guestAgent = false;
    spec.graphics = new VirtualMachineSpec.Graphics();
    spec.graphics.type = VirtualMachineSpec.GraphicsType.VNC;
    spec.cloudInit = new VirtualMachineSpec.CloudInit();
    spec.cloudInit.userData = USER_DATA;
    spec.terminationGracePeriodSeconds = GRACE_SECONDS;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName(VM).withNamespace(NS).build());
    vm.setSpec(spec);
    return vm;
  }

  private interface SpecChange {
    void apply(VirtualMachineSpec spec);
  }

  private void edit(SpecChange change) {
    UnaryOperator<VirtualMachine> edit =
        vm -> {
          change.apply(vm.getSpec());
          return vm;
        };
    client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).edit(edit);
  }

  private VirtualMachine get() {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(VM).get();
  }

  private VirtualMachine awaitReady() {
    awaitCondition(this::get, "Ready", status("True"));
    return get();
  }

  /** Waits for the guest's READY line (of a boot other than {@code previous}): its boot id. */
  private String awaitGuestReady(String host, String previous) {
    return await()
        .atMost(BOOT)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Matcher m = READY.matcher(serialLog(host));
              String last = null;
              while (m.find()) {
                last = m.group(1);
              }
              return Optional.ofNullable(last).filter(id -> !id.equals(previous));
            },
            Optional::isPresent)
        .orElseThrow();
  }

  private Path serialLogPath(String host) {
    return testbed.qemuLogBacking(host).resolve(DOMAIN + "-serial.log");
  }

  private String serialLog(String host) throws IOException {
    Path log = serialLogPath(host);
    return Files.exists(log)
        ? new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1)
        : "";
  }

  private long lastTick(String host) throws IOException {
    Matcher m = TICK.matcher(serialLog(host));
    long last = -1;
    while (m.find()) {
      last = Long.parseLong(m.group(1));
    }
    return last;
  }

  /** What the guest's HTTP server on port 8080 says, if it answers within 3 s. */
  private static Optional<String> guestSays() {
    return guestSays("");
  }

  private static Optional<String> guestSays(String path) {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + GUEST_IP + ":8080/" + path))
                  .timeout(Duration.ofSeconds(3))
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

  private static DomainState domainState(String host) throws Exception {
    return libvirt(host, c -> c.domainLookupByName(DOMAIN).getInfo().state);
  }

  private interface LibvirtCall<T> {
    T call(Connect libvirt) throws Exception;
  }

  /** One call on a fresh connection to the testbed host, as an admin's virsh would make. */
  private static <T> T libvirt(String host, LibvirtCall<T> call) throws Exception {
    Connect libvirt = new Connect(testbed.tcpUri(host), false);
    try {
      return call.call(libvirt);
    } finally {
      libvirt.close();
    }
  }

  private static String nameOf(Connect libvirt, int id) {
    try {
      return libvirt.domainLookupByID(id).getName();
    } catch (LibvirtException e) {
      return "";
    }
  }

  /** The VM's status and events, and the serial log's tail, for a failure message. */
  private String diagnostics() {
    StringBuilder out = new StringBuilder("\n---- diagnostics ----\n");
    try {
      VirtualMachine vm = get();
      out.append("VirtualMachine status: ")
          .append(vm == null ? "(gone)" : Serialization.asYaml(vm.getStatus()))
          .append('\n');
      out.append("events: ");
      for (Event e : eventsFor(client, "VirtualMachine", VM)) {
        out.append("\n  ")
            .append(e.getType())
            .append(' ')
            .append(e.getReason())
            .append(": ")
            .append(e.getMessage());
      }
      out.append('\n');
    } catch (RuntimeException e) {
      out.append("(could not read the VM: ").append(e).append(")\n");
    }
    for (String host : HOSTS.values()) {
      Path qemuLog = testbed.qemuLogBacking(host).resolve(DOMAIN + ".log");
      if (!Files.exists(serialLogPath(host)) && !Files.exists(qemuLog)) {
        continue;
      }
      out.append("on ").append(host).append(": domain ");
      try {
        String xml = libvirt(host, c -> c.domainLookupByName(DOMAIN).getXMLDesc(0));
        Matcher type = Pattern.compile("<domain type='(\\w+)'").matcher(xml);
        out.append(type.find() ? "type " + type.group(1) + ", " : "")
            .append(domainState(host))
            .append('\n');
      } catch (Exception e) {
        out.append(e.getMessage()).append('\n');
      }
      tail(out, "serial console " + serialLogPath(host), serialLogPath(host), 30);
      if (out.indexOf("type kvm") >= 0 && !out.toString().contains("BASTIDA-GUEST-INIT")) {
        out.append(
            "hint: a kvm guest that prints nothing: nested KVM can hang this kernel in its"
                + " decompressor; check with qemu-system-x86_64 -accel kvm by hand\n");
      }
      tail(out, "QEMU log " + qemuLog, qemuLog, 6);
    }
    return out.toString();
  }

  private static void tail(StringBuilder out, String what, Path file, int count) {
    try {
      if (!Files.exists(file)) {
        out.append(what).append(": missing\n");
        return;
      }
      String[] lines =
          new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1).split("\n");
      out.append(what).append(", last ").append(count).append(" lines:\n");
      for (int i = Math.max(0, lines.length - count); i < lines.length; i++) {
        out.append("  | ").append(lines[i]).append('\n');
      }
    } catch (IOException e) {
      out.append(what).append(": ").append(e).append('\n');
    }
  }

  /** A domain and volume left by an earlier run of this test that was killed: made anew here. */
  private static void removeLeftoversOfAnEarlierRun() throws Exception {
    for (String host : HOSTS.values()) {
      libvirt(
          host,
          c -> {
            Domain domain;
            try {
              domain = c.domainLookupByName(DOMAIN);
            } catch (LibvirtException e) {
              return null;
            }
            if (domain.getXMLDesc(0).contains("<title>" + NS + "/" + VM + "</title>")) {
              if (domain.isActive() == 1) {
                domain.destroy();
              }
              domain.undefine();
            }
            return null;
          });
      Files.deleteIfExists(testbed.localDirBacking(host).resolve("e2e").resolve(VOLUME));
      Files.deleteIfExists(testbed.qemuLogBacking(host).resolve(DOMAIN + "-serial.log"));
    }
  }
}
