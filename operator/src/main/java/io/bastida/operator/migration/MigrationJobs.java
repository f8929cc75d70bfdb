package io.bastida.operator.migration;

import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.MigrationProgress;
import io.bastida.hypervisor.MigrationRequest;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live migrations this operator runs: each libvirt call blocks a thread of its own until the
 * move is done, while one watcher reads every job's statistics and applies the {@link
 * EscalationPolicy}. The reconciler reads where each job stands; it never blocks on one.
 */
public final class MigrationJobs implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MigrationJobs.class);

  /** How a job ended, as far as this operator saw it. */
  public sealed interface Outcome {
    record Succeeded() implements Outcome {}

    record Failed(String reason, String message) implements Outcome {}

    /**
     * A job this operator found running (after a restart) ended; where the domain is now tells how.
     */
    record Ended() implements Outcome {}
  }

  /** Where a job stands. */
  public record Snapshot(
      Optional<MigrationProgress> progress,
      long allowedDowntimeMillis,
      Optional<Outcome> outcome) {}

  private final Map<String, Job> jobs = new ConcurrentHashMap<>();
  private final ExecutorService runners =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "migration");
            t.setDaemon(true);
            return t;
          });
  private final ScheduledExecutorService watcher =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "migration-watcher");
            t.setDaemon(true);
            return t;
          });
  private volatile Consumer<String> onOutcome = key -> {};

  public MigrationJobs(Duration watchInterval) {
    watcher.scheduleWithFixedDelay(
        this::watchAll, watchInterval.toMillis(), watchInterval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Called with a job's key when it ends, so its resource is reconciled at once. */
  public void onOutcome(Consumer<String> listener) {
    this.onOutcome = listener;
  }

  /** Starts migrating the domain, unless a job of this key is already known. */
  public void start(
      String key,
      Hypervisor source,
      String domain,
      MigrationRequest request,
      EscalationPolicy.Goals goals) {
    Job job = new Job(source, domain, goals, true);
    if (jobs.putIfAbsent(key, job) != null) {
      return;
    }
    runners.execute(
        () -> {
          try {
            source.migrateDomain(domain, request);
            job.finish(new Outcome.Succeeded());
          } catch (HypervisorException e) {
            Outcome.Failed abortedFor = job.abortedFor;
            job.finish(
                abortedFor != null
                    ? abortedFor
                    : new Outcome.Failed("MigrationFailed", e.getMessage()));
          } catch (RuntimeException e) {
            job.finish(new Outcome.Failed("MigrationFailed", String.valueOf(e.getMessage())));
          }
          onOutcome.accept(key);
        });
  }

  /**
   * Follows a migration libvirt is running that this operator did not start (it restarted while the
   * job ran): statistics and escalation as usual, the outcome {@link Outcome.Ended}.
   */
  public void adopt(String key, Hypervisor source, String domain, EscalationPolicy.Goals goals) {
    jobs.putIfAbsent(key, new Job(source, domain, goals, false));
  }

  public Optional<Snapshot> snapshot(String key) {
    Job job = jobs.get(key);
    if (job == null) {
      return Optional.empty();
    }
    return Optional.of(
        new Snapshot(
            Optional.ofNullable(job.progress),
            job.step.allowedDowntimeMillis(),
            Optional.ofNullable(job.outcome)));
  }

  /** Aborts the job (the VM goes on running on its source); the outcome says why. */
  public void abort(String key, String reason, String message) {
    Job job = jobs.get(key);
    if (job != null) {
      job.abort(new Outcome.Failed(reason, message));
    }
  }

  /** Drops an ended job. */
  public void forget(String key) {
    jobs.computeIfPresent(key, (k, job) -> job.outcome != null ? null : job);
  }

  private void watchAll() {
    jobs.forEach(
        (key, job) -> {
          if (job.outcome != null) {
            return;
          }
          try {
            if (job.watch()) {
              onOutcome.accept(key);
            }
          } catch (RuntimeException e) {
            log.warn("migration {}: watching failed: {}", key, e.toString());
          }
        });
  }

  @Override
  public void close() {
    watcher.shutdownNow();
    runners.shutdownNow();
  }

  private static final class Job {
    final Hypervisor source;
    final String domain;
    final EscalationPolicy.Goals goals;

    /** Whether this operator's own thread runs the libvirt call (else it only watches). */
    final boolean ours;

    volatile EscalationPolicy.Step step;
    volatile MigrationProgress progress;
    volatile Outcome outcome;
    volatile Outcome.Failed abortedFor;

    Job(Hypervisor source, String domain, EscalationPolicy.Goals goals, boolean ours) {
      this.source = source;
      this.domain = domain;
      this.goals = goals;
      this.ours = ours;
      this.step = EscalationPolicy.start(goals);
    }

    /** One look at the job; true when it turned out to have ended. */
    boolean watch() {
      Optional<MigrationProgress> now;
      try {
        now = source.migrationProgress(domain);
      } catch (HypervisorException e) {
        return false; // the host may be back on the next look; the timeout still applies
      }
      if (now.isEmpty()) {
        if (!ours) {
          finish(abortedFor != null ? abortedFor : new Outcome.Ended());
          return true;
        }
        return false; // not started yet, or just done: the runner thread tells
      }
      progress = now.get();
      EscalationPolicy.Decision decision = EscalationPolicy.next(goals, step, progress);
      if (decision instanceof EscalationPolicy.Decision.RaiseDowntime raise) {
        try {
          source.setMigrationMaxDowntime(domain, raise.next().allowedDowntimeMillis());
          step = raise.next();
        } catch (HypervisorException e) {
          // Usually the job ended between the look and the call.
          log.info("domain {}: raising the allowed downtime failed: {}", domain, e.getMessage());
        }
      } else if (decision instanceof EscalationPolicy.Decision.Abort abort) {
        abort(new Outcome.Failed(abort.reason(), abort.message()));
      }
      return false;
    }

    void abort(Outcome.Failed why) {
      if (abortedFor == null) {
        abortedFor = why;
      }
      try {
        source.abortMigration(domain);
      } catch (HypervisorException e) {
        log.warn("domain {}: abort failed: {}", domain, e.getMessage());
      }
    }

    void finish(Outcome how) {
      outcome = how;
    }
  }
}
