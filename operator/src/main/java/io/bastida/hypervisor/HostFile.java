package io.bastida.hypervisor;

/** An entry of a directory on a host. */
public record HostFile(String name, boolean directory, long sizeBytes) {}
