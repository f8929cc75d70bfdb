package io.bastida.operator.backup;

import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import java.util.List;

/**
 * Backups in a directory of one host (a local storage domain), reached through libvirt: QEMU writes
 * the images there itself (push-mode backups) and the operator reads and writes the rest through
 * libvirt streams.
 *
 * @param hostName the host holding the files
 * @param root the storage domain's directory on that host
 */
public record HostBackupStore(Hypervisor host, String hostName, String root)
    implements BackupStore {

  public HostBackupStore {
    root = root.length() > 1 && root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
  }

  /** Where a path of the store is on the host. */
  public String hostPath(String path) {
    return root + "/" + path;
  }

  @Override
  public void makeFolder(String folder) throws StoreException {
    call(() -> host.makeHostDirectory(hostPath(folder)));
  }

  @Override
  public void write(String path, byte[] content) throws StoreException {
    call(() -> host.writeHostFile(hostPath(path), content));
  }

  @Override
  public byte[] read(String path, int maxBytes) throws StoreException {
    return get(() -> host.readHostFile(hostPath(path), maxBytes));
  }

  @Override
  public String sha256(String path) throws StoreException {
    return get(() -> host.sha256OfHostFile(hostPath(path)));
  }

  @Override
  public List<Entry> list(String folder) throws StoreException {
    return get(
        () ->
            host.listHostDirectory(hostPath(folder)).stream()
                .map(f -> new Entry(f.name(), f.directory(), f.sizeBytes()))
                .toList());
  }

  @Override
  public void removeFile(String path) throws StoreException {
    call(() -> host.deleteHostPath(hostPath(path)));
  }

  @Override
  public void removeTree(String folder) throws StoreException {
    for (Entry entry : list(folder)) {
      if (entry.directory()) {
        removeTree(folder + "/" + entry.name());
      } else {
        removeFile(folder + "/" + entry.name());
      }
    }
    call(() -> host.deleteHostPath(hostPath(folder)));
  }

  @Override
  public boolean removeIfEmpty(String folder) throws StoreException {
    if (!list(folder).isEmpty()) {
      return false;
    }
    call(() -> host.deleteHostPath(hostPath(folder)));
    return true;
  }

  @Override
  public String describe() {
    return hostName + ":" + root;
  }

  private interface Call<T> {
    T call() throws HypervisorException;
  }

  private interface VoidCall {
    void call() throws HypervisorException;
  }

  private <T> T get(Call<T> call) throws StoreException {
    try {
      return call.call();
    } catch (HypervisorException e) {
      throw new StoreException(describe() + ": " + e.getMessage(), e);
    }
  }

  private void call(VoidCall call) throws StoreException {
    get(
        () -> {
          call.call();
          return null;
        });
  }
}
