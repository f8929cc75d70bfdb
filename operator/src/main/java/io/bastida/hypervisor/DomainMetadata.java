package io.bastida.hypervisor;

import java.util.List;

/**
 * Snapshot and checkpoint definitions of a domain, as libvirt's own XML: what a migration does not
 * carry to the destination (testbed.md), so it is exported, detached, and redefined there.
 *
 * @param snapshotXmls snapshot definitions, parents before children
 * @param checkpointXmls checkpoint definitions, parents before children
 */
public record DomainMetadata(List<String> snapshotXmls, List<String> checkpointXmls) {
  public static final DomainMetadata NONE = new DomainMetadata(List.of(), List.of());

  public DomainMetadata {
    snapshotXmls = List.copyOf(snapshotXmls);
    checkpointXmls = List.copyOf(checkpointXmls);
  }

  public boolean isEmpty() {
    return snapshotXmls.isEmpty() && checkpointXmls.isEmpty();
  }
}
