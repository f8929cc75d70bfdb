package io.bastida.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/** What Linux and the JVM's perf counters say about another process. */
final class ProcessStats {
  private static final long TICKS_PER_SECOND = clockTicks();

  private ProcessStats() {}

  /** User + system CPU seconds the process has used so far (all its threads), from /proc. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // fields[0] is field 3 (state): utime is field 14, stime field 15.
      return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / (double) TICKS_PER_SECOND;
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  /**
   * When the process started, on the wall clock (epoch ms, ~10-20 ms): its starttime in /proc
   * (clock ticks since boot) after the boot time that /proc/uptime gives. Not {@link
   * ProcessHandle.Info#startInstant()}: the JDK dates boot by /proc/stat's btime, in whole seconds,
   * which put starts here ~450 ms early. Empty once the process is gone.
   */
  static OptionalLong startEpochMillis(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // fields[0] is field 3 (state): starttime is field 22.
      long ticks = Long.parseLong(fields[19]);
      String uptime = Files.readString(Path.of("/proc/uptime")).trim().split("\\s+")[0];
      long bootEpochMillis =
          System.currentTimeMillis() - Math.round(Double.parseDouble(uptime) * 1000);
      return OptionalLong.of(bootEpochMillis + ticks * 1000 / TICKS_PER_SECOND);
    } catch (IOException | RuntimeException gone) {
      return OptionalLong.empty();
    }
  }

  /** CPU seconds the whole machine has been busy (all cores, everything but idle and iowait). */
  static double machineBusySeconds() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long busy = 0;
      for (int i : new int[] {1, 2, 3, 6, 7, 8}) { // user nice system irq softirq steal
        busy += Long.parseLong(f[i]);
      }
      return busy / (double) TICKS_PER_SECOND;
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  /** A line of /proc/PID/status as a number (e.g. VmHWM in KiB, Threads), or -1. */
  static long status(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | NumberFormatException e) {
      // gone
    }
    return -1;
  }

  static Path jdkTool(String name) {
    Path java = Path.of(ProcessHandle.current().info().command().orElse("java"));
    Path tool = java.resolveSibling(name);
    return Files.isExecutable(tool) ? tool : Path.of(name);
  }

  /** Runs a JDK tool (jcmd) to completion and returns its output. */
  static String run(String tool, String... args) {
    List<String> command = new ArrayList<>();
    command.add(jdkTool(tool).toString());
    command.addAll(List.of(args));
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      process.waitFor(60, TimeUnit.SECONDS);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
  }

  private static final java.util.regex.Pattern THREAD =
      java.util.regex.Pattern.compile("^\"(.*?)\".*? cpu=([0-9.]+)ms");

  /**
   * CPU milliseconds per thread group of a JVM, from {@code jcmd PID Thread.print} (JDK 17 prints
   * each thread's CPU time). Names are grouped by dropping trailing numbers ("pool-4-thread-7" →
   * "pool-4-thread"), since threads come and go.
   */
  static Map<String, Double> threadCpuMillis(long pid) {
    Map<String, Double> cpu = new java.util.TreeMap<>();
    for (String line : run("jcmd", Long.toString(pid), "Thread.print").split("\n")) {
      var m = THREAD.matcher(line);
      if (m.find()) {
        cpu.merge(
            m.group(1).replaceAll("[-#]?[0-9]+$", "").replaceAll("[0-9]+$", ""),
            Double.parseDouble(m.group(2)),
            Double::sum);
      }
    }
    return cpu;
  }

  private static long clockTicks() {
    try {
      Process getconf = new ProcessBuilder("getconf", "CLK_TCK").start();
      String out = new String(getconf.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      getconf.waitFor();
      return Long.parseLong(out.trim());
    } catch (IOException | NumberFormatException e) {
      return 100;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 100;
    }
  }

  /**
   * Follows {@code jstat -gc PID INTERVAL}: one jstat process reading the target's perf-data
   * memory, so sampling costs the target nothing. Keeps the peak used and committed heap.
   */
  static final class HeapSampler implements AutoCloseable {
    private final Process jstat;
    private final Thread reader;
    private volatile double peakUsedMiB;
    private volatile double peakCommittedMiB;
    private volatile double lastUsedMiB;
    private volatile double gcSeconds;
    private volatile long youngGcs;
    private volatile long fullGcs;

    HeapSampler(long pid, int intervalMillis) throws IOException {
      jstat =
          new ProcessBuilder(
                  jdkTool("jstat").toString(), "-gc", Long.toString(pid), intervalMillis + "ms")
              .redirectErrorStream(true)
              .start();
      reader = new Thread(this::follow, "jstat-reader");
      reader.setDaemon(true);
      reader.start();
    }

    private void follow() {
      try (var in =
          new BufferedReader(
              new InputStreamReader(jstat.getInputStream(), StandardCharsets.UTF_8))) {
        List<String> header = null;
        String line;
        while ((line = in.readLine()) != null) {
          String[] cells = line.trim().split("\\s+");
          if (cells.length > 0 && cells[0].equals("S0C")) {
            header = List.of(cells);
            continue;
          }
          if (header == null || cells.length != header.size()) {
            continue;
          }
          try {
            double used =
                kib(header, cells, "S0U")
                    + kib(header, cells, "S1U")
                    + kib(header, cells, "EU")
                    + kib(header, cells, "OU");
            double committed =
                kib(header, cells, "S0C")
                    + kib(header, cells, "S1C")
                    + kib(header, cells, "EC")
                    + kib(header, cells, "OC");
            lastUsedMiB = used / 1024;
            peakUsedMiB = Math.max(peakUsedMiB, used / 1024);
            peakCommittedMiB = Math.max(peakCommittedMiB, committed / 1024);
            gcSeconds = kib(header, cells, "GCT");
            youngGcs = (long) kib(header, cells, "YGC");
            fullGcs = (long) kib(header, cells, "FGC");
          } catch (NumberFormatException e) {
            // a "-" cell: skip the sample
          }
        }
      } catch (IOException e) {
        // jstat ended
      }
    }

    private static double kib(List<String> header, String[] cells, String column) {
      return Double.parseDouble(cells[header.indexOf(column)]);
    }

    double peakUsedMiB() {
      return peakUsedMiB;
    }

    double peakCommittedMiB() {
      return peakCommittedMiB;
    }

    double lastUsedMiB() {
      return lastUsedMiB;
    }

    double gcSeconds() {
      return gcSeconds;
    }

    long youngGcs() {
      return youngGcs;
    }

    long fullGcs() {
      return fullGcs;
    }

    @Override
    public void close() {
      jstat.destroy();
    }
  }
}
