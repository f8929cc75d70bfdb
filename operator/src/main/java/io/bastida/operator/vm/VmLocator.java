package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.host.HostStatusPlanner;
import io.bastida.operator.host.HostTargets;
import io.bastida.operator.status.Conditions;
import java.util.Optional;
import java.util.function.Function;

/**
 * Finds where a VM's domain lives and opens that host, for the operations on a VM (snapshots,
 * restores, backups), with a specific reason when it cannot.
 */
public final class VmLocator {
  private final HostConnections connections;
  private final HostTargets targets;

  public VmLocator(HostConnections connections, HostTargets targets) {
    this.connections = connections;
    this.targets = targets;
  }

  /** The VM's domain on its Ready host. */
  public record Located(VirtualMachine vm, Host host, Hypervisor hypervisor, String domainName) {
    public String hostName() {
      return host.getMetadata().getName();
    }
  }

  /** Why a VM's domain cannot be reached now; the reason names it for a condition. */
  public static final class Unavailable extends Exception {
    private static final long serialVersionUID = 1L;
    private final String reason;

    public Unavailable(String reason, String message) {
      super(message);
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  public Located locate(
      Optional<VirtualMachine> vm,
      String namespace,
      String vmName,
      Function<String, Optional<Host>> hostsByName)
      throws Unavailable {
    if (vm.isEmpty()) {
      throw new Unavailable(
          "VmNotFound", "VirtualMachine " + namespace + "/" + vmName + " does not exist");
    }
    String hostName = vm.get().getStatus() == null ? null : vm.get().getStatus().hostName;
    if (hostName == null) {
      throw new Unavailable("VmNotPlaced", "VirtualMachine " + vmName + " is not on a host yet");
    }
    Host host = readyHost(hostName, hostsByName);
    return new Located(vm.get(), host, connect(host), VmIdentity.domainName(namespace, vmName));
  }

  /** The connection to a Ready host, e.g. the one keeping a backup on its local storage. */
  public Hypervisor hypervisorOf(String hostName, Function<String, Optional<Host>> hostsByName)
      throws Unavailable {
    return connect(readyHost(hostName, hostsByName));
  }

  private static Host readyHost(String hostName, Function<String, Optional<Host>> hostsByName)
      throws Unavailable {
    Host host =
        hostsByName
            .apply(hostName)
            .orElseThrow(
                () -> new Unavailable("HostNotReady", "host " + hostName + " does not exist"));
    if (!Conditions.TRUE.equals(HostStatusPlanner.readyStatus(host))) {
      throw new Unavailable("HostNotReady", "host " + hostName + " is not Ready");
    }
    return host;
  }

  private Hypervisor connect(Host host) throws Unavailable {
    String hostName = host.getMetadata().getName();
    try {
      return connections.get(hostName, targets.targetFor(host));
    } catch (HostTargets.InvalidTargetException | HypervisorException e) {
      throw new Unavailable("HostNotReady", "host " + hostName + ": " + e.getMessage());
    }
  }
}
