package io.bastida.hypervisor;

import java.util.List;
import java.util.Optional;

/**
 * The one port to a virtualization host. Implementations must be safe for concurrent callers:
 * several reconcilers share the connection of a host.
 */
public interface Hypervisor extends AutoCloseable {

  /** Facts about the host, read fresh on each call. */
  NodeFacts nodeFacts() throws HypervisorException;

  /**
   * Makes the storage pool exist, persistent, autostarted, active and refreshed, creating its
   * target directory if needed; returns its state. Never deletes or formats anything.
   */
  PoolState ensurePool(PoolDefinition pool) throws HypervisorException;

  Optional<PoolState> findPool(String name) throws HypervisorException;

  /** Names of the volumes the pool holds, after a refresh. */
  List<String> listVolumes(String poolName) throws HypervisorException;

  /** Stops and undefines the pool; its directory and volumes are left as they are. */
  void forgetPool(String name) throws HypervisorException;

  /** Whether the underlying connection is still usable. */
  boolean isAlive();

  @Override
  void close();
}
