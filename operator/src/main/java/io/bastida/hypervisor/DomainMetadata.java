package io.bastida.hypervisor;

import java.util.List;

/**
 * Snapshot and checkpoint definitions of a domain, as libvirt's own XML: what a migration does not
 * carry to the destination (testbed.md), so it is exported, detached, and redefined there.
 *
 * @param snapshotXmls snapshot definitions, parents before children
 * @param checkpointXmls checkpoint definitions, parents before children
 * @param currentSnapshot the name of the current snapshot (the parent of the next one, where a
 *     plain revert goes), or null for none: no snapshot's XML says which one it is
 */
public record DomainMetadata(
    List<String> snapshotXmls, List<String> checkpointXmls, String currentSnapshot) {
  public static final DomainMetadata NONE = new DomainMetadata(List.of(), List.of(), null);

  public DomainMetadata {
    snapshotXmls = List.copyOf(snapshotXmls);
    checkpointXmls = List.copyOf(checkpointXmls);
  }

  public boolean isEmpty() {
    return snapshotXmls.isEmpty() && checkpointXmls.isEmpty();
  }
}
