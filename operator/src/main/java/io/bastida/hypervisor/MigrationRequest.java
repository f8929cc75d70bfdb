package io.bastida.hypervisor;

/**
 * A live migration of one running domain to another host, peer to peer: the source host's libvirt
 * connects to the destination itself, so the operator only starts, watches and may abort it.
 *
 * @param destinationUri the destination's libvirt URI as the source host reaches it
 * @param migrationAddress where QEMU on the source sends the guest's memory (the destination's
 *     migration address), or null for the destination libvirt's default
 * @param maxDowntimeMillis the pause allowed at switch-over when the migration starts; raised while
 *     it runs with {@link Hypervisor#setMigrationMaxDowntime}
 * @param bandwidthMiBPerSecond a cap on migration traffic, or null for none
 * @param autoConverge let QEMU throttle a guest whose memory changes faster than it is copied
 * @param copyStorage copy disks that only the source host has (non-shared storage) along
 */
public record MigrationRequest(
    String destinationUri,
    String migrationAddress,
    long maxDowntimeMillis,
    Long bandwidthMiBPerSecond,
    boolean autoConverge,
    boolean copyStorage) {}
