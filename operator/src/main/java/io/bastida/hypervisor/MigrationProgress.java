package io.bastida.hypervisor;

/**
 * Statistics of a migration job as libvirt reports them: of the running job on the source, or of
 * the completed one (then {@code downtimeMillis} is the measured pause of the guest).
 *
 * @param elapsedMillis time since the job started
 * @param dataTotalBytes what has to be sent in all (memory and copied disks); grows while pages are
 *     dirtied
 * @param memoryIteration how many passes over guest memory have been made (1 = first copy)
 * @param memoryDirtyRatePagesPerSecond how fast the guest dirties memory, 0 when unknown
 * @param downtimeMillis the measured downtime of a completed migration, null while it runs
 */
public record MigrationProgress(
    long elapsedMillis,
    long dataTotalBytes,
    long dataProcessedBytes,
    long dataRemainingBytes,
    long memoryIteration,
    long memoryDirtyRatePagesPerSecond,
    Long downtimeMillis) {}
