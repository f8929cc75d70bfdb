package io.bastida.hypervisor;

/** Opens connections to hosts. */
@FunctionalInterface
public interface HypervisorConnector {
  Hypervisor open(String hostName, ConnectionTarget target) throws HypervisorException;
}
