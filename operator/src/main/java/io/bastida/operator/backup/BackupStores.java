package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.operator.vm.VmLocator;
import io.bastida.storage.nfs.NfsFiles;
import java.util.Optional;
import java.util.function.Function;

/** Which {@link BackupStore} a storage domain's backups live in, and whether it can take any. */
public final class BackupStores {
  private final VmLocator locator;
  private final NfsFiles files;

  public BackupStores(VmLocator locator, NfsFiles files) {
    this.locator = locator;
    this.files = files;
  }

  /**
   * The store of a storage domain fit for backups: its NFS export (Native or Mount: the operator
   * writes there itself either way), or its directory on {@code hostName} for a local one.
   *
   * @throws VmLocator.Unavailable when a local domain's host is not Ready
   */
  public BackupStore of(
      StorageDomain storage, String hostName, Function<String, Optional<Host>> hostsByName)
      throws VmLocator.Unavailable {
    var spec = storage.getSpec();
    if (spec.getNfs() != null) {
      return new NfsBackupStore(files, spec.getNfs().getServer(), spec.getNfs().getPath());
    }
    if (hostName == null) {
      throw new VmLocator.Unavailable(
          "HostNotReady", "no host is named for the local storage domain's backup");
    }
    return new HostBackupStore(
        locator.hypervisorOf(hostName, hostsByName), hostName, spec.getLocal().getPath());
  }

  /** Whether backups on this storage domain are kept per host (a local domain). */
  public static boolean isPerHost(StorageDomain storage) {
    return storage.getSpec().getNfs() == null;
  }

  /** Whether the storage domain's pool is set up on that host, as its status says. */
  public static boolean isAttached(StorageDomain storage, String hostName) {
    return storage.getStatus() != null
        && storage.getStatus().getHosts().stream()
            .anyMatch(h -> h.isAttached() && hostName.equals(h.getHostName()));
  }

  /** Why the storage domain cannot take backups, if it cannot. */
  public static Optional<String> unusable(StorageDomain storage) {
    String name = storage.getMetadata().getName();
    var content = storage.getSpec().getContent();
    if (content == null || !content.contains(StorageContent.Backups)) {
      return Optional.of("StorageDomain " + name + " does not list Backups in its content");
    }
    if (storage.getSpec().getNfs() == null && storage.getSpec().getLocal() == null) {
      return Optional.of("StorageDomain " + name + " names neither an NFS export nor a directory");
    }
    return Optional.empty();
  }
}
