package io.bastida.hypervisor;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shared connection per host, opened on first use, reopened when it dies or its target changes,
 * and retried with exponential backoff after a failure so that an unreachable host is not hammered
 * by every reconciler that needs it.
 */
public final class HostConnections implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HostConnections.class);

  private final HypervisorConnector connector;
  private final Clock clock;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final ConcurrentMap<String, Slot> slots = new ConcurrentHashMap<>();
  private final List<DomainChangeListener> domainListeners = new CopyOnWriteArrayList<>();

  /** Told about domain lifecycle changes on any host. */
  @FunctionalInterface
  public interface DomainChangeListener {
    void domainChanged(String hostName, String domainName);
  }

  /** Subscribes to domain changes on every host connected from now on. */
  public void addDomainChangeListener(DomainChangeListener listener) {
    domainListeners.add(listener);
  }

  public HostConnections(
      HypervisorConnector connector, Clock clock, Duration initialBackoff, Duration maxBackoff) {
    this.connector = connector;
    this.clock = clock;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
  }

  /**
   * A live connection to the host. While backing off after a failure, fails fast with that failure
   * instead of trying again; a changed target is tried at once.
   */
  public Hypervisor get(String hostName, ConnectionTarget target) throws HypervisorException {
    return slots.computeIfAbsent(hostName, Slot::new).get(target);
  }

  /** Closes the host's connection, and with it any ssh process and credential files. */
  public void forget(String hostName) {
    Slot slot = slots.remove(hostName);
    if (slot != null) {
      slot.close();
    }
  }

  @Override
  public void close() {
    slots.values().forEach(Slot::close);
    slots.clear();
  }

  private final class Slot {
    private final String hostName;
    private ConnectionTarget target;
    private Hypervisor hypervisor;
    private HypervisorException lastFailure;
    private Instant retryAt = Instant.MIN;
    private Duration backoff = initialBackoff;

    Slot(String hostName) {
      this.hostName = hostName;
    }

    synchronized Hypervisor get(ConnectionTarget wanted) throws HypervisorException {
      if (!wanted.equals(target)) {
        closeConnection();
        target = wanted;
        lastFailure = null;
        backoff = initialBackoff;
      }
      if (hypervisor != null && hypervisor.isAlive()) {
        return hypervisor;
      }
      if (hypervisor != null) {
        log.info("Host({}): connection lost, reconnecting", hostName);
        closeConnection();
      }
      Instant now = clock.instant();
      if (lastFailure != null && now.isBefore(retryAt)) {
        throw lastFailure;
      }
      try {
        hypervisor = connector.open(hostName, wanted);
        subscribe(hypervisor);
        lastFailure = null;
        backoff = initialBackoff;
        log.info("Host({}): connected to {}", hostName, wanted.uri());
        return hypervisor;
      } catch (HypervisorException e) {
        lastFailure = e;
        retryAt = now.plus(backoff);
        log.debug(
            "Host({}): connect failed, next try in {}: {}", hostName, backoff, e.getMessage());
        backoff =
            backoff.multipliedBy(2).compareTo(maxBackoff) > 0
                ? maxBackoff
                : backoff.multipliedBy(2);
        throw e;
      }
    }

    private void subscribe(Hypervisor opened) {
      try {
        opened.onDomainChange(
            domain -> domainListeners.forEach(l -> l.domainChanged(hostName, domain)));
      } catch (HypervisorException e) {
        // Without events, periodic checks still notice every change, only later.
        log.warn("Host({}): no domain events: {}", hostName, e.getMessage());
      }
    }

    synchronized void close() {
      closeConnection();
    }

    private void closeConnection() {
      if (hypervisor != null) {
        hypervisor.close();
        hypervisor = null;
      }
    }
  }
}
