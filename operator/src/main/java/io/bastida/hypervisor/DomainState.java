package io.bastida.hypervisor;

/**
 * A domain as its host reports it.
 *
 * @param xml the persistent definition (inactive XML), for reading back what was defined
 * @param liveMemoryMiB memory the running guest has now (0 when off)
 * @param liveVcpus vCPUs the running guest has now (0 when off)
 */
public record DomainState(
    String name,
    String uuid,
    Power power,
    boolean failed,
    String xml,
    long liveMemoryMiB,
    int liveVcpus) {

  /** What the VM is doing. */
  public enum Power {
    Running,
    Paused,
    ShuttingDown,
    Off
  }

  /** Off after a crash or a failure to start, rather than a shutdown or a destroy. */
  public boolean stoppedByFailure() {
    return power == Power.Off && failed;
  }
}
