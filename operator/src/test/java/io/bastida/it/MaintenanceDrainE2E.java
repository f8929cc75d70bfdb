package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.nativeNfsDomain;
import static io.bastida.it.Resources.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
 * Host maintenance on two real libvirtd hosts: guests on an NFS Native disk, on a bridge that spans
 * both hosts, each serving an in-memory counter and its boot id over HTTP. Putting host A in
 * maintenance live-migrates every guest to B: the counters go on (same boot, never reset) and an
 * HTTP poller sees no outage longer than the downtime libvirt measured plus one poll. Ending
 * maintenance half-way cancels what has not started; deleting a migration mid-flight leaves the
 * guest running where it was.
 */
class MaintenanceDrainE2E {
  private static final String NS = "e2e-drain";
  private static final String HOST_A = "drain-ha";
  private static final String HOST_B = "drain-hb";
  private static final String STORAGE = "drain-nfs";
  private static final Map<String, String> LABELS = Map.of("bastida.io/e2e", "drain");
  // Unique on the testbed's guest segment, shared with other tests' guests.
  private static final Map<String, String> GUESTS =
      Map.of("web", "10.77.1.211", "files", "10.77.1.212", "dhcp", "10.77.1.213");
  private static final Duration POLL = Duration.ofMillis(100);
  private static final Duration TIMEOUT = Duration.ofSeconds(120);
  private static final Pattern STATE = Pattern.compile("boot_id=([0-9a-f-]+) counter=(\\d+)");

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
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
    removeLeftoversOfAnEarlierRun();
    // One migration out of a host at a time, so ending maintenance half-way finds some waiting.
    operator =
        RunningOperator.start(
            cluster.newClient(), RunningOperator.settings().withMigrationLimits(1, 5), c -> c);
  }

  @AfterAll
  static void stop() {
    try {
      client.resources(VirtualMachineMigration.class).inNamespace(NS).delete();
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
      client.resources(Host.class).withName(HOST_A).delete();
      client.resources(Host.class).withName(HOST_B).delete();
    } finally {
      operator.close();
      client.close();
    }
  }

  @Test
  void maintenanceMovesEveryGuestLiveAndAbortsCleanly() throws Exception {
    createHost(HOST_A, "hA");
    client
        .resource(
            Resources.selecting(
                nativeNfsDomain(STORAGE, testbed.nfsServer(), testbed.nfsExport()), LABELS))
        .create();
    awaitCondition(() -> storage(), "Ready", status("True"));
    for (var guest : GUESTS.entrySet()) {
      client.resource(vm(guest.getKey(), guest.getValue())).create();
    }
    Map<String, String> bootIds = new LinkedHashMap<>();
    for (String name : GUESTS.keySet()) {
      awaitCondition(() -> get(name), "Ready", status("True"));
      bootIds.put(name, awaitAnswer(name).bootId());
    }
    createHost(HOST_B, "hB");
    await().atMost(TIMEOUT).until(() -> "2/2".equals(storage().getStatus().getAttachedHosts()));
    List<Poller> pollers = GUESTS.keySet().stream().map(Poller::new).toList();
    pollers.forEach(Poller::start);

    // Maintenance, then its end once the first guest has moved: the rest stay, untouched.
    Resources.setMaintenance(client, HOST_A, true);
    awaitCondition(() -> getHost(HOST_A), "Draining", status("True"));
    await().atMost(TIMEOUT).until(() -> onHost(HOST_B) >= 1);
    Resources.setMaintenance(client, HOST_A, false);
    awaitCondition(() -> getHost(HOST_A), "Schedulable", status("True"));
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                migrations().stream()
                    .allMatch(m -> m.getStatus() != null && m.getStatus().completionTime != null));
    int movedFirst = onHost(HOST_B);
    assertThat(movedFirst).as("cancelled before they started").isLessThan(GUESTS.size());
    assertThat(onHost(HOST_A)).isEqualTo(GUESTS.size() - movedFirst);
    assertThat(getHost(HOST_A).getStatus().getDrain()).isNull();

    // Maintenance for good: every guest moves, and the host says it is empty.
    Resources.setMaintenance(client, HOST_A, true);
    awaitCondition(() -> getHost(HOST_A), "InMaintenance", status("True"));
    assertThat(onHost(HOST_B)).isEqualTo(GUESTS.size());
    var drain = getHost(HOST_A).getStatus().getDrain();
    assertThat(drain.vmsRemaining).isZero();
    assertThat(Serialization.asYaml(getHost(HOST_A).getStatus()))
        .as("the plan, readable with kubectl get host -o yaml")
        .contains("vmsTotal:", "vmsRemaining: 0");
    for (String name : GUESTS.keySet()) {
      awaitCondition(() -> get(name), "Ready", status("True"));
      assertThat(libvirtHas("hA", domainOf(name))).as(name + " undefined on A").isFalse();
      assertThat(libvirtRuns("hB", domainOf(name))).as(name + " runs on B").isTrue();
    }
    Thread.sleep(1000); // a few polls on B
    pollers.forEach(Poller::stop);

    Map<String, Long> downtime = downtimeByVm();
    for (Poller poller : pollers) {
      String name = poller.vm;
      System.out.printf(
          "MaintenanceDrainE2E: %s downtime %d ms (libvirt), longest outage %d ms, longest gap"
              + " between answers %d ms, %d polls%n",
          name, downtime.get(name), poller.longestOutage(), poller.longestGap(), poller.polls());
      assertThat(poller.bootIds()).as(name + ": never rebooted").containsOnly(bootIds.get(name));
      assertThat(poller.counterWentBack()).as(name + ": counter never reset").isFalse();
      assertThat(poller.longestOutage())
          .as(name + ": no failure longer than the downtime plus one poll")
          .isLessThanOrEqualTo(downtime.get(name) + POLL.toMillis());
    }
    assertThat(eventsFor(client, "Host", HOST_A).stream().map(Event::getReason))
        .contains("Drained");

    // A migration deleted mid-flight: the guest goes on running where it was.
    Resources.setMaintenance(client, HOST_A, false);
    awaitCondition(() -> getHost(HOST_A), "Schedulable", status("True"));
    var slow = Resources.migration(NS, "web-back", "web", HOST_A);
    slow.getSpec().bandwidthMiBPerSecond = 1;
    client.resource(slow).create();
    await()
        .atMost(TIMEOUT)
        .until(
            () -> {
              var m = getMigration("web-back");
              return m.getStatus() != null
                  && m.getStatus().progress != null
                  && m.getStatus().progress.dataProcessedBytes != null
                  && m.getStatus().progress.dataProcessedBytes > 0;
            });
    client.resources(VirtualMachineMigration.class).inNamespace(NS).withName("web-back").delete();
    await().atMost(TIMEOUT).until(() -> getMigration("web-back") == null);
    assertThat(libvirtRuns("hB", domainOf("web"))).isTrue();
    assertThat(libvirtHas("hA", domainOf("web"))).isFalse();
    assertThat(get("web").getStatus().hostName).isEqualTo(HOST_B);
    assertThat(awaitAnswer("web").bootId()).isEqualTo(bootIds.get("web"));
    assertThat(eventsFor(client, "VirtualMachine", "web").stream().map(Event::getReason))
        .contains("MigrationAborted");

    // The operator restarted mid-migration: the new one finds the job running in libvirt,
    // follows it to the end, and the guest runs once, on the target.
    var restarted = Resources.migration(NS, "web-home", "web", HOST_A);
    restarted.getSpec().bandwidthMiBPerSecond = 8;
    client.resource(restarted).create();
    await()
        .atMost(TIMEOUT)
        .until(
            () -> {
              var m = getMigration("web-home");
              return m.getStatus() != null
                  && m.getStatus().progress != null
                  && m.getStatus().progress.dataProcessedBytes != null
                  && m.getStatus().progress.dataProcessedBytes > 0;
            });
    operator.close();
    operator =
        RunningOperator.start(
            TestCluster.get().newClient(),
            RunningOperator.settings().withMigrationLimits(1, 5),
            c -> c);
    var done = awaitCondition(() -> getMigration("web-home"), "Succeeded", status("True"));
    System.out.printf("MaintenanceDrainE2E: across an operator restart: %s%n", done.getMessage());
    await().atMost(TIMEOUT).until(() -> HOST_A.equals(get("web").getStatus().hostName));
    assertThat(libvirtRuns("hA", domainOf("web"))).isTrue();
    assertThat(libvirtHas("hB", domainOf("web"))).as("no twin left behind").isFalse();
    assertThat(awaitAnswer("web").bootId()).isEqualTo(bootIds.get("web"));
  }

  private Map<String, Long> downtimeByVm() {
    Map<String, Long> worst = new LinkedHashMap<>();
    for (VirtualMachineMigration m : migrations()) {
      if (m.getStatus() != null && m.getStatus().downtimeMilliseconds != null) {
        worst.merge(m.getSpec().vmName, m.getStatus().downtimeMilliseconds, Math::max);
      }
    }
    GUESTS.keySet().forEach(name -> worst.putIfAbsent(name, 0L));
    return worst;
  }

  /** Polls one guest's HTTP state while the drain runs. */
  private static final class Poller implements Runnable {
    final String vm;
    final List<long[]> answers = new ArrayList<>(); // {sentMillis, answeredMillis, counter}
    final List<Long> failures = new ArrayList<>(); // sent times of failed polls
    final List<String> seenBootIds = new ArrayList<>();
    private volatile boolean stopped;
    private Thread thread;

    Poller(String vm) {
      this.vm = vm;
    }

    void start() {
      thread = new Thread(this, "poller-" + vm);
      thread.setDaemon(true);
      thread.start();
    }

    void stop() {
      stopped = true;
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void run() {
      while (!stopped) {
        long sent = System.currentTimeMillis();
        Optional<Answer> answer = ask(vm);
        synchronized (this) {
          if (answer.isPresent()) {
            answers.add(new long[] {sent, System.currentTimeMillis(), answer.get().counter()});
            if (!seenBootIds.contains(answer.get().bootId())) {
              seenBootIds.add(answer.get().bootId());
            }
          } else {
            failures.add(sent);
          }
        }
        try {
          Thread.sleep(POLL.toMillis());
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    synchronized List<String> bootIds() {
      return List.copyOf(seenBootIds);
    }

    synchronized int polls() {
      return answers.size() + failures.size();
    }

    synchronized boolean counterWentBack() {
      for (int i = 1; i < answers.size(); i++) {
        if (answers.get(i)[2] < answers.get(i - 1)[2]) {
          return true;
        }
      }
      return false;
    }

    /** From the first failed poll of a run of failures to the next poll that got an answer. */
    synchronized long longestOutage() {
      long longest = 0;
      for (long failed : failures) {
        long recovered =
            answers.stream().mapToLong(a -> a[0]).filter(t -> t > failed).min().orElse(failed);
        boolean firstOfRun =
            failures.stream().noneMatch(f -> f < failed && f > lastAnswerBefore(failed));
        if (firstOfRun) {
          longest = Math.max(longest, recovered - failed);
        }
      }
      return longest;
    }

    private long lastAnswerBefore(long time) {
      return answers.stream().mapToLong(a -> a[0]).filter(t -> t < time).max().orElse(0);
    }

    /** The longest time between two answers arriving (a guest paused for switch-over shows). */
    synchronized long longestGap() {
      long longest = 0;
      for (int i = 1; i < answers.size(); i++) {
        longest = Math.max(longest, answers.get(i)[1] - answers.get(i - 1)[1]);
      }
      return longest;
    }
  }

  private record Answer(String bootId, long counter) {}

  private static Optional<Answer> ask(String vm) {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + GUESTS.get(vm) + ":8080/"))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      Matcher m = STATE.matcher(response.body());
      return response.statusCode() == 200 && m.find()
          ? Optional.of(new Answer(m.group(1), Long.parseLong(m.group(2))))
          : Optional.empty();
    } catch (java.io.IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static Answer awaitAnswer(String vm) {
    return await()
        .atMost(TIMEOUT)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> ask(vm), Optional::isPresent)
        .orElseThrow();
  }

  private void createHost(String name, String testbedHost) {
    client
        .resource(
            Resources.emulated(
                Resources.withLabels(host(name, testbed.tcpUri(testbedHost)), LABELS)))
        .create();
    awaitCondition(() -> getHost(name), "Ready", status("True"));
  }

  private VirtualMachine vm(String name, String ip) {
    return testbed.tinyGuestVm(NS, name, ip, guestDir, STORAGE, LABELS);
  }

  private int onHost(String host) {
    return (int)
        client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().stream()
            .filter(vm -> vm.getStatus() != null && host.equals(vm.getStatus().hostName))
            .count();
  }

  private List<VirtualMachineMigration> migrations() {
    return client.resources(VirtualMachineMigration.class).inNamespace(NS).list().getItems();
  }

  private StorageDomain storage() {
    return client.resources(StorageDomain.class).withName(STORAGE).get();
  }

  private Host getHost(String name) {
    return client.resources(Host.class).withName(name).get();
  }

  private VirtualMachine get(String name) {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachineMigration getMigration(String name) {
    return client.resources(VirtualMachineMigration.class).inNamespace(NS).withName(name).get();
  }

  private static String domainOf(String vm) {
    return NS + "_" + vm;
  }

  private static boolean libvirtHas(String host, String domain) throws Exception {
    Connect libvirt = new Connect(testbed.tcpUri(host), true);
    try {
      libvirt.domainLookupByName(domain);
      return true;
    } catch (LibvirtException e) {
      return false;
    } finally {
      libvirt.close();
    }
  }

  private static boolean libvirtRuns(String host, String domain) throws Exception {
    Connect libvirt = new Connect(testbed.tcpUri(host), true);
    try {
      return libvirt.domainLookupByName(domain).isActive() == 1;
    } catch (LibvirtException e) {
      return false;
    } finally {
      libvirt.close();
    }
  }

  /** Domains a killed earlier run left on the testbed hosts: made anew here. */
  private static void removeLeftoversOfAnEarlierRun() throws Exception {
    for (String host : List.of("hA", "hB")) {
      Connect libvirt = new Connect(testbed.tcpUri(host), false);
      try {
        for (String vm : GUESTS.keySet()) {
          try {
            var domain = libvirt.domainLookupByName(domainOf(vm));
            if (domain.isActive() == 1) {
              domain.destroy();
            }
            domain.undefine();
          } catch (LibvirtException e) {
            // not there: nothing to clean
          }
        }
      } finally {
        libvirt.close();
      }
    }
  }
}
