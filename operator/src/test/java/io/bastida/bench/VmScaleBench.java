package io.bastida.bench;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.it.Resources;
import io.bastida.it.TestCluster;
import io.bastida.operator.OperatorSettings;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scale benchmark of the VirtualMachine reconciler (run by {@code bench/vm-scale.sh}, never by the
 * test suite): N VMs over H hosts on libvirt's test driver, against the real API server of {@link
 * TestCluster}, with the operator as a separate JVM ({@code bastida-operator.jar}) so that its CPU
 * and memory are its own. libvirt's test driver runs inside its client library, so the hosts' work
 * is counted as the operator's.
 *
 * <p>Arguments: {@code VMS HOSTS}. System properties: {@code bench.operatorJar} (required), {@code
 * bench.out} (JSON), {@code bench.operatorLog}, {@code bench.operatorJvmOpts}, {@code bench.jfr} (a
 * .jfr path: record the operator with JFR), {@code bench.threadDumps} (a path: a thread dump of the
 * operator every 5 s while converging), {@code bench.idleSeconds} (30), {@code bench.settleSeconds}
 * (5), {@code bench.timeoutSeconds} (300), {@code bench.createThreads} (8), {@code
 * bench.quietWaitSeconds} (300: how long to wait for other work on the machine to calm down).
 */
public final class VmScaleBench {
  private static final String NS = "bench";
  private static final String STORAGE = "bench-local";
  private static final String SERVER_LATENCY =
      "readyLatencySecondsServer (creationTimestamp -> Ready.lastTransitionTime, 1 s resolution)";
  private static final String CLIENT_LATENCY =
      "readyLatencySecondsClient (create returned -> watch saw Ready=True)";
  private static final String OTHERS =
      "otherProcessesCpuSeconds (machine minus operator, API server, etcd and benchmark)";
  private static final String API_LATENCY = "apiserverMeanLatencyMillis (server side, all clients)";

  private final int vmCount;
  private final int hostCount;
  private final Map<String, Object> result = new LinkedHashMap<>();
  private final Map<String, Long> createdAt = new ConcurrentHashMap<>();
  private final Map<String, Long> readyAt = new ConcurrentHashMap<>();
  private final Map<String, Long> ownRequests = new ConcurrentHashMap<>();
  private final List<Map<String, Object>> timeline = new ArrayList<>();
  private final Map<String, Object> clock = new LinkedHashMap<>();
  private KubernetesClient client;
  private Process operator;
  private ProcessStats.HeapSampler heap;
  private long t0;

  private VmScaleBench(int vmCount, int hostCount) {
    this.vmCount = vmCount;
    this.hostCount = hostCount;
  }

  public static void main(String[] args) throws Exception {
    int vms = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int hosts = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    int exit = 1;
    try {
      exit = new VmScaleBench(vms, hosts).run() ? 0 : 2;
    } finally {
      System.exit(exit); // shutdown hooks stop the API server and etcd
    }
  }

  private boolean run() throws Exception {
    Path out = Path.of(System.getProperty("bench.out", "vm-scale.json"));
    result.put("vms", vmCount);
    result.put("hosts", hostCount);
    result.put("startedAt", Instant.now().toString());
    result.put("cpus", Runtime.getRuntime().availableProcessors());
    boolean converged = false;
    try {
      waitForQuietMachine(Integer.getInteger("bench.quietWaitSeconds", 300));
      log("starting the API server (kube-api-test) and installing the CRDs");
      TestCluster cluster = TestCluster.get();
      client = cluster.newClient();
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
          .serverSideApply();
      startOperator(cluster.kubeconfig());
      createHostsAndStorage();
      heap = new ProcessStats.HeapSampler(operator.pid(), 250);
      Thread.sleep(2000); // let host and storage status writes settle
      converged = createVmsAndWait();
      if (converged) {
        idleWindow();
      }
      liveHeap();
    } finally {
      cleanUp();
      result.put("converged", converged);
      result.put("clock", clock);
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(
          out,
          Serialization.jsonMapper().writerWithDefaultPrettyPrinter().writeValueAsString(result));
      printTable(out);
    }
    return converged;
  }

  /**
   * Figures measured while other processes load this small machine mean little: wait (a while) for
   * the machine to be mostly idle, and record how busy it was.
   */
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
      Thread.sleep(7000);
    } while (System.nanoTime() < deadline);
    result.put("machineBusyPercentBeforeStart", Math.round(100 * busy));
  }

  // ----------------------------------------------------------------------------------------------

  private void startOperator(Path kubeconfig) throws IOException {
    Path jar = Path.of(System.getProperty("bench.operatorJar"));
    List<String> command = new ArrayList<>();
    command.add(ProcessStats.jdkTool("java").toString());
    String jvmOpts = System.getProperty("bench.operatorJvmOpts", "-Xmx384m -XX:+UseSerialGC");
    command.addAll(Arrays.stream(jvmOpts.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList());
    command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    command.add("-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS");
    String jfr = System.getProperty("bench.jfr");
    if (jfr != null && !jfr.isEmpty()) {
      command.add("-XX:StartFlightRecording=filename=" + jfr + ",settings=profile,dumponexit=true");
    }
    command.add("-jar");
    command.add(jar.toString());
    ProcessBuilder builder = new ProcessBuilder(command);
    Map<String, String> env = builder.environment();
    env.put("KUBECONFIG", kubeconfig.toString());
    env.put("BASTIDA_LEADER_ELECTION", "false");
    env.put("BASTIDA_HEALTH_PORT", "0");
    env.put("BASTIDA_NAMESPACE", TestCluster.OPERATOR_NAMESPACE);
    Path logFile = Path.of(System.getProperty("bench.operatorLog", "operator.log"));
    builder.redirectErrorStream(true).redirectOutput(logFile.toFile());
    OperatorSettings settings = OperatorSettings.fromEnvironment(env);
    Map<String, Object> operatorInfo = new LinkedHashMap<>();
    operatorInfo.put("jvmOptions", jvmOpts);
    operatorInfo.put("vmRecheckSeconds", settings.vmRecheckInterval().toSeconds());
    operatorInfo.put("hostRecheckSeconds", settings.hostRecheckInterval().toSeconds());
    operatorInfo.put("hostHeartbeatSeconds", settings.hostHeartbeatInterval().toSeconds());
    operatorInfo.put("storageRecheckSeconds", settings.storageRecheckInterval().toSeconds());
    operatorInfo.put("log", logFile.toString());
    result.put("operator", operatorInfo);
    operator = builder.start();
    Runtime.getRuntime().addShutdownHook(new Thread(this::stopOperator));
    log("operator started as pid " + operator.pid() + " (" + String.join(" ", command) + ")");
    log("operator log: " + logFile);
  }

  private void createHostsAndStorage() throws IOException {
    Path nodes = Files.createTempDirectory("bastida-bench-nodes-");
    nodes.toFile().deleteOnExit();
    for (int i = 0; i < hostCount; i++) {
      Path node = nodes.resolve("node-" + i + ".xml");
      Files.writeString(node, testDriverNode(128, 512L * 1024 * 1024));
      node.toFile().deleteOnExit();
      client.resource(Resources.host(hostName(i), "test://" + node)).create();
    }
    client.resource(Resources.localDomain(STORAGE, "/var/lib/bastida-bench/vms")).create();
    long start = System.nanoTime();
    for (int i = 0; i < hostCount; i++) {
      String name = hostName(i);
      Resources.awaitCondition(
          () -> client.resources(Host.class).withName(name).get(),
          "Ready",
          Resources.status("True"));
    }
    Resources.awaitCondition(
        () -> client.resources(StorageDomain.class).withName(STORAGE).get(),
        "Ready",
        Resources.status("True"));
    log(
        hostCount
            + " hosts (128 CPUs, 512 GiB each) and StorageDomain "
            + STORAGE
            + " Ready after "
            + seconds(System.nanoTime() - start)
            + " s");
  }

  private static String hostName(int i) {
    return "bench-host-%02d".formatted(i);
  }

  /** A libvirt test-driver node definition: each file opened is an independent "host". */
  private static String testDriverNode(int cpus, long memoryKiB) {
    return """
        <node>
          <cpu>
            <nodes>1</nodes><sockets>1</sockets><cores>%d</cores><threads>1</threads>
            <active>%d</active><mhz>2400</mhz><model>x86_64</model>
          </cpu>
          <memory>%d</memory>
        </node>
        """
        .formatted(cpus, cpus, memoryKiB);
  }

  private static VirtualMachine vm(String name) {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "128Mi";
    var disk = new VirtualMachineSpec.Disk();
    disk.name = "root";
    disk.blank = new VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = STORAGE;
    disk.blank.size = "1Gi";
    spec.disks = new ArrayList<>(List.of(disk));
    var nic = new VirtualMachineSpec.NetworkInterface();
    nic.name = "lan";
    nic.bridge = "br0";
    spec.interfaces = new ArrayList<>(List.of(nic));
    spec.terminationGracePeriodSeconds = 5;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    vm.setSpec(spec);
    return vm;
  }

  private static String vmName(int i) {
    return "vm-%04d".formatted(i);
  }

  // ----------------------------------------------------------------------------------------------

  private record Snapshot(
      long nanos,
      ApiRequestCounts requests,
      double operatorCpu,
      double apiserverCpu,
      double etcdCpu,
      double benchCpu,
      double machineBusy) {}

  private Snapshot snapshot() {
    var requests = ApiRequestCounts.parse(client.raw("/metrics"));
    return new Snapshot(
        System.nanoTime(),
        requests,
        ProcessStats.cpuSeconds(operator.pid()),
        descendantCpu("kube-apiserver"),
        descendantCpu("etcd"),
        ProcessStats.cpuSeconds(ProcessHandle.current().pid()),
        ProcessStats.machineBusySeconds());
  }

  private static double descendantCpu(String command) {
    return ProcessHandle.current()
        .descendants()
        .filter(p -> p.info().command().map(c -> c.endsWith("/" + command)).orElse(false))
        .mapToDouble(p -> ProcessStats.cpuSeconds(p.pid()))
        .sum();
  }

  private Map<String, Object> window(Snapshot from, Snapshot to, boolean subtractOwn) {
    ApiRequestCounts all = to.requests().since(from.requests());
    ApiRequestCounts operatorRequests = subtractOwn ? all.minus(ownRequests) : all;
    Map<String, Object> w = new LinkedHashMap<>();
    w.put("seconds", seconds(to.nanos() - from.nanos()));
    w.put("operatorCpuSeconds", round(to.operatorCpu() - from.operatorCpu()));
    w.put("apiserverCpuSeconds", round(to.apiserverCpu() - from.apiserverCpu()));
    w.put("etcdCpuSeconds", round(to.etcdCpu() - from.etcdCpu()));
    w.put("benchDriverCpuSeconds", round(to.benchCpu() - from.benchCpu()));
    double machine = to.machineBusy() - from.machineBusy();
    w.put("machineBusyCpuSeconds", round(machine));
    w.put(
        OTHERS,
        round(
            machine
                - (to.operatorCpu() - from.operatorCpu())
                - (to.apiserverCpu() - from.apiserverCpu())
                - (to.etcdCpu() - from.etcdCpu())
                - (to.benchCpu() - from.benchCpu())));
    w.put("operatorRequests", operatorRequests.bastidaAndEvents());
    w.put("operatorVmStatusWrites", operatorRequests.vmStatusWrites());
    w.put("operatorEventsCreated", operatorRequests.matching("POST events"));
    w.put("operatorRequestsByVerbResourceCode", operatorRequests.counts);
    w.put(API_LATENCY, all.meanLatencyMillis());
    if (subtractOwn) {
      w.put("benchOwnRequests", new TreeMap<>(ownRequests));
    }
    return w;
  }

  private void countOwn(String verbAndResource) {
    ownRequests.merge(verbAndResource, 1L, Long::sum);
  }

  private boolean createVmsAndWait() throws Exception {
    int timeoutSeconds = Integer.getInteger("bench.timeoutSeconds", 300);
    int threads = Integer.getInteger("bench.createThreads", 8);
    String dumps = System.getProperty("bench.threadDumps");
    AtomicInteger created = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicLong lastCreated = new AtomicLong();

    Watch watch =
        client
            .resources(VirtualMachine.class)
            .inNamespace(NS)
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, VirtualMachine vm) {
                    if (isReady(vm)) {
                      readyAt.putIfAbsent(vm.getMetadata().getName(), System.nanoTime());
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {
                    log("watch closed: " + cause.getMessage());
                  }
                });
    countOwn("WATCH virtualmachines");

    Snapshot before = snapshot();
    double peakHeapBefore = heap.peakUsedMiB();
    log("creating " + vmCount + " VirtualMachines with " + threads + " client threads");
    t0 = System.nanoTime();
    clock.put("firstCreate", Instant.now().toString());
    ExecutorService creators = Executors.newFixedThreadPool(threads);
    for (int i = 0; i < vmCount; i++) {
      String name = vmName(i);
      creators.submit(
          () -> {
            for (int attempt = 1; ; attempt++) {
              try {
                countOwn("POST virtualmachines");
                client.resource(vm(name)).create();
                long now = System.nanoTime();
                createdAt.put(name, now);
                lastCreated.accumulateAndGet(now, Math::max);
                created.incrementAndGet();
                return;
              } catch (RuntimeException e) {
                if (attempt == 3) {
                  failed.incrementAndGet();
                  log("create " + name + " failed: " + e.getMessage());
                  return;
                }
              }
            }
          });
    }
    creators.shutdown();

    long deadline = t0 + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    long nextReport = t0;
    long nextDump = t0;
    long nextList = t0 + TimeUnit.SECONDS.toNanos(10);
    boolean allReady = false;
    while (System.nanoTime() < deadline) {
      Thread.sleep(500);
      long now = System.nanoTime();
      if (dumps != null && !dumps.isEmpty() && now >= nextDump) {
        Files.writeString(
            Path.of(dumps),
            "=== t="
                + seconds(now - t0)
                + " s\n"
                + ProcessStats.run("jcmd", "" + operator.pid(), "Thread.print"),
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
        nextDump = now + TimeUnit.SECONDS.toNanos(5);
      }
      if (now >= nextReport) {
        Map<String, Object> point = new LinkedHashMap<>();
        point.put("t", seconds(now - t0));
        point.put("created", created.get());
        point.put("ready", readyAt.size());
        point.put(
            "operatorCpuSeconds",
            round(ProcessStats.cpuSeconds(operator.pid()) - before.operatorCpu()));
        point.put("operatorHeapUsedMiB", round(heap.lastUsedMiB()));
        timeline.add(point);
        log(
            "t=%5.1fs created %4d ready %4d operator CPU %6.1fs heap %5.0f MiB"
                .formatted(
                    seconds(now - t0),
                    created.get(),
                    readyAt.size(),
                    ProcessStats.cpuSeconds(operator.pid()) - before.operatorCpu(),
                    heap.lastUsedMiB()));
        nextReport = now + TimeUnit.SECONDS.toNanos(5);
      }
      if (creators.isTerminated() && readyAt.size() + failed.get() >= vmCount) {
        allReady = readyAt.size() >= vmCount;
        break;
      }
      // The watch is the clock; a list every 10 s is the safety net should it miss something.
      if (now >= nextList) {
        nextList = now + TimeUnit.SECONDS.toNanos(10);
        for (VirtualMachine vm : listVms()) {
          if (isReady(vm)) {
            readyAt.putIfAbsent(vm.getMetadata().getName(), now);
          }
        }
      }
    }
    Snapshot converged = snapshot();
    clock.put("converged", Instant.now().toString());
    watch.close();
    creators.shutdownNow();

    long lastReady = readyAt.values().stream().mapToLong(Long::longValue).max().orElse(t0);
    Map<String, Object> convergence = new LinkedHashMap<>();
    convergence.put("allReady", allReady);
    convergence.put("createFailures", failed.get());
    convergence.put("secondsToCreateAll", seconds(lastCreated.get() - t0));
    convergence.put("secondsToAllReady", allReady ? seconds(lastReady - t0) : null);
    convergence.put("readyAtEnd", readyAt.size());

    // Latency per VM: server timestamps (1 s resolution) and the benchmark's own clock (ms).
    List<VirtualMachine> vms = listVms();
    List<Double> serverLatency = new ArrayList<>();
    Map<String, Integer> perHost = new TreeMap<>();
    Map<String, Integer> notReadyReasons = new TreeMap<>();
    for (VirtualMachine vm : vms) {
      Optional<Condition> ready = readyCondition(vm);
      if (ready.isPresent() && "True".equals(ready.get().getStatus())) {
        serverLatency.add(
            (double)
                Duration.between(
                        Instant.parse(vm.getMetadata().getCreationTimestamp()),
                        Instant.parse(ready.get().getLastTransitionTime()))
                    .toSeconds());
      } else {
        notReadyReasons.merge(
            ready.map(Condition::getReason).orElse("(no status)"), 1, Integer::sum);
      }
      String host = vm.getStatus() == null ? null : vm.getStatus().hostName;
      perHost.merge(host == null ? "(unplaced)" : host, 1, Integer::sum);
    }
    List<Double> clientLatency = new ArrayList<>();
    readyAt.forEach(
        (name, at) -> {
          Long createdNanos = createdAt.get(name);
          if (createdNanos != null) {
            clientLatency.add(Math.max(0, at - createdNanos) / 1e9);
          }
        });
    convergence.put(SERVER_LATENCY, percentiles(serverLatency));
    convergence.put(CLIENT_LATENCY, percentiles(clientLatency));
    convergence.put("vmsPerHost", perHost);
    convergence.put("notReadyByReason", notReadyReasons);
    Map<String, Object> w = window(before, converged, true);
    convergence.putAll(w);
    convergence.put(
        "operatorRequestsPerVm",
        round(((Number) w.get("operatorRequests")).doubleValue() / vmCount));
    convergence.put(
        "operatorVmStatusWritesPerVm",
        round(((Number) w.get("operatorVmStatusWrites")).doubleValue() / vmCount));
    convergence.put(
        "operatorEventsPerVm",
        round(((Number) w.get("operatorEventsCreated")).doubleValue() / vmCount));
    convergence.put("operatorPeakHeapUsedMiBBefore", round(peakHeapBefore));
    convergence.put("operatorPeakHeapUsedMiB", round(heap.peakUsedMiB()));
    convergence.put("operatorPeakHeapCommittedMiB", round(heap.peakCommittedMiB()));
    convergence.put("operatorGcSecondsTotal", round(heap.gcSeconds()));
    convergence.put("operatorYoungGcs", heap.youngGcs());
    convergence.put("operatorFullGcs", heap.fullGcs());
    convergence.put("operatorThreads", ProcessStats.status(operator.pid(), "Threads"));
    convergence.put("timeline", timeline);
    result.put("convergence", convergence);
    return allReady;
  }

  private List<VirtualMachine> listVms() {
    countOwn("LIST virtualmachines");
    return client.resources(VirtualMachine.class).inNamespace(NS).list().getItems();
  }

  private void idleWindow() throws InterruptedException {
    int settle = Integer.getInteger("bench.settleSeconds", 5);
    int idle = Integer.getInteger("bench.idleSeconds", 30);
    Snapshot settleStart = snapshot();
    Thread.sleep(settle * 1000L);
    var threadsBefore = ProcessStats.threadCpuMillis(operator.pid());
    Snapshot from = snapshot();
    clock.put("idleFrom", Instant.now().toString());
    log("idle window: " + idle + " s with nothing changing");
    Thread.sleep(idle * 1000L);
    Snapshot to = snapshot();
    clock.put("idleTo", Instant.now().toString());
    var threadsAfter = ProcessStats.threadCpuMillis(operator.pid());
    Map<String, Object> settleWindow = window(settleStart, from, false);
    Map<String, Object> idleWindow = window(from, to, false);
    Map<String, Double> byThread = new LinkedHashMap<>();
    threadsAfter.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), e.getValue() - threadsBefore.getOrDefault(e.getKey(), 0.0)))
        .filter(e -> e.getValue() >= 10)
        .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
        .limit(12)
        .forEach(e -> byThread.put(e.getKey(), round(e.getValue() / 1000)));
    idleWindow.put(
        "operatorCpuSecondsByThread (jcmd Thread.print; threads that ended are missing)", byThread);
    idleWindow.put(
        "operatorCpuPercentOfOneCore",
        round(100 * ((Number) idleWindow.get("operatorCpuSeconds")).doubleValue() / idle));
    result.put("settle", settleWindow);
    result.put("idle", idleWindow);
  }

  private void liveHeap() throws InterruptedException {
    Map<String, Object> memory = new LinkedHashMap<>();
    memory.put("peakHeapUsedMiB", round(heap.peakUsedMiB()));
    memory.put("peakHeapCommittedMiB", round(heap.peakCommittedMiB()));
    memory.put("peakRssMiB (VmHWM)", round(ProcessStats.status(operator.pid(), "VmHWM") / 1024.0));
    ProcessStats.run("jcmd", Long.toString(operator.pid()), "GC.run");
    Thread.sleep(1500);
    memory.put("liveHeapAfterFullGcMiB", round(heap.lastUsedMiB()));
    memory.put("gcSecondsTotal", round(heap.gcSeconds()));
    result.put("memory", memory);
  }

  private void cleanUp() {
    if (heap != null) {
      heap.close();
    }
    if (client != null) {
      try {
        log("deleting the VirtualMachines");
        clock.put("deleteFrom", Instant.now().toString());
        long start = System.nanoTime();
        client.resources(VirtualMachine.class).inNamespace(NS).delete();
        long deadline = start + TimeUnit.SECONDS.toNanos(300);
        while (System.nanoTime() < deadline
            && !client
                .resources(VirtualMachine.class)
                .inNamespace(NS)
                .list()
                .getItems()
                .isEmpty()) {
          Thread.sleep(1000);
        }
        int left = client.resources(VirtualMachine.class).inNamespace(NS).list().getItems().size();
        result.put("deleteAllSeconds", left == 0 ? seconds(System.nanoTime() - start) : null);
        result.put("leftAfterDelete", left);
      } catch (RuntimeException | InterruptedException e) {
        log("clean-up failed: " + e.getMessage());
      }
    }
    if (operator != null) {
      Map<String, Object> info = (Map<String, Object>) result.get("operator");
      info.put("cpuSecondsTotal", round(ProcessStats.cpuSeconds(operator.pid())));
      stopOperator();
    }
    if (client != null) {
      client.close();
    }
  }

  private void stopOperator() {
    if (operator == null || !operator.isAlive()) {
      return;
    }
    operator.destroy(); // SIGTERM to the PID we started: the operator's own shutdown hook runs
    try {
      if (!operator.waitFor(60, TimeUnit.SECONDS)) {
        operator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ----------------------------------------------------------------------------------------------

  private static Optional<Condition> readyCondition(VirtualMachine vm) {
    return vm.getStatus() == null || vm.getStatus().conditions == null
        ? Optional.empty()
        : vm.getStatus().conditions.stream().filter(c -> "Ready".equals(c.getType())).findFirst();
  }

  private static boolean isReady(VirtualMachine vm) {
    return readyCondition(vm).map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  private static Map<String, Object> percentiles(List<Double> values) {
    Map<String, Object> p = new LinkedHashMap<>();
    List<Double> sorted = values.stream().sorted().toList();
    p.put("count", sorted.size());
    if (!sorted.isEmpty()) {
      p.put("p50", round(rank(sorted, 0.50)));
      p.put("p95", round(rank(sorted, 0.95)));
      p.put("max", round(sorted.get(sorted.size() - 1)));
    }
    return p;
  }

  /** Nearest-rank percentile. */
  private static double rank(List<Double> sorted, double q) {
    int index = (int) Math.ceil(q * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  private static double seconds(long nanos) {
    return round(nanos / 1e9);
  }

  private static double round(double value) {
    return Math.round(value * 100) / 100.0;
  }

  private static void log(String message) {
    System.out.println("[bench] " + message);
    System.out.flush();
  }

  @SuppressWarnings("unchecked")
  private void printTable(Path out) {
    var c = (Map<String, Object>) result.getOrDefault("convergence", Map.of());
    var idle = (Map<String, Object>) result.getOrDefault("idle", Map.of());
    var memory = (Map<String, Object>) result.getOrDefault("memory", Map.of());
    var server = (Map<String, Object>) c.getOrDefault(SERVER_LATENCY, Map.of());
    var clientSide = (Map<String, Object>) c.getOrDefault(CLIENT_LATENCY, Map.of());
    var apiLatency = (Map<String, Object>) c.getOrDefault(API_LATENCY, Map.of());
    String rows =
        String.join(
            "\n",
            row("VMs / hosts", "%d / %d", vmCount, hostCount),
            row(
                "all Ready after (s)",
                "%s   (goal <= 60; all created after %s s)",
                c.get("secondsToAllReady"),
                c.get("secondsToCreateAll")),
            row("Ready / create failures", "%s / %s", c.get("readyAtEnd"), c.get("createFailures")),
            row(
                "Ready latency p50/p95/max (s)",
                "%s / %s / %s   (creationTimestamp -> Ready lastTransitionTime)",
                server.get("p50"),
                server.get("p95"),
                server.get("max")),
            row(
                "  same, measured by the client",
                "%s / %s / %s   (create returned -> watch saw Ready)",
                clientSide.get("p50"),
                clientSide.get("p95"),
                clientSide.get("max")),
            row(
                "operator CPU converging (s)",
                "%s   (API server %s, etcd %s, benchmark %s)",
                c.get("operatorCpuSeconds"),
                c.get("apiserverCpuSeconds"),
                c.get("etcdCpuSeconds"),
                c.get("benchDriverCpuSeconds")),
            row(
                "  other processes' CPU meanwhile (s)",
                "%s   (should be ~0, else the figures are disturbed)",
                c.get(OTHERS)),
            row(
                "  API server time per status write",
                "%s ms   (server side, mean)",
                apiLatency.get("APPLY virtualmachines/status")),
            row(
                "operator peak heap used (MiB)",
                "%s   (goal < 256; committed %s, live after full GC %s, peak RSS %s)",
                memory.get("peakHeapUsedMiB"),
                memory.get("peakHeapCommittedMiB"),
                memory.get("liveHeapAfterFullGcMiB"),
                memory.get("peakRssMiB (VmHWM)")),
            row(
                "operator API requests per VM",
                "%s   (status writes %s, events %s)",
                c.get("operatorRequestsPerVm"),
                c.get("operatorVmStatusWritesPerVm"),
                c.get("operatorEventsPerVm")),
            row(
                "idle: operator CPU (s)",
                "%s in %s s = %s %% of a core   (other processes %s)",
                idle.get("operatorCpuSeconds"),
                idle.get("seconds"),
                idle.get("operatorCpuPercentOfOneCore"),
                idle.get(OTHERS)),
            row(
                "idle: operator API requests",
                "%s   (VM status writes %s)",
                idle.get("operatorRequests"),
                idle.get("operatorVmStatusWrites")),
            row("delete all (s)", "%s", result.get("deleteAllSeconds")),
            row("JSON", "%s", out));
    System.out.println("\n" + rows);
  }

  private static String row(String name, String format, Object... values) {
    return "%-38s %s".formatted(name, format.formatted(values));
  }
}
