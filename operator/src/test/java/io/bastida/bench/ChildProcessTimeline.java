package io.bastida.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What child processes another process ran and when, found by polling its children: the operator
 * runs qemu-img and qemu-io as child processes, so this shows where a backup's time goes without
 * the operator logging it. A start time is the kernel's ({@link ProcessStats#startEpochMillis}); an
 * end is the first poll that no longer sees the process, so it is late by up to one poll interval.
 * A process shorter than the interval may be missed.
 *
 * <p>A poll scans /proc (about 1 ms with a hundred processes): at 20 ms it costs the benchmark ~5 %
 * of one core.
 */
final class ChildProcessTimeline implements AutoCloseable {
  /** One child process: its arguments (the program first) and when it ran, in epoch ms. */
  record ChildRun(long pid, List<String> command, long startMs, long endMs) {
    long millis() {
      return endMs - startMs;
    }

    /** The program and its first argument, e.g. "qemu-img convert" or "qemu-io -C". */
    String tool() {
      String program = command.isEmpty() ? "?" : command.get(0);
      program = program.substring(program.lastIndexOf('/') + 1);
      return command.size() > 1 ? program + " " + command.get(1) : program;
    }
  }

  private record Seen(List<String> command, long startMs) {}

  private final ProcessHandle parent;
  private final long pollMillis;
  private final Map<Long, Seen> running = new HashMap<>();
  private final List<ChildRun> ended = new CopyOnWriteArrayList<>();
  private final Thread poller;
  private volatile boolean stopped;

  ChildProcessTimeline(ProcessHandle parent, long pollMillis) {
    this.parent = parent;
    this.pollMillis = pollMillis;
    this.poller = new Thread(this::pollUntilStopped, "child-process-timeline");
    poller.setDaemon(true);
    poller.start();
  }

  long pollMillis() {
    return pollMillis;
  }

  /** The children that started and ended within [fromMs, toMs], oldest first. */
  List<ChildRun> between(long fromMs, long toMs) {
    List<ChildRun> runs = new ArrayList<>();
    for (ChildRun run : ended) {
      if (run.startMs() >= fromMs - pollMillis && run.endMs() <= toMs + pollMillis) {
        runs.add(run);
      }
    }
    runs.sort((a, b) -> Long.compare(a.startMs(), b.startMs()));
    return runs;
  }

  private void pollUntilStopped() {
    while (!stopped) {
      poll();
      try {
        Thread.sleep(pollMillis);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void poll() {
    long now = System.currentTimeMillis();
    Set<Long> alive = new HashSet<>();
    parent
        .children()
        .forEach(
            child -> {
              alive.add(child.pid());
              // Looked at again on every poll: until it has exec'd, a child shows the JVM's own
              // command line or the JDK's jspawnhelper.
              Seen before = running.get(child.pid());
              Seen seen = describe(child, now);
              if (before != null && seen.command().isEmpty()) {
                seen = before;
              }
              running.put(
                  child.pid(),
                  before == null
                      ? seen
                      : new Seen(seen.command(), Math.min(before.startMs(), seen.startMs())));
            });
    running
        .entrySet()
        .removeIf(
            entry -> {
              if (alive.contains(entry.getKey())) {
                return false;
              }
              Seen seen = entry.getValue();
              ended.add(new ChildRun(entry.getKey(), seen.command(), seen.startMs(), now));
              return true;
            });
  }

  private Seen describe(ProcessHandle child, long firstSeenMs) {
    ProcessHandle.Info info = child.info();
    List<String> command = new ArrayList<>();
    info.command().ifPresent(command::add);
    info.arguments().ifPresent(arguments -> command.addAll(List.of(arguments)));
    return new Seen(
        command,
        Math.min(ProcessStats.startEpochMillis(child.pid()).orElse(firstSeenMs), firstSeenMs));
  }

  @Override
  public void close() {
    stopped = true;
    poller.interrupt();
  }
}
