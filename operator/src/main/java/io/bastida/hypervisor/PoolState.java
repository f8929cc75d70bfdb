package io.bastida.hypervisor;

/** A storage pool as the host reports it. */
public record PoolState(
    String name, boolean active, long capacityBytes, long allocationBytes, long availableBytes) {}
