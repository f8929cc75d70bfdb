package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostSpec;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The kind of domain a host runs ({@code kvm}, {@code qemu} for TCG, {@code test}): what it offers,
 * read once per host, unless its spec forces software or hardware virtualization.
 */
public final class DomainTypes {
  private final Map<String, String> offered = new ConcurrentHashMap<>();

  public String of(Host host, Hypervisor hypervisor) throws HypervisorException {
    String name = host.getMetadata().getName();
    String type = offered.get(name);
    if (type == null) {
      type = hypervisor.nodeFacts().domainType();
      offered.put(name, type);
    }
    HostSpec.Virtualization setting = host.getSpec().getVirtualization();
    if (type.equals("test") || setting == null || setting == HostSpec.Virtualization.Auto) {
      return type;
    }
    return setting == HostSpec.Virtualization.Software ? "qemu" : "kvm";
  }
}
