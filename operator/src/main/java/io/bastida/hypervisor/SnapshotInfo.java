package io.bastida.hypervisor;

import java.time.Instant;

/**
 * An internal snapshot of a domain, as libvirt describes it.
 *
 * @param memoryIncluded the guest's RAM was saved: a revert resumes it running where it was
 */
public record SnapshotInfo(String name, Instant creationTime, boolean memoryIncluded) {}
