package io.bastida.operator.backup;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The backups running in this operator process, each on its own thread (a copy takes minutes; a
 * reconciler thread must not wait for it). Only this process's jobs are here: a backup recorded as
 * running that has no job here was cut short by a restart.
 */
final class BackupJobs implements AutoCloseable {
  /** NBD ports a host may listen on for pull-mode backups, one per running backup. */
  static final int FIRST_PORT = 10900;

  static final int PORTS = 100;

  record Job(
      BackupRun run, String hostName, int port, CompletableFuture<BackupRun.Outcome> outcome) {}

  private final Map<String, Job> jobs = new ConcurrentHashMap<>();
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          task -> {
            Thread thread = new Thread(task, "backup");
            thread.setDaemon(true);
            return thread;
          });
  private volatile Consumer<String> onEnd = key -> {};

  void onEnd(Consumer<String> listener) {
    this.onEnd = listener;
  }

  /**
   * Starts the backup on a port of its host that no other running backup listens on; false when
   * every port is taken (try again later). Starting one that runs already does nothing.
   */
  synchronized boolean start(String key, String hostName, IntFunction<BackupRun> runOnPort) {
    if (jobs.containsKey(key)) {
      return true;
    }
    Set<Integer> used =
        jobs.values().stream()
            .filter(j -> j.hostName().equals(hostName))
            .map(Job::port)
            .collect(Collectors.toSet());
    Optional<Integer> port =
        IntStream.range(FIRST_PORT, FIRST_PORT + PORTS)
            .filter(p -> !used.contains(p))
            .boxed()
            .findFirst();
    if (port.isEmpty()) {
      return false;
    }
    BackupRun run = runOnPort.apply(port.get());
    CompletableFuture<BackupRun.Outcome> outcome = CompletableFuture.supplyAsync(run::run, threads);
    jobs.put(key, new Job(run, hostName, port.get(), outcome));
    outcome.whenComplete((result, error) -> onEnd.accept(key));
    return true;
  }

  Optional<Job> get(String key) {
    return Optional.ofNullable(jobs.get(key));
  }

  void forget(String key) {
    jobs.remove(key);
  }

  @Override
  public void close() {
    threads.shutdownNow();
  }
}
