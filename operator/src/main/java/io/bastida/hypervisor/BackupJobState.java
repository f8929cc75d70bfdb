package io.bastida.hypervisor;

/**
 * Where a domain's push-mode backup job stands.
 *
 * @param error libvirt's message when it failed, else null
 */
public record BackupJobState(Phase phase, long processedBytes, long totalBytes, String error) {
  public enum Phase {
    /** Neither running nor the domain's last completed job. */
    None,
    Running,
    Completed,
    Failed
  }
}
