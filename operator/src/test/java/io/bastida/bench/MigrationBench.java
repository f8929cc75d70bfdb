package io.bastida.bench;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineMigrationSpec;
import io.bastida.api.v1alpha1.WithConditions;
import io.bastida.it.Resources;
import io.bastida.it.TestCluster;
import io.bastida.it.Testbed;
import io.bastida.operator.OperatorSettings;
import io.bastida.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Live migration through the operator against bare {@code virsh migrate} of identical guests
 * between the same two testbed hosts, in one run (run by {@code bench/migration.sh}, never by the
 * test suite). See bench/migration.sh for what is measured and how.
 *
 * <p>The operator's guests are VirtualMachines; the bare ones are defined with virsh from the
 * operator's own domain XML (name, UUID, MAC, IP, disk and Bastida's metadata changed or dropped),
 * so the operator never sees them as its own and its state stays honest.
 *
 * <p>System properties: {@code bench.operatorJar} (required), {@code bench.out} (JSON), {@code
 * bench.operatorLog}, {@code bench.operatorJvmOpts}, {@code bench.rounds} (8: single migrations of
 * each kind), {@code bench.drainRounds} (2: drains A→B and B→A with the raised limit, each with a
 * bare parallel baseline), {@code bench.defaultDrainRounds} (1: the same with the default limit),
 * {@code bench.drainPerHost} (4), {@code bench.pauseMillis} (1500 between migrations), {@code
 * bench.quietWaitSeconds} (120).
 */
public final class MigrationBench {
  private static final String NS = "bench-migration";
  private static final String HOST_A = "bench-ha";
  private static final String HOST_B = "bench-hb";
  private static final String STORAGE = "bench-nfs";
  private static final Map<String, String> LABELS = Map.of("bastida.io/bench", "migration");
  private static final Map<String, String> TESTBED_HOST = Map.of(HOST_A, "hA", HOST_B, "hB");
  private static final List<String> OP_VMS = List.of("op-1", "op-2", "op-3", "op-4");
  private static final List<String> BARE =
      List.of("bench-bare-1", "bench-bare-2", "bench-bare-3", "bench-bare-4");
  private static final Map<String, String> IPS = new LinkedHashMap<>();

  static {
    for (int i = 0; i < 4; i++) {
      IPS.put(OP_VMS.get(i), "10.77.1." + (221 + i));
      IPS.put(BARE.get(i), "10.77.1." + (225 + i));
    }
  }

  private static final Duration MIGRATION_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(240);

  private final Map<String, Object> result = new LinkedHashMap<>();
  private final Map<String, String> where = new ConcurrentHashMap<>(); // guest -> Host name
  private final List<Map<String, Object>> singles = new ArrayList<>();
  private final List<Map<String, Object>> drains = new ArrayList<>();
  private final List<Map<String, Object>> parallels = new ArrayList<>();

  // What the benchmark's watches saw, in epoch ms.
  private final Map<String, Map<String, Long>> migrationMarks = new ConcurrentHashMap<>();
  private final Map<String, List<long[]>> hostInMaintenanceAt = new ConcurrentHashMap<>();
  private final Map<String, Boolean> hostInMaintenance = new ConcurrentHashMap<>();
  private final Map<String, List<Object[]>> vmHostChanges = new ConcurrentHashMap<>();
  private final Map<String, String> vmHost = new ConcurrentHashMap<>();
  private final List<Watch> watches = new ArrayList<>();
  private final Map<String, String> bootIds = new ConcurrentHashMap<>();
  private final List<Map<String, Object>> guestIncidents = new ArrayList<>();
  private static final Pattern BOOT_ID = Pattern.compile("boot_id=([0-9a-f-]+)");

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
  private Testbed testbed;
  private Path guestDir;
  private KubernetesClient client;
  private Process operator;
  private Path operatorLog;
  private final List<Map<String, Object>> operatorRuns = new ArrayList<>();
  private final Map<String, Virsh.EventLog> eventLogs = new LinkedHashMap<>();
  private final List<String> bareDisks = new ArrayList<>();
  private long t0;

  public static void main(String[] args) throws Exception {
    int exit = 1;
    try {
      exit = new MigrationBench().run() ? 0 : 2;
    } catch (Throwable t) {
      t.printStackTrace(System.out);
    } finally {
      System.exit(exit); // shutdown hooks stop the API server and etcd
    }
  }

  private boolean run() throws Exception {
    Path out = Path.of(System.getProperty("bench.out", "migration.json"));
    operatorLog = Path.of(System.getProperty("bench.operatorLog", "operator.log"));
    result.put("startedAt", Instant.now().toString());
    result.put(
        "bareMaxDowntimeMillis",
        System.getProperty("bench.bareMaxDowntimeMillis", "").isBlank()
            ? "QEMU default"
            : System.getProperty("bench.bareMaxDowntimeMillis"));
    result.put("cpus", Runtime.getRuntime().availableProcessors());
    boolean done = false;
    try {
      waitForQuietMachine(Integer.getInteger("bench.quietWaitSeconds", 120));
      t0 = System.currentTimeMillis();
      testbed = Testbed.get();
      guestDir = Testbed.guest();
      removeLeftovers();
      for (String host : List.of(HOST_A, HOST_B)) {
        Virsh.EventLog events = new Virsh.EventLog(host, uri(host));
        eventLogs.put(host, events);
        Runtime.getRuntime().addShutdownHook(new Thread(events::close));
      }
      log("starting the API server (kube-api-test) and installing the CRDs");
      TestCluster cluster = TestCluster.get();
      client = cluster.newClient();
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
          .serverSideApply();
      startWatches();
      int drainPerHost = Integer.getInteger("bench.drainPerHost", 4);
      startOperator(cluster.kubeconfig(), drainPerHost, 5);
      setUp();
      phase("single", this::singleMigrations);
      phase("drain", () -> drainRounds(Integer.getInteger("bench.drainRounds", 2), drainPerHost));
      restartOperator(cluster.kubeconfig(), null, null);
      phase(
          "drainDefaultLimit",
          () -> drainRounds(Integer.getInteger("bench.defaultDrainRounds", 1), 2));
      done = true;
    } catch (Exception | AssertionError e) {
      log("FAILED: " + e);
      e.printStackTrace(System.out);
      result.put("error", e.toString());
    } finally {
      guarded("clean-up", this::cleanUp);
      guarded("matching libvirt's events", this::attachLibvirtTimes);
      guarded("reading the operator's log", this::attachOperatorLogTimes);
      result.put("singleMigrations", singles);
      result.put("drains", drains);
      result.put("bareParallelMigrations", parallels);
      result.put("operatorRuns", operatorRuns);
      result.put("guestIncidents", guestIncidents);
      try {
        result.put("summary", summary());
      } catch (RuntimeException e) {
        e.printStackTrace(System.out);
        result.put("summary", Map.of());
      }
      result.put("completed", done);
      result.put("totalSeconds", (System.currentTimeMillis() - t0) / 1000.0);
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(
          out,
          Serialization.jsonMapper().writerWithDefaultPrettyPrinter().writeValueAsString(result));
      printTable(out);
    }
    return done;
  }

  private static void guarded(String what, Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      log(what + " failed: " + e);
      e.printStackTrace(System.out);
    }
  }

  private interface Step {
    void run() throws Exception;
  }

  /** A phase with how busy the machine was meanwhile. */
  private void phase(String name, Step step) throws Exception {
    double busyBefore = ProcessStats.machineBusySeconds();
    double operatorBefore = ProcessStats.cpuSeconds(operator.pid());
    long start = System.nanoTime();
    step.run();
    double seconds = (System.nanoTime() - start) / 1e9;
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("seconds", round(seconds));
    p.put(
        "machineBusyPercent",
        round(
            100
                * (ProcessStats.machineBusySeconds() - busyBefore)
                / seconds
                / Runtime.getRuntime().availableProcessors()));
    p.put("operatorCpuSeconds", round(ProcessStats.cpuSeconds(operator.pid()) - operatorBefore));
    ((Map<String, Object>) result.computeIfAbsent("phases", k -> new LinkedHashMap<>()))
        .put(name, p);
  }

  private void waitForQuietMachine(int maxSeconds) throws InterruptedException {
    int cpus = Runtime.getRuntime().availableProcessors();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
    double busy;
    do {
      double before = ProcessStats.machineBusySeconds();
      Thread.sleep(3000);
      busy = (ProcessStats.machineBusySeconds() - before) / 3 / cpus;
      if (busy <= 0.15) {
        break;
      }
      log(
          "the machine is %.0f %% busy with other work: waiting for it to calm down"
              .formatted(100 * busy));
      Thread.sleep(5000);
    } while (System.nanoTime() < deadline);
    result.put("machineBusyPercentBeforeStart", Math.round(100 * busy));
  }

  // ---------------------------------------------------------------------------------------------
  // Set-up

  private String uri(String host) {
    return testbed.tcpUri(TESTBED_HOST.get(host));
  }

  private String ip(String host) {
    return testbed.ip(TESTBED_HOST.get(host));
  }

  private static String other(String host) {
    return HOST_A.equals(host) ? HOST_B : HOST_A;
  }

  private static String domainOf(String guest) {
    return OP_VMS.contains(guest) ? NS + "_" + guest : guest;
  }

  /** Domains and images of an earlier run that was killed: made anew here. */
  private void removeLeftovers() throws IOException {
    for (String host : List.of(HOST_A, HOST_B)) {
      for (String guest : concat(OP_VMS, BARE)) {
        String domain = domainOf(guest);
        if (Virsh.run(uri(host), "domstate", domain).exit() == 0) {
          log("removing leftover domain " + domain + " on " + host);
          Virsh.run(uri(host), "destroy", domain);
          Virsh.run(uri(host), "undefine", domain);
        }
      }
    }
    try (var files = Files.list(testbed.nfsDirectory())) {
      for (Path file : files.toList()) {
        String name = file.getFileName().toString();
        if (name.startsWith(NS + "-") || name.startsWith("bench-bare-")) {
          log("removing leftover image " + file);
          Files.deleteIfExists(file);
        }
      }
    }
  }

  private void setUp() throws Exception {
    long start = System.currentTimeMillis();
    Map<String, Double> marks = new LinkedHashMap<>();
    result.put("setUpSecondsAfterStart", marks);
    createHost(HOST_A);
    marks.put("hostAReady", (System.currentTimeMillis() - start) / 1000.0);
    client
        .resource(
            Resources.selecting(
                Resources.nativeNfsDomain(STORAGE, testbed.nfsServer(), testbed.nfsExport()),
                LABELS))
        .create();
    Resources.awaitCondition(
        () -> client.resources(StorageDomain.class).withName(STORAGE).get(),
        "Ready",
        Resources.status("True"));
    for (String vm : OP_VMS) {
      client.resource(vm(vm, IPS.get(vm))).create();
    }
    // Host B comes after the VMs, so they are all placed on A.
    createHost(HOST_B);
    marks.put("hostBReady", (System.currentTimeMillis() - start) / 1000.0);
    await(
        "StorageDomain attached to both hosts",
        Duration.ofSeconds(90),
        () -> {
          StorageDomain d = client.resources(StorageDomain.class).withName(STORAGE).get();
          return d.getStatus() != null && "2/2".equals(d.getStatus().getAttachedHosts());
        });
    marks.put("storageAttachedToBoth", (System.currentTimeMillis() - start) / 1000.0);
    for (String vm : OP_VMS) {
      await("VM " + vm + " Ready", Duration.ofSeconds(180), () -> isTrue(getVm(vm), "Ready"));
      String host = getVm(vm).getStatus().hostName;
      if (!HOST_A.equals(host)) {
        throw new IllegalStateException(vm + " was placed on " + host + ", not " + HOST_A);
      }
      where.put(vm, host);
    }
    marks.put("vmsReady", (System.currentTimeMillis() - start) / 1000.0);
    defineBareGuests();
    for (String guest : concat(OP_VMS, BARE)) {
      await("guest " + guest + " answers HTTP", Duration.ofSeconds(180), () -> answers(guest));
      bootIds.put(guest, bootId(guest).orElseThrow());
    }
    marks.put("allGuestsAnswer", (System.currentTimeMillis() - start) / 1000.0);
    log(
        "8 guests up and answering on "
            + HOST_A
            + " after "
            + (System.currentTimeMillis() - start) / 1000.0
            + " s; settling");
    Thread.sleep(5000);
    result.put("setUpSeconds", (System.currentTimeMillis() - start) / 1000.0);
  }

  private void createHost(String name) {
    Host host =
        Resources.emulated(
            Resources.withLabels(Resources.host(name, uri(name)), new LinkedHashMap<>(LABELS)));
    client.resource(host).create();
    Resources.awaitCondition(
        () -> client.resources(Host.class).withName(name).get(), "Ready", Resources.status("True"));
  }

  private VirtualMachine vm(String name, String ip) {
    return testbed.tinyGuestVm(NS, name, ip, guestDir, STORAGE, LABELS);
  }

  /**
   * The bare guests: op-1's domain XML as the operator defined it, with another name, no UUID and
   * MAC (libvirt makes new ones), another IP and its own blank 32 MiB image on the same export, and
   * without Bastida's metadata (so the operator counts it as an unmanaged domain).
   */
  private void defineBareGuests() throws IOException {
    String template =
        Virsh.run(uri(HOST_A), "dumpxml", "--inactive", domainOf(OP_VMS.get(0))).orThrow().out();
    String opDomain = domainOf(OP_VMS.get(0));
    String opVolume = NS + "-" + OP_VMS.get(0) + "-";
    String opIp = "ip=" + IPS.get(OP_VMS.get(0)) + "/";
    if (!template.contains(opVolume) || !template.contains(opIp)) {
      throw new IllegalStateException("unexpected domain XML of " + opDomain + ":\n" + template);
    }
    Path dir = Files.createTempDirectory("bastida-bench-bare-");
    dir.toFile().deleteOnExit();
    for (String guest : BARE) {
      String xml =
          template
              .replaceAll("(?s)<metadata>.*?</metadata>\\s*", "")
              .replaceAll("<uuid>[^<]*</uuid>\\s*", "")
              .replaceAll("<mac address=[^>]*/>\\s*", "")
              .replace(opDomain, guest)
              .replace(opVolume, guest + "-")
              .replace(opIp, "ip=" + IPS.get(guest) + "/");
      String image = guest + "-data.qcow2";
      if (!xml.contains(image)) {
        throw new IllegalStateException("the bare guest's XML names no " + image + ":\n" + xml);
      }
      run(
          "qemu-img",
          "create",
          "-q",
          "-f",
          "qcow2",
          "nfs://" + testbed.nfsServer() + testbed.nfsExport() + "/" + image,
          "32M");
      bareDisks.add(image);
      Path file = dir.resolve(guest + ".xml");
      Files.writeString(file, xml);
      file.toFile().deleteOnExit();
      Virsh.run(uri(HOST_A), "define", file.toString()).orThrow();
      Virsh.run(uri(HOST_A), "start", guest).orThrow();
      where.put(guest, HOST_A);
    }
    result.put("bareGuestXml", Virsh.run(uri(HOST_A), "dumpxml", "--inactive", BARE.get(0)).out());
  }

  private static void run(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The guest's boot id, as its HTTP server says: the same after a live migration. */
  private Optional<String> bootId(String guest) {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + IPS.get(guest) + ":8080/"))
                  .timeout(Duration.ofSeconds(1))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      Matcher m = BOOT_ID.matcher(response.body());
      return response.statusCode() == 200 && m.find() ? Optional.of(m.group(1)) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /**
   * After a move (outside the timed part): the guest answers with the boot id it had, or the
   * incident is recorded (domain state, the end of its serial console) and the guest brought back:
   * a bare one started again with virsh, an operator one restarted by the operator (runStrategy).
   */
  private void checkGuest(String guest, String host, Map<String, Object> sample) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    Optional<String> id = bootId(guest);
    while (id.isEmpty() && System.nanoTime() < deadline) {
      sleep(200);
      id = bootId(guest);
    }
    boolean survived = id.isPresent() && id.get().equals(bootIds.get(guest));
    sample.put("guestSurvived", survived);
    if (survived) {
      return;
    }
    String domain = domainOf(guest);
    Map<String, Object> incident = new LinkedHashMap<>();
    incident.put("guest", guest);
    incident.put("kind", sample.get("kind"));
    incident.put("from", sample.get("from"));
    incident.put("to", host);
    incident.put(
        "migrationStartedAt", Instant.ofEpochMilli((Long) sample.get("startMs")).toString());
    incident.put(
        "answer",
        id.map(b -> "boot_id=" + b + " (was " + bootIds.get(guest) + ")").orElse("none for 15 s"));
    incident.put("domainState", Virsh.run(uri(host), "domstate", "--reason", domain).out().strip());
    try {
      List<String> serial =
          Files.readAllLines(
              testbed.qemuLogBacking(TESTBED_HOST.get(host)).resolve(domain + "-serial.log"));
      incident.put(
          "serialConsoleTail",
          serial.subList(Math.max(0, serial.size() - 40), serial.size()).stream()
              .filter(
                  l ->
                      l.contains("panic")
                          || l.contains("RIP")
                          || l.contains("fault")
                          || l.contains("BUG"))
              .toList());
    } catch (IOException e) {
      incident.put("serialConsoleTail", List.of("unreadable: " + e.getMessage()));
    }
    guestIncidents.add(incident);
    log("guest " + guest + " did not survive its migration to " + host + ": " + incident);
    if (BARE.contains(guest)
        && !Virsh.run(uri(host), "domstate", domain).out().contains("running")) {
      Virsh.run(uri(host), "start", domain).orThrow();
    }
    // an operator VM is started again by the operator (runStrategy Always, the default)
    await(
        "guest " + guest + " back after its incident",
        Duration.ofSeconds(180),
        () -> answers(guest));
    bootIds.put(guest, bootId(guest).orElseThrow());
    if (OP_VMS.contains(guest)) {
      await(
          "VM " + guest + " Ready again",
          Duration.ofSeconds(60),
          () -> isTrue(getVm(guest), "Ready"));
    }
    incident.put("recovered", true);
  }

  private boolean answers(String guest) {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + IPS.get(guest) + ":8080/"))
                  .timeout(Duration.ofSeconds(1))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200 && response.body().contains("boot_id=");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The operator

  private void startOperator(Path kubeconfig, Integer perHost, Integer perCluster)
      throws IOException {
    Path jar = Path.of(System.getProperty("bench.operatorJar"));
    List<String> command = new ArrayList<>();
    command.add(ProcessStats.jdkTool("java").toString());
    String jvmOpts = System.getProperty("bench.operatorJvmOpts", "-Xmx384m -XX:+UseSerialGC");
    command.addAll(Arrays.stream(jvmOpts.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList());
    command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    command.add("-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS");
    command.add("-jar");
    command.add(jar.toString());
    ProcessBuilder builder = new ProcessBuilder(command);
    Map<String, String> env = builder.environment();
    env.put("KUBECONFIG", kubeconfig.toString());
    env.put("BASTIDA_LEADER_ELECTION", "false");
    env.put("BASTIDA_HEALTH_PORT", "0");
    env.put("BASTIDA_NAMESPACE", TestCluster.OPERATOR_NAMESPACE);
    env.remove("BASTIDA_MIGRATIONS_PER_HOST");
    env.remove("BASTIDA_MIGRATIONS_PER_CLUSTER");
    if (perHost != null) {
      env.put("BASTIDA_MIGRATIONS_PER_HOST", perHost.toString());
    }
    if (perCluster != null) {
      env.put("BASTIDA_MIGRATIONS_PER_CLUSTER", perCluster.toString());
    }
    builder
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(operatorLog.toFile()));
    OperatorSettings settings = OperatorSettings.fromEnvironment(env);
    long logOffset = Files.exists(operatorLog) ? Files.size(operatorLog) : 0;
    operator = builder.start();
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("pid", operator.pid());
    info.put("startedAt", Instant.now().toString());
    info.put("jvmOptions", jvmOpts);
    info.put("migrationsPerHost", settings.migrationsPerHost());
    info.put("migrationsPerCluster", settings.migrationsPerCluster());
    info.put("vmRecheckSeconds", settings.vmRecheckInterval().toSeconds());
    info.put("hostRecheckSeconds", settings.hostRecheckInterval().toSeconds());
    info.put("log", operatorLog.toString());
    operatorRuns.add(info);
    Process started = operator;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(started)));
    log(
        "operator started as pid "
            + operator.pid()
            + " (migrations per host "
            + settings.migrationsPerHost()
            + ", per cluster "
            + settings.migrationsPerCluster()
            + ")");
    // Its informers are synced when JOSDK says it started its controllers.
    await(
        "the operator's controllers started",
        Duration.ofSeconds(60),
        () -> {
          if (!operator.isAlive()) {
            throw new IllegalStateException("the operator exited: see " + operatorLog);
          }
          try {
            String text = Files.readString(operatorLog);
            return text.length() > logOffset
                && Pattern.compile(
                        "(?i)controller.{0,40}virtualmachinemigration.{0,40}started|virtualmachinemigration.{0,60}controller started")
                    .matcher(text.substring((int) logOffset))
                    .find();
          } catch (IOException e) {
            return false;
          }
        });
  }

  private void restartOperator(Path kubeconfig, Integer perHost, Integer perCluster)
      throws IOException {
    Map<String, Object> info = operatorRuns.get(operatorRuns.size() - 1);
    info.put("cpuSeconds", round(ProcessStats.cpuSeconds(operator.pid())));
    log("restarting the operator with the default migration limits");
    stop(operator);
    startOperator(kubeconfig, perHost, perCluster);
    sleep(2000);
  }

  private static void stop(Process process) {
    if (process == null || !process.isAlive()) {
      return;
    }
    process.destroy(); // SIGTERM to the PID we started
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Watches: when the benchmark, as a client, sees things happen

  private void startWatches() {
    watches.add(
        client
            .resources(VirtualMachineMigration.class)
            .inNamespace(NS)
            .watch(
                watcher(
                    m -> {
                      long now = System.currentTimeMillis();
                      var marks =
                          migrationMarks.computeIfAbsent(
                              m.getMetadata().getName(), k -> new ConcurrentHashMap<>());
                      marks.putIfAbsent("seen", now);
                      var s = m.getStatus();
                      if (s == null) {
                        return;
                      }
                      if (Conditions.find(s.conditions, "Running")
                          .map(c -> "True".equals(c.getStatus()))
                          .orElse(false)) {
                        marks.putIfAbsent("admitted", now);
                      }
                      if (Conditions.find(s.conditions, "Ready")
                          .map(c -> "WaitingForSlot".equals(c.getReason()))
                          .orElse(false)) {
                        marks.putIfAbsent("waitingForSlot", now);
                      }
                      if (s.detachedMetadata != null) {
                        marks.putIfAbsent("metadataExported", now);
                      }
                      if (s.progress != null) {
                        marks.putIfAbsent("progress", now);
                      }
                      if (Conditions.isTrue(s.conditions, "Succeeded")) {
                        marks.putIfAbsent("succeeded", now);
                      }
                      if (Conditions.isTrue(s.conditions, "Failed")) {
                        marks.putIfAbsent("failed", now);
                      }
                    })));
    watches.add(
        client
            .resources(Host.class)
            .watch(
                watcher(
                    h -> {
                      long now = System.currentTimeMillis();
                      String name = h.getMetadata().getName();
                      boolean in =
                          h.getStatus() != null
                              && Conditions.isTrue(h.getStatus().getConditions(), "InMaintenance");
                      boolean was = hostInMaintenance.getOrDefault(name, false);
                      if (in && !was) {
                        hostInMaintenanceAt
                            .computeIfAbsent(name, k -> new CopyOnWriteArrayList<>())
                            .add(new long[] {now});
                      }
                      hostInMaintenance.put(name, in);
                    })));
    watches.add(
        client
            .resources(VirtualMachine.class)
            .inNamespace(NS)
            .watch(
                watcher(
                    vm -> {
                      long now = System.currentTimeMillis();
                      String name = vm.getMetadata().getName();
                      String host = vm.getStatus() == null ? null : vm.getStatus().hostName;
                      String before = vmHost.get(name);
                      if (host != null && !host.equals(before)) {
                        vmHost.put(name, host);
                        vmHostChanges
                            .computeIfAbsent(name, k -> new CopyOnWriteArrayList<>())
                            .add(new Object[] {now, host});
                      }
                    })));
  }

  private static <T> Watcher<T> watcher(java.util.function.Consumer<T> onEvent) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, T resource) {
        if (action != Action.DELETED) {
          onEvent.accept(resource);
        }
      }

      @Override
      public void onClose(WatcherException cause) {
        log("watch closed: " + cause);
      }
    };
  }

  // ---------------------------------------------------------------------------------------------
  // 1. Single migrations, alternating

  private void singleMigrations() throws Exception {
    int rounds = Integer.getInteger("bench.rounds", 8);
    long pause = Long.getLong("bench.pauseMillis", 1500);
    String op = OP_VMS.get(0);
    String bare = BARE.get(0);
    for (int i = 0; i < rounds; i++) {
      List<String> order = i % 2 == 0 ? List.of(bare, op) : List.of(op, bare);
      for (String guest : order) {
        String from = where.get(guest);
        String to = other(from);
        Map<String, Object> sample =
            OP_VMS.contains(guest)
                ? operatorMigration(guest, from, to, op + "-r" + i)
                : bareMigration(guest, from, to);
        sample.put("round", i);
        singles.add(sample);
        checkGuest(guest, to, sample);
        log(
            "round %d %-8s %-13s %s -> %s: %5d ms, downtime %s ms"
                .formatted(
                    i,
                    sample.get("kind"),
                    guest,
                    from,
                    to,
                    sample.get("wallMs"),
                    sample.get("downtimeMs")));
        sleep(pause);
      }
    }
  }

  private Map<String, Object> operatorMigration(String vm, String from, String to, String name) {
    var spec = new VirtualMachineMigrationSpec();
    spec.vmName = vm;
    spec.targetHostName = to;
    var migration = new VirtualMachineMigration();
    migration.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    migration.setSpec(spec);
    long start = System.currentTimeMillis();
    client.resource(migration).create();
    long created = System.currentTimeMillis();
    await(
        "migration " + name + " Succeeded",
        MIGRATION_TIMEOUT,
        () -> {
          var marks = migrationMarks.getOrDefault(name, Map.of());
          if (marks.containsKey("failed")) {
            throw new IllegalStateException(
                "migration "
                    + name
                    + " failed: "
                    + Serialization.asYaml(getMigration(name).getStatus()));
          }
          return marks.containsKey("succeeded");
        },
        5);
    long succeeded = migrationMarks.get(name).get("succeeded");
    Map<String, Object> sample = new LinkedHashMap<>();
    sample.put("kind", "operator");
    sample.put("guest", vm);
    sample.put("domain", domainOf(vm));
    sample.put("migration", name);
    sample.put("from", from);
    sample.put("to", to);
    sample.put("startMs", start);
    sample.put("endMs", succeeded);
    sample.put("wallMs", succeeded - start);
    sample.put("createCallMs", created - start);
    describeMigration(sample, getMigration(name), start);
    // Settled before the next one: the VM's status says where it runs.
    await("VM " + vm + " on " + to, Duration.ofSeconds(30), () -> to.equals(vmHost.get(vm)));
    sample.put("vmHostUpdatedAfterMs", lastHostChange(vm, to) - start);
    Map<String, String> job = Virsh.completedJob(uri(to), domainOf(vm));
    sample.put("destinationCompletedJob", job);
    where.put(vm, to);
    return sample;
  }

  /** The migration's status and what the watch saw, relative to {@code start}. */
  private void describeMigration(
      Map<String, Object> sample, VirtualMachineMigration m, long start) {
    var s = m.getStatus();
    sample.put("downtimeMs", s.downtimeMilliseconds);
    sample.put("libvirtElapsedMs", s.durationMilliseconds);
    sample.put("statusStartTime", s.startTime);
    sample.put("statusCompletionTime", s.completionTime);
    sample.put("creationTimestamp", m.getMetadata().getCreationTimestamp());
    Map<String, Long> seen = new LinkedHashMap<>();
    migrationMarks.getOrDefault(m.getMetadata().getName(), Map.of()).entrySet().stream()
        .sorted(Map.Entry.comparingByValue())
        .forEach(e -> seen.put(e.getKey(), e.getValue() - start));
    sample.put("watchSawAfterMs", seen);
    if (s.progress != null) {
      sample.put("dataProcessedBytes", s.progress.dataProcessedBytes);
      sample.put("memoryIterations", s.progress.memoryIteration);
    }
  }

  private long lastHostChange(String vm, String host) {
    return vmHostChanges.getOrDefault(vm, List.of()).stream()
        .filter(c -> host.equals(c[1]))
        .mapToLong(c -> (Long) c[0])
        .max()
        .orElse(-1);
  }

  private Map<String, Object> bareMigration(String guest, String from, String to) {
    prepareBare(guest, from);
    Virsh.Result r = migrateBare(guest, from, to);
    Map<String, Object> sample = bareSample(guest, from, to, r);
    where.put(guest, to);
    return sample;
  }

  /**
   * With {@code bench.bareMaxDowntimeMillis}, the bare guest gets the operator's starting downtime
   * allowance (QEMU keeps it for the next job), outside the timed part; by default virsh leaves
   * QEMU's own (300 ms).
   */
  private void prepareBare(String guest, String from) {
    String millis = System.getProperty("bench.bareMaxDowntimeMillis", "");
    if (!millis.isBlank()) {
      Virsh.run(uri(from), "migrate-setmaxdowntime", guest, millis.trim()).orThrow();
    }
  }

  /**
   * What the operator asks of libvirt, typed by hand: live, peer to peer, persistent on the
   * destination, undefined on the source, guest memory sent to tcp://[destination address].
   */
  private Virsh.Result migrateBare(String guest, String from, String to) {
    return Virsh.run(
            uri(from),
            "migrate",
            "--live",
            "--p2p",
            "--persistent",
            "--undefinesource",
            guest,
            uri(to),
            "--migrateuri",
            "tcp://" + ip(to))
        .orThrow();
  }

  private Map<String, Object> bareSample(String guest, String from, String to, Virsh.Result r) {
    Map<String, Object> sample = new LinkedHashMap<>();
    sample.put("kind", "bare");
    sample.put("guest", guest);
    sample.put("domain", guest);
    sample.put("from", from);
    sample.put("to", to);
    sample.put("startMs", r.startMs());
    sample.put("endMs", r.endMs());
    sample.put("wallMs", r.millis());
    Map<String, String> job = Virsh.completedJob(uri(to), guest);
    sample.put("downtimeMs", Virsh.millisOf(job, "Total downtime"));
    sample.put("libvirtElapsedMs", Virsh.millisOf(job, "Time elapsed"));
    sample.put("destinationCompletedJob", job);
    return sample;
  }

  // ---------------------------------------------------------------------------------------------
  // 2. Drains against parallel bare migrations

  private void drainRounds(int rounds, int perHost) throws Exception {
    for (int i = 0; i < rounds; i++) {
      for (String from : List.of(HOST_A, HOST_B)) {
        boolean bareFirst = (i + (HOST_A.equals(from) ? 0 : 1)) % 2 == 0;
        if (bareFirst) {
          parallelBare(from, perHost);
          sleep(2000);
          drain(from, perHost);
        } else {
          drain(from, perHost);
          sleep(2000);
          parallelBare(from, perHost);
        }
        sleep(2000);
      }
    }
  }

  private void parallelBare(String from, int perHostLimitOfDrainNext) throws Exception {
    String to = other(from);
    for (String guest : BARE) {
      if (!from.equals(where.get(guest))) {
        throw new IllegalStateException(guest + " is on " + where.get(guest) + ", not " + from);
      }
    }
    for (String guest : BARE) {
      prepareBare(guest, from);
    }
    ExecutorService pool = Executors.newFixedThreadPool(BARE.size());
    long start = System.currentTimeMillis();
    List<Future<Virsh.Result>> runs = new ArrayList<>();
    for (String guest : BARE) {
      runs.add(pool.submit(() -> migrateBare(guest, from, to)));
    }
    List<Map<String, Object>> each = new ArrayList<>();
    long end = start;
    for (int i = 0; i < BARE.size(); i++) {
      Virsh.Result r = runs.get(i).get(5, TimeUnit.MINUTES);
      end = Math.max(end, r.endMs());
      each.add(bareSample(BARE.get(i), from, to, r));
      where.put(BARE.get(i), to);
    }
    pool.shutdown();
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("from", from);
    p.put("to", to);
    p.put("startMs", start);
    p.put("wallMs", end - start);
    p.put("migrations", each);
    parallels.add(p);
    for (Map<String, Object> sample : each) {
      checkGuest((String) sample.get("guest"), to, sample);
    }
    log("4 bare migrations in parallel %s -> %s: %d ms".formatted(from, to, end - start));
  }

  private void drain(String host, int perHost) throws Exception {
    String to = other(host);
    for (String vm : OP_VMS) {
      if (!host.equals(where.get(vm))) {
        throw new IllegalStateException(vm + " is on " + where.get(vm) + ", not " + host);
      }
    }
    int before = hostInMaintenanceAt.getOrDefault(host, List.of()).size();
    long start = System.currentTimeMillis();
    Host edited = setMaintenance(host, true);
    long edit = System.currentTimeMillis();
    String generation = String.valueOf(edited.getMetadata().getGeneration());
    await(
        "host " + host + " InMaintenance",
        DRAIN_TIMEOUT,
        () -> hostInMaintenanceAt.getOrDefault(host, List.of()).size() > before,
        10);
    long inMaintenance = hostInMaintenanceAt.get(host).get(before)[0];
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("host", host);
    d.put("migrationsPerHost", perHost);
    d.put("startMs", start);
    d.put("wallMs", inMaintenance - start);
    d.put("editCallMs", edit - start);
    List<Map<String, Object>> migrations = new ArrayList<>();
    for (VirtualMachineMigration m :
        client.resources(VirtualMachineMigration.class).inNamespace(NS).list().getItems()) {
      var labels = m.getMetadata().getLabels();
      if (labels != null
          && host.equals(labels.get("bastida.io/drain-host"))
          && generation.equals(labels.get("bastida.io/drain-generation"))) {
        Map<String, Object> sample = new LinkedHashMap<>();
        sample.put("kind", "operator-drain");
        sample.put("guest", m.getSpec().vmName);
        sample.put("domain", domainOf(m.getSpec().vmName));
        sample.put("migration", m.getMetadata().getName());
        sample.put("from", host);
        sample.put("to", m.getStatus() == null ? null : m.getStatus().targetHostName);
        sample.put("startMs", start);
        sample.put(
            "endMs",
            migrationMarks
                .getOrDefault(m.getMetadata().getName(), Map.of())
                .getOrDefault("succeeded", inMaintenance));
        describeMigration(sample, m, start);
        sample.put("vmHostUpdatedAfterMs", lastHostChange(m.getSpec().vmName, to) - start);
        migrations.add(sample);
      }
    }
    migrations.sort(Comparator.comparing(s -> String.valueOf(s.get("guest"))));
    d.put("migrations", migrations);
    d.put(
        "lastVmHostUpdatedAfterMs",
        OP_VMS.stream().mapToLong(vm -> lastHostChange(vm, to) - start).max().orElse(-1));
    drains.add(d);
    log(
        "drain of %s (%d migrations per host): InMaintenance after %d ms"
            .formatted(host, perHost, inMaintenance - start));
    for (String vm : OP_VMS) {
      await("VM " + vm + " on " + to, Duration.ofSeconds(60), () -> to.equals(vmHost.get(vm)));
      where.put(vm, to);
    }
    for (Map<String, Object> sample : migrations) {
      checkGuest((String) sample.get("guest"), to, sample);
    }
    setMaintenance(host, false);
    await(
        "host " + host + " Schedulable",
        Duration.ofSeconds(60),
        () -> isTrue(client.resources(Host.class).withName(host).get(), "Schedulable"));
  }

  private Host setMaintenance(String host, boolean maintenance) {
    return client
        .resources(Host.class)
        .withName(host)
        .edit(
            h -> {
              h.getSpec().setMaintenance(maintenance);
              return h;
            });
  }

  // ---------------------------------------------------------------------------------------------
  // Afterwards: libvirt's events and the operator's log, matched to each migration

  /**
   * For each migration, the libvirt events of its domain inside its window: destination QEMU
   * started (the job is under way), switch-over on the source, guest resumed on the destination.
   */
  private void attachLibvirtTimes() {
    sleep(500);
    List<Virsh.Event> events = new ArrayList<>();
    eventLogs.values().forEach(l -> events.addAll(l.events()));
    eventLogs.values().forEach(Virsh.EventLog::close);
    List<Map<String, Object>> all = new ArrayList<>(singles);
    drains.forEach(d -> all.addAll((List<Map<String, Object>>) d.get("migrations")));
    parallels.forEach(p -> all.addAll((List<Map<String, Object>>) p.get("migrations")));
    for (Map<String, Object> s : all) {
      long start = (Long) s.get("startMs");
      long end = (Long) s.get("endMs") + 3000;
      String domain = (String) s.get("domain");
      String from = (String) s.get("from");
      String to = (String) s.get("to");
      Map<String, Long> at = new LinkedHashMap<>();
      for (Virsh.Event e : events) {
        if (!domain.equals(e.domain()) || e.epochMs() < start - 50 || e.epochMs() > end) {
          continue;
        }
        String key = null;
        if (e.host().equals(to)
            && e.type().equals("lifecycle")
            && e.detail().startsWith("Started")) {
          key = "destinationQemuStarted";
        } else if (e.host().equals(from)
            && e.type().equals("lifecycle")
            && e.detail().startsWith("Suspended")) {
          key = "sourceSuspended";
        } else if (e.host().equals(to)
            && e.type().equals("lifecycle")
            && e.detail().startsWith("Resumed")) {
          key = "destinationResumed";
        } else if (e.host().equals(from)
            && e.type().equals("lifecycle")
            && e.detail().startsWith("Stopped")) {
          key = "sourceStopped";
        } else if (e.host().equals(from)
            && e.type().equals("lifecycle")
            && e.detail().startsWith("Undefined")) {
          key = "sourceUndefined";
        } else if (e.host().equals(to)
            && e.type().equals("lifecycle")
            && e.detail().startsWith("Defined")) {
          key = "destinationDefined";
        }
        if (key != null) {
          at.putIfAbsent(key, e.epochMs() - start);
        }
      }
      s.put("libvirtEventsAfterMs", at);
      long total = (Long) s.get("endMs") - (Long) s.get("startMs");
      Long started = at.get("destinationQemuStarted");
      Long resumed = at.get("destinationResumed");
      Long stopped = at.get("sourceStopped");
      // start -> job under way -> guest runs on the target -> source QEMU gone -> done
      if (started != null) {
        s.put("toJobStartedMs", started);
      }
      if (resumed != null) {
        s.put("toGuestOnTargetMs", resumed);
      }
      if (started != null && resumed != null) {
        s.put("jobToGuestOnTargetMs", resumed - started);
      }
      if (resumed != null && stopped != null) {
        s.put("guestOnTargetToSourceGoneMs", stopped - resumed);
      }
      if (stopped != null) {
        s.put("toSourceGoneMs", stopped);
        s.put("sourceGoneToDoneMs", total - stopped);
      }
    }
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("events", events.size());
    List<String> unparsed = new ArrayList<>();
    eventLogs.values().forEach(l -> unparsed.addAll(l.unparsed()));
    info.put("unparsedLines", unparsed);
    result.put("libvirtEventLog", info);
  }

  private static final Pattern OPERATOR_LINE =
      Pattern.compile(
          "^(\\d\\d:\\d\\d:\\d\\d\\.\\d{3}) .*VirtualMachineMigration\\((?:[^/)]+/)?([^)]+)\\):"
              + " (moving|moved) ");
  private static final Pattern CONFLICT_LINE =
      Pattern.compile(
          "^(\\d\\d:\\d\\d:\\d\\d\\.\\d{3}) .*Conflict during reconciliation.*?"
              + "/(virtualmachinemigrations|virtualmachines|hosts|storagedomains)/([^/?]+)/status");

  private static long epochOf(String timeOfDay) {
    long at =
        LocalTime.parse(timeOfDay)
            .atDate(LocalDate.now())
            .atZone(ZoneId.systemDefault())
            .toInstant()
            .toEpochMilli();
    return at > System.currentTimeMillis() + 3_600_000L ? at - 86_400_000L : at;
  }

  /**
   * When the operator logged the admission and the success of each of its migrations, and the
   * status writes the API server refused with 409 Conflict (JOSDK retries those with backoff).
   */
  private void attachOperatorLogTimes() {
    Map<String, Map<String, Long>> logged = new LinkedHashMap<>();
    Map<String, List<Long>> conflicts = new LinkedHashMap<>();
    Map<String, Integer> conflictsByKind = new java.util.TreeMap<>();
    try {
      for (String line : Files.readAllLines(operatorLog)) {
        Matcher m = OPERATOR_LINE.matcher(line);
        if (m.find()) {
          logged
              .computeIfAbsent(m.group(2), k -> new LinkedHashMap<>())
              .putIfAbsent(m.group(3), epochOf(m.group(1)));
        }
        Matcher c = CONFLICT_LINE.matcher(line);
        if (c.find()) {
          conflictsByKind.merge(c.group(2), 1, Integer::sum);
          conflicts
              .computeIfAbsent(c.group(2) + "/" + c.group(3), k -> new ArrayList<>())
              .add(epochOf(c.group(1)));
        }
      }
    } catch (IOException e) {
      return;
    }
    result.put("operatorStatusConflicts (409, whole run)", conflictsByKind);
    List<Map<String, Object>> ops = new ArrayList<>();
    singles.stream().filter(s -> "operator".equals(s.get("kind"))).forEach(ops::add);
    drains.forEach(d -> ops.addAll((List<Map<String, Object>>) d.get("migrations")));
    for (Map<String, Object> s : ops) {
      long start = (Long) s.get("startMs");
      s.put(
          "statusConflictsAfterMs",
          conflicts
              .getOrDefault("virtualmachinemigrations/" + s.get("migration"), List.of())
              .stream()
              .map(t -> t - start)
              .toList());
      Map<String, Long> times = logged.get((String) s.get("migration"));
      if (times == null) {
        continue;
      }
      Map<String, Long> rel = new LinkedHashMap<>();
      if (times.containsKey("moving")) {
        rel.put("admittedLogged", times.get("moving") - start);
      }
      Map<String, Long> lv = (Map<String, Long>) s.get("libvirtEventsAfterMs");
      if (times.containsKey("moved")) {
        rel.put("succeededLogged", times.get("moved") - start);
        Map<String, Long> seen = (Map<String, Long>) s.get("watchSawAfterMs");
        if (seen != null && seen.containsKey("succeeded")) {
          s.put("succeededLoggedToSeenMs", seen.get("succeeded") - rel.get("succeededLogged"));
        }
        if (lv != null && lv.containsKey("sourceStopped")) {
          s.put(
              "sourceGoneToSucceededLoggedMs",
              rel.get("succeededLogged") - lv.get("sourceStopped"));
        }
      }
      s.put("operatorLogAfterMs", rel);
    }
    // Drains: conflicts on the drained Host's status while it drained.
    for (Map<String, Object> d : drains) {
      long start = (Long) d.get("startMs");
      long end = start + ((Number) d.get("wallMs")).longValue();
      d.put(
          "hostStatusConflictsAfterMs",
          conflicts.getOrDefault("hosts/" + d.get("host"), List.of()).stream()
              .filter(t -> t >= start - 1000 && t <= end + 1000)
              .map(t -> t - start)
              .toList());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clean-up

  private void cleanUp() {
    watches.forEach(Watch::close);
    if (client != null) {
      try {
        log("deleting the VirtualMachines");
        for (String host : List.of(HOST_A, HOST_B)) {
          if (client.resources(Host.class).withName(host).get() != null) {
            setMaintenance(host, false);
          }
        }
        client.resources(VirtualMachineMigration.class).inNamespace(NS).delete();
        client.resources(VirtualMachine.class).inNamespace(NS).delete();
        await(
            "VMs deleted",
            Duration.ofSeconds(120),
            () ->
                client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().isEmpty());
      } catch (RuntimeException e) {
        log("deleting the VMs failed: " + e.getMessage());
      }
    }
    // The bare guests and their images go before the StorageDomain, which refuses to go while its
    // export holds volumes.
    if (testbed != null) {
      log("removing the bare guests and their images");
      for (String host : List.of(HOST_A, HOST_B)) {
        for (String guest : BARE) {
          if (Virsh.run(uri(host), "domstate", guest).exit() == 0) {
            Virsh.run(uri(host), "destroy", guest);
            Virsh.run(uri(host), "undefine", guest);
          }
        }
      }
      for (String image : bareDisks) {
        try {
          Files.deleteIfExists(testbed.nfsDirectory().resolve(image));
        } catch (IOException e) {
          log("cannot delete " + image + ": " + e.getMessage());
        }
      }
    }
    if (client != null) {
      try {
        log("deleting the StorageDomain and the Hosts");
        client.resources(StorageDomain.class).withName(STORAGE).delete();
        await(
            "StorageDomain deleted",
            Duration.ofSeconds(90),
            () -> client.resources(StorageDomain.class).withName(STORAGE).get() == null);
        client.resources(Host.class).withName(HOST_A).delete();
        client.resources(Host.class).withName(HOST_B).delete();
        await(
            "Hosts deleted",
            Duration.ofSeconds(60),
            () -> client.resources(Host.class).list().getItems().isEmpty());
      } catch (RuntimeException e) {
        log("deleting the StorageDomain and Hosts failed: " + e.getMessage());
      }
    }
    if (operator != null) {
      operatorRuns
          .get(operatorRuns.size() - 1)
          .put("cpuSeconds", round(ProcessStats.cpuSeconds(operator.pid())));
      stop(operator);
    }
    if (testbed != null) {
      for (String host : List.of(HOST_A, HOST_B)) {
        for (String vm : OP_VMS) {
          if (Virsh.run(uri(host), "domstate", domainOf(vm)).exit() == 0) {
            log("the operator left domain " + domainOf(vm) + " on " + host + ": removing it");
            Virsh.run(uri(host), "destroy", domainOf(vm));
            Virsh.run(uri(host), "undefine", domainOf(vm));
          }
        }
      }
      try (var files = Files.list(testbed.nfsDirectory())) {
        List<String> left =
            files
                .map(f -> f.getFileName().toString())
                .filter(n -> n.startsWith(NS + "-") || n.startsWith("bench-bare-"))
                .toList();
        if (!left.isEmpty()) {
          log("images left on the export: " + left);
        }
        result.put("imagesLeftOnExport", left);
      } catch (IOException e) {
        // nothing to report
      }
    }
    if (client != null) {
      client.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Figures

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> migrationsOf(List<Map<String, Object>> groups) {
    return groups.stream()
        .flatMap(g -> ((List<Map<String, Object>>) g.get("migrations")).stream())
        .toList();
  }

  /** Per drain (or parallel group): the first or last of a field over its migrations. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> perGroup(
      List<Map<String, Object>> groups, String field, boolean last) {
    return statsOf(
        groups.stream()
            .map(
                g ->
                    ((List<Map<String, Object>>) g.get("migrations"))
                        .stream()
                            .map(m -> m.get(field) instanceof Number n ? n.longValue() : null)
                            .filter(Objects::nonNull)
                            .reduce(last ? Math::max : Math::min)
                            .orElse(null))
            .toList());
  }

  private Map<String, Object> summary() {
    Map<String, Object> s = new LinkedHashMap<>();
    List<Map<String, Object>> op =
        singles.stream().filter(x -> "operator".equals(x.get("kind"))).toList();
    List<Map<String, Object>> bare =
        singles.stream().filter(x -> "bare".equals(x.get("kind"))).toList();
    for (String field :
        List.of(
            "wallMs",
            "libvirtElapsedMs",
            "toJobStartedMs",
            "jobToGuestOnTargetMs",
            "toGuestOnTargetMs",
            "guestOnTargetToSourceGoneMs",
            "toSourceGoneMs",
            "sourceGoneToDoneMs",
            "downtimeMs")) {
      Map<String, Object> pair = new LinkedHashMap<>();
      pair.put("operator", stats(op, field));
      pair.put("bare", stats(bare, field));
      pair.put("ratioOfMedians", ratio(op, bare, field));
      s.put("single." + field, pair);
    }
    s.put(
        "single.operator.createToAdmittedSeenMs",
        statsOf(op.stream().map(x -> nested(x, "watchSawAfterMs", "admitted")).toList()));
    s.put(
        "single.operator.createToMetadataSavedSeenMs",
        statsOf(op.stream().map(x -> nested(x, "watchSawAfterMs", "metadataExported")).toList()));
    s.put(
        "single.operator.sourceGoneToSucceededLoggedMs",
        stats(op, "sourceGoneToSucceededLoggedMs"));
    s.put("single.operator.succeededLoggedToSeenMs", stats(op, "succeededLoggedToSeenMs"));

    int raised = Integer.getInteger("bench.drainPerHost", 4);
    Map<String, Object> bareParallel = new LinkedHashMap<>();
    bareParallel.put("wallMs", stats(parallels, "wallMs"));
    bareParallel.put("firstJobStartedMs", perGroup(parallels, "toJobStartedMs", false));
    bareParallel.put("lastGuestOnTargetMs", perGroup(parallels, "toGuestOnTargetMs", true));
    bareParallel.put("lastSourceGoneMs", perGroup(parallels, "toSourceGoneMs", true));
    s.put("bareParallel", bareParallel);
    for (int limit : new int[] {raised, 2}) {
      List<Map<String, Object>> d =
          drains.stream().filter(x -> Objects.equals(x.get("migrationsPerHost"), limit)).toList();
      Map<String, Object> drain = new LinkedHashMap<>();
      drain.put("wallMs", stats(d, "wallMs"));
      drain.put(
          "ratioOfMediansToBareParallel", ratioOf(stats(d, "wallMs"), stats(parallels, "wallMs")));
      drain.put(
          "migrationsCreatedSeenMs",
          statsOf(
              migrationsOf(d).stream().map(x -> nested(x, "watchSawAfterMs", "seen")).toList()));
      drain.put("firstJobStartedMs", perGroup(d, "toJobStartedMs", false));
      drain.put("lastGuestOnTargetMs", perGroup(d, "toGuestOnTargetMs", true));
      drain.put(
          "lastGuestOnTargetRatioToBareParallel",
          ratioOf(
              perGroup(d, "toGuestOnTargetMs", true),
              perGroup(parallels, "toGuestOnTargetMs", true)));
      drain.put("lastSourceGoneMs", perGroup(d, "toSourceGoneMs", true));
      drain.put(
          "lastSucceededSeenMs",
          statsOf(
              d.stream()
                  .map(
                      x ->
                          ((List<Map<String, Object>>) x.get("migrations"))
                              .stream()
                                  .map(m -> nested(m, "watchSawAfterMs", "succeeded"))
                                  .filter(Objects::nonNull)
                                  .max(Long::compare)
                                  .orElse(null))
                  .toList()));
      drain.put("lastVmHostUpdatedMs", stats(d, "lastVmHostUpdatedAfterMs"));
      drain.put(
          "lastVmHostUpdatedToInMaintenanceMs",
          statsOf(
              d.stream()
                  .map(
                      x ->
                          ((Number) x.get("wallMs")).longValue()
                              - ((Number) x.get("lastVmHostUpdatedAfterMs")).longValue())
                  .toList()));
      drain.put(
          "waitingForSlotToAdmittedMs",
          statsOf(
              migrationsOf(d).stream()
                  .map(
                      x -> {
                        Long w = nested(x, "watchSawAfterMs", "waitingForSlot");
                        Long a = nested(x, "watchSawAfterMs", "admitted");
                        return w == null || a == null ? null : a - w;
                      })
                  .toList()));
      drain.put(
          "statusConflictToJobStartMs",
          statsOf(
              migrationsOf(d).stream()
                  .map(
                      x -> {
                        List<?> c = (List<?>) x.get("statusConflictsAfterMs");
                        Long job =
                            x.get("toJobStartedMs") instanceof Number n ? n.longValue() : null;
                        return c == null || c.isEmpty() || job == null
                            ? null
                            : job - ((Number) c.get(0)).longValue();
                      })
                  .toList()));
      drain.put("migrations", migrationsOf(d).size());
      s.put("drain" + limit + "PerHost", drain);
    }

    List<Map<String, Object>> drainMigrations = migrationsOf(drains);
    List<Map<String, Object>> parallelMigrations = migrationsOf(parallels);
    List<Map<String, Object>> allOp = new ArrayList<>(op);
    allOp.addAll(drainMigrations);
    List<Map<String, Object>> allBare = new ArrayList<>(bare);
    allBare.addAll(parallelMigrations);
    Map<String, Object> downtime = new LinkedHashMap<>();
    downtime.put("operatorSingle", stats(op, "downtimeMs"));
    downtime.put("bareSingle", stats(bare, "downtimeMs"));
    downtime.put("operatorDrains", stats(drainMigrations, "downtimeMs"));
    downtime.put("bareParallel", stats(parallelMigrations, "downtimeMs"));
    downtime.put("operatorAll", stats(allOp, "downtimeMs"));
    downtime.put("bareAll", stats(allBare, "downtimeMs"));
    s.put("downtimeMs", downtime);
    return s;
  }

  private static Long nested(Map<String, Object> x, String map, String key) {
    Object m = x.get(map);
    return m instanceof Map<?, ?> mm && mm.get(key) instanceof Number n ? n.longValue() : null;
  }

  private static Map<String, Object> stats(List<Map<String, Object>> samples, String field) {
    return statsOf(
        samples.stream()
            .map(x -> x.get(field) instanceof Number n ? n.longValue() : null)
            .toList());
  }

  private static Map<String, Object> statsOf(List<Long> values) {
    List<Long> sorted = values.stream().filter(Objects::nonNull).sorted().toList();
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("n", sorted.size());
    if (!sorted.isEmpty()) {
      p.put("median", median(sorted));
      p.put("p95", sorted.get(Math.max(0, (int) Math.ceil(0.95 * sorted.size()) - 1)));
      p.put("min", sorted.get(0));
      p.put("max", sorted.get(sorted.size() - 1));
      p.put("all", sorted);
    }
    return p;
  }

  private static double median(List<Long> sorted) {
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2.0;
  }

  private static Double ratio(
      List<Map<String, Object>> a, List<Map<String, Object>> b, String field) {
    return ratioOf(stats(a, field), stats(b, field));
  }

  private static Double ratioOf(Map<String, Object> a, Map<String, Object> b) {
    if (!(a.get("median") instanceof Number x)
        || !(b.get("median") instanceof Number y)
        || y.doubleValue() == 0) {
      return null;
    }
    return Math.round(1000 * x.doubleValue() / y.doubleValue()) / 1000.0;
  }

  @SuppressWarnings("unchecked")
  private void printTable(Path out) {
    var s = (Map<String, Object>) result.get("summary");
    int raised = Integer.getInteger("bench.drainPerHost", 4);
    java.util.function.Function<String, Map<String, Object>> single =
        f -> (Map<String, Object>) s.getOrDefault("single." + f, Map.of());
    var d4 = (Map<String, Object>) s.getOrDefault("drain" + raised + "PerHost", Map.of());
    var d2 = (Map<String, Object>) s.getOrDefault("drain2PerHost", Map.of());
    var bp = (Map<String, Object>) s.getOrDefault("bareParallel", Map.of());
    var dt = (Map<String, Object>) s.getOrDefault("downtimeMs", Map.of());
    List<String> rows = new ArrayList<>();
    rows.add("");
    rows.add(
        "Live migration, operator vs bare virsh: idle 128 MiB TCG guests, "
            + HOST_A
            + " <-> "
            + HOST_B
            + " over qemu+tcp, NFS disk. Times in ms, median / p95 (nearest rank: the max"
            + " when n < 20) (n).");
    rows.add(header());
    rows.add(pairLine("1. single migration, wall", single.apply("wallMs"), "", 1.2));
    rows.add(
        pairLine(
            "   start -> job under way",
            single.apply("toJobStartedMs"),
            "dest 'Started Migrated'",
            null));
    rows.add(
        pairLine(
            "   job -> guest runs on target",
            single.apply("jobToGuestOnTargetMs"),
            "dest 'Resumed Migrated'",
            null));
    rows.add(
        pairLine(
            "   = start -> guest runs on target", single.apply("toGuestOnTargetMs"), "", null));
    rows.add(
        pairLine(
            "   guest on target -> source QEMU gone",
            single.apply("guestOnTargetToSourceGoneMs"),
            "source 'Stopped Migrated'",
            null));
    rows.add(
        pairLine(
            "   source gone -> done",
            single.apply("sourceGoneToDoneMs"),
            "watch saw Succeeded / virsh exited",
            null));
    rows.add(
        pairLine(
            "   libvirt time_elapsed", single.apply("libvirtElapsedMs"), "completed job", null));
    rows.add(
        line(
            "   op: create -> Running seen",
            s.get("single.operator.createToAdmittedSeenMs"),
            null,
            "1st status write (admitted)"));
    rows.add(
        line(
            "   op: create -> metadata saved seen",
            s.get("single.operator.createToMetadataSavedSeenMs"),
            null,
            "2nd status write; the job starts after it"));
    rows.add(
        line(
            "   op: source gone -> 'moved' logged",
            s.get("single.operator.sourceGoneToSucceededLoggedMs"),
            null,
            "job end noticed, target checked, stats read"));
    rows.add(
        line(
            "   op: 'moved' logged -> seen",
            s.get("single.operator.succeededLoggedToSeenMs"),
            null,
            "status write + watch delivery"));
    rows.add(
        line(
            "2. drain of 4 VMs, " + raised + "/host",
            d4.get("wallMs"),
            bp.get("wallMs"),
            ratioText(d4.get("ratioOfMediansToBareParallel"), 1.3)
                + "; bare = 4 parallel virsh, first start -> last exit"));
    drainRows(rows, d4, bp);
    rows.add(
        line(
            "   drain of 4 VMs, default 2/host",
            d2.get("wallMs"),
            bp.get("wallMs"),
            ratioText(d2.get("ratioOfMediansToBareParallel"), null)));
    drainRows(rows, d2, bp);
    rows.add(
        line(
            "     waiting for a slot -> admitted",
            d2.get("waitingForSlotToAdmittedMs"),
            null,
            "the 2nd wave"));
    rows.add(
        line(
            "3. downtime, single",
            dt.get("operatorSingle"),
            dt.get("bareSingle"),
            "goal p95 <= 150: "
                + goal(dt.get("operatorSingle"), 150)
                + "; status.downtimeMilliseconds / domjobinfo Total downtime"));
    rows.add(
        line(
            "   downtime, during drains / parallel",
            dt.get("operatorDrains"),
            dt.get("bareParallel"),
            "4 migrations at once on 2 cores"));
    rows.add(
        line(
            "   downtime, all",
            dt.get("operatorAll"),
            dt.get("bareAll"),
            "goal p95 <= 150: " + goal(dt.get("operatorAll"), 150)));
    rows.add(guestIncidentsText());
    rows.add(
        "bare guests' downtime allowance: "
            + result.get("bareMaxDowntimeMillis")
            + " (the operator starts at 100 ms)");
    rows.add(
        "operator status writes refused with 409: "
            + result.get("operatorStatusConflicts (409, whole run)"));
    rows.add(
        "machine busy before start: "
            + result.get("machineBusyPercentBeforeStart")
            + " %; phases: "
            + result.get("phases"));
    rows.add(
        "set-up (s after start): "
            + result.get("setUpSecondsAfterStart")
            + "; total "
            + result.get("totalSeconds")
            + " s; JSON "
            + out);
    System.out.println(String.join("\n", rows));
  }

  /** How many migrated guests did not answer with their boot id afterwards (crashed, rebooted). */
  private String guestIncidentsText() {
    List<Map<String, Object>> all = new ArrayList<>(singles);
    all.addAll(migrationsOf(drains));
    all.addAll(migrationsOf(parallels));
    long opChecked =
        all.stream()
            .filter(m -> !"bare".equals(m.get("kind")) && m.containsKey("guestSurvived"))
            .count();
    long bareChecked =
        all.stream()
            .filter(m -> "bare".equals(m.get("kind")) && m.containsKey("guestSurvived"))
            .count();
    long opLost = guestIncidents.stream().filter(i -> !"bare".equals(i.get("kind"))).count();
    long bareLost = guestIncidents.stream().filter(i -> "bare".equals(i.get("kind"))).count();
    return "guests that did not survive a migration (same boot_id over HTTP afterwards): operator %d of %d, bare %d of %d%s"
        .formatted(
            opLost,
            opChecked,
            bareLost,
            bareChecked,
            guestIncidents.isEmpty()
                ? ""
                : guestIncidents.stream()
                    .map(
                        i ->
                            i.get("guest")
                                + " ("
                                + i.get("kind")
                                + ", to "
                                + i.get("to")
                                + ": "
                                + i.get("domainState")
                                + ")")
                    .collect(java.util.stream.Collectors.joining(", ", ": ", "")));
  }

  private static void drainRows(
      List<String> rows, Map<String, Object> d, Map<String, Object> bare) {
    rows.add(
        line(
            "     migrations created, seen", d.get("migrationsCreatedSeenMs"), null, "Host drain"));
    rows.add(
        line(
            "     first job under way",
            d.get("firstJobStartedMs"),
            bare.get("firstJobStartedMs"),
            "dest 'Started Migrated'"));
    rows.add(
        line(
            "     last guest runs on target",
            d.get("lastGuestOnTargetMs"),
            bare.get("lastGuestOnTargetMs"),
            ratioText(d.get("lastGuestOnTargetRatioToBareParallel"), null)));
    rows.add(
        line(
            "     last source QEMU gone",
            d.get("lastSourceGoneMs"),
            bare.get("lastSourceGoneMs"),
            "bare: virsh exits here"));
    rows.add(
        line(
            "     migration status 409 -> job start",
            d.get("statusConflictToJobStartMs"),
            null,
            "migrations whose status write was refused (n of "
                + d.get("migrations")
                + "); JOSDK retries after >= 2 s"));
    rows.add(line("     last Succeeded seen", d.get("lastSucceededSeenMs"), null, ""));
    rows.add(
        line(
            "     last VM status.hostName seen",
            d.get("lastVmHostUpdatedMs"),
            null,
            "then InMaintenance after " + cell(d.get("lastVmHostUpdatedToInMaintenanceMs"))));
  }

  private static String pairLine(String name, Map<String, Object> pair, String note, Double goal) {
    Object ratio = pair.get("ratioOfMedians");
    String r =
        goal != null
            ? ratioText(ratio, goal)
            : ratio == null ? "" : "ratio %.2f".formatted(((Number) ratio).doubleValue());
    return line(
        name,
        pair.get("operator"),
        pair.get("bare"),
        note.isEmpty() ? r : r.isEmpty() ? note : r + "; " + note);
  }

  private static String header() {
    return "%-38s %-22s %-22s %s"
        .formatted("figure", "operator", "bare virsh", "ratio / goal / how");
  }

  @SuppressWarnings("unchecked")
  private static String line(String name, Object op, Object bare, String note) {
    return "%-38s %-22s %-22s %s".formatted(name, cell(op), cell(bare), note);
  }

  private static String cell(Object stats) {
    if (!(stats instanceof Map<?, ?> m) || !(m.get("median") instanceof Number)) {
      return stats == null ? "" : "-";
    }
    double median = ((Number) m.get("median")).doubleValue();
    return "%s / %s (n=%s)"
        .formatted(
            median == Math.rint(median) ? String.valueOf((long) median) : String.valueOf(median),
            m.get("p95"),
            m.get("n"));
  }

  private static String ratioText(Object ratio, Double goal) {
    if (ratio == null) {
      return "ratio -";
    }
    double r = ((Number) ratio).doubleValue();
    return goal == null
        ? "ratio %.2f".formatted(r)
        : "ratio %.2f, goal <= %.1f: %s".formatted(r, goal, r <= goal ? "met" : "MISSED");
  }

  private static String goal(Object stats, long max) {
    if (!(stats instanceof Map<?, ?> m) || !(m.get("p95") instanceof Number p95)) {
      return "-";
    }
    return p95.longValue() <= max ? "met" : "MISSED";
  }

  // ---------------------------------------------------------------------------------------------

  private VirtualMachine getVm(String name) {
    return client.resources(VirtualMachine.class).inNamespace(NS).withName(name).get();
  }

  private VirtualMachineMigration getMigration(String name) {
    return client.resources(VirtualMachineMigration.class).inNamespace(NS).withName(name).get();
  }

  private static boolean isTrue(CustomResource<?, ? extends WithConditions> r, String type) {
    return Resources.condition(r, type).map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  private static void await(String what, Duration timeout, BooleanSupplier until) {
    await(what, timeout, until, 200);
  }

  private static void await(String what, Duration timeout, BooleanSupplier until, long pollMillis) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!until.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "timed out after " + timeout.toSeconds() + " s waiting for " + what);
      }
      sleep(pollMillis);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static double round(double value) {
    return Math.round(value * 100) / 100.0;
  }

  private static void log(String message) {
    System.out.println("[bench] " + message);
    System.out.flush();
  }
}
