package io.bastida.hypervisor;

/** A storage volume as its pool reports it. */
public record VolumeState(String pool, String name, String path, long capacityBytes) {}
