package io.bastida.operator.host;

import io.bastida.hypervisor.NodeFacts;
import java.util.List;

/** What the operator learned when it tried to reach a host. */
public sealed interface HostObservation {

  /**
   * Connected, with fresh facts.
   *
   * @param unmanagedDomains domains on the host that no VirtualMachine owns, by name
   */
  record Reached(NodeFacts facts, List<String> unmanagedDomains) implements HostObservation {}

  /**
   * Not connected.
   *
   * @param reason CamelCase condition reason, e.g. {@code ConnectionRefused}
   */
  record Unreached(String reason, String message) implements HostObservation {}
}
