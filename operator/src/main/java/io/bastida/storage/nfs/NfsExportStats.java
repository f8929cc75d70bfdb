package io.bastida.storage.nfs;

/**
 * Capacity of an NFS export as its server reports it (NFSv3 FSSTAT).
 *
 * @param totalBytes size of the file system
 * @param freeBytes free space, including any space reserved for root
 * @param availableBytes free space usable by the (squashed or not) caller
 */
public record NfsExportStats(long totalBytes, long freeBytes, long availableBytes) {}
