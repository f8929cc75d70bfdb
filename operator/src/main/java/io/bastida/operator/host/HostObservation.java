package io.bastida.operator.host;

import io.bastida.hypervisor.NodeFacts;

/** What the operator learned when it tried to reach a host. */
public sealed interface HostObservation {

  /** Connected, with fresh facts. */
  record Reached(NodeFacts facts) implements HostObservation {}

  /**
   * Not connected.
   *
   * @param reason CamelCase condition reason, e.g. {@code ConnectionRefused}
   */
  record Unreached(String reason, String message) implements HostObservation {}
}
