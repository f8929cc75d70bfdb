package io.bastida.it;

import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorConnector;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.MigrationProgress;
import io.bastida.hypervisor.MigrationRequest;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Stands in for the one thing libvirt's test driver cannot do: migrate. Every other call reaches
 * the real libvirt-java implementation. A "migration" between two test-driver hosts copies the
 * domain's definition to the destination and starts it there, after a job of a set duration whose
 * statistics, downtime allowance and abort behave like libvirt's; the source copy is then destroyed
 * and undefined, as {@code --persistent --undefinesource} would. Tests that use it say so in their
 * names.
 */
final class FakeLibvirtMigration implements HypervisorConnector {
  private static final long GUEST_BYTES = 128L << 20;

  private final HypervisorConnector real;
  private final Map<String, Hypervisor> hostsByUri = new ConcurrentHashMap<>();
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();
  private final Map<String, MigrationProgress> completed = new ConcurrentHashMap<>();
  private final List<String> downtimeRaises = new CopyOnWriteArrayList<>();
  private volatile Duration jobDuration = Duration.ofSeconds(2);

  FakeLibvirtMigration(HypervisorConnector real) {
    this.real = real;
  }

  /** How long each migration job takes from now on. */
  void jobDuration(Duration duration) {
    this.jobDuration = duration;
  }

  /** Starts a new record of downtime changes (each test its own). */
  void forgetDowntimeChanges() {
    downtimeRaises.clear();
  }

  /** {@code domain=millis} for each change of the allowed downtime the operator made. */
  List<String> downtimeChanges() {
    return List.copyOf(downtimeRaises);
  }

  /** Whether the host (by URI) has the domain, through the connection the operator uses. */
  boolean hasDomain(String hostUri, String domain) {
    Hypervisor host = hostsByUri.get(LibvirtUri.parse(hostUri).toString());
    try {
      return host != null && host.findDomain(domain).isPresent();
    } catch (HypervisorException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Domains with a migration job running now. */
  int running() {
    return jobs.size();
  }

  @Override
  public Hypervisor open(String hostName, io.bastida.hypervisor.ConnectionTarget target)
      throws HypervisorException {
    Hypervisor opened = real.open(hostName, target);
    Hypervisor wrapped =
        (Hypervisor)
            Proxy.newProxyInstance(
                Hypervisor.class.getClassLoader(),
                new Class<?>[] {Hypervisor.class},
                new Handler(opened));
    hostsByUri.put(target.uri().toString(), wrapped);
    return wrapped;
  }

  private final class Handler implements InvocationHandler {
    private final Hypervisor host;

    Handler(Hypervisor host) {
      this.host = host;
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
      String name = args != null && args.length > 0 && args[0] instanceof String s ? s : null;
      switch (method.getName()) {
        case "migrateDomain":
          migrate(name, (MigrationRequest) args[1]);
          return null;
        case "migrationProgress":
          return Optional.ofNullable(jobs.get(key(name))).map(Job::progress);
        case "completedMigration":
          return Optional.ofNullable(completed.get(key(name)));
        case "setMigrationMaxDowntime":
          downtimeRaises.add(name + "=" + args[1]);
          return null;
        case "abortMigration":
          Job job = jobs.get(key(name));
          if (job != null) {
            job.aborted = true;
          }
          return null;
        default:
          try {
            return method.invoke(host, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
      }
    }

    /** Jobs are keyed by domain name: a domain migrates from one host at a time. */
    private String key(String domain) {
      return domain;
    }

    private void migrate(String domain, MigrationRequest request) throws Exception {
      Hypervisor destination =
          hostsByUri.get(LibvirtUri.parse(request.destinationUri()).toString());
      if (destination == null) {
        throw new HypervisorException(
            HypervisorException.Failure.ConnectionFailed,
            "no connection to " + request.destinationUri());
      }
      String xml =
          host.findDomain(domain)
              .orElseThrow(
                  () ->
                      new HypervisorException(
                          HypervisorException.Failure.NotFound, "domain " + domain + " not found"))
              .xml();
      Job job = new Job(System.nanoTime(), jobDuration);
      if (jobs.putIfAbsent(domain, job) != null) {
        throw new HypervisorException(
            HypervisorException.Failure.OperationFailed, "domain " + domain + " is migrating");
      }
      try {
        while (!job.done()) {
          if (job.aborted) {
            throw new HypervisorException(
                HypervisorException.Failure.OperationFailed,
                "operation aborted: migration out job: canceled by client");
          }
          Thread.sleep(50);
        }
        destination.defineDomain(xml);
        destination.startDomain(domain);
        host.destroyDomain(domain);
        host.undefineDomain(domain);
        completed.put(
            domain,
            new MigrationProgress(job.duration.toMillis(), GUEST_BYTES, GUEST_BYTES, 0, 3, 0, 42L));
      } finally {
        jobs.remove(domain);
      }
    }
  }

  private static final class Job {
    final long startedNanos;
    final Duration duration;
    volatile boolean aborted;

    Job(long startedNanos, Duration duration) {
      this.startedNanos = startedNanos;
      this.duration = duration;
    }

    long elapsedMillis() {
      return (System.nanoTime() - startedNanos) / 1_000_000;
    }

    boolean done() {
      return elapsedMillis() >= duration.toMillis();
    }

    /** One pass over memory per second, the bytes sent growing with time. */
    MigrationProgress progress() {
      long elapsed = elapsedMillis();
      long processed =
          Math.min(GUEST_BYTES, GUEST_BYTES * elapsed / Math.max(1, duration.toMillis()));
      return new MigrationProgress(
          elapsed, GUEST_BYTES, processed, GUEST_BYTES - processed, 1 + elapsed / 1000, 0, null);
    }
  }
}
