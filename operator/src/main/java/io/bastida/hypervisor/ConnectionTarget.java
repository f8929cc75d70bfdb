package io.bastida.hypervisor;

/**
 * Everything needed to open a connection to one host. Two targets are equal when a connection
 * opened for one serves the other.
 */
public record ConnectionTarget(
    LibvirtUri uri, Credentials credentials, boolean insecureSkipHostKeyVerification) {}
