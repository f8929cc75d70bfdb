package io.bastida.operator.backup;

import io.bastida.storage.QemuImg;
import io.bastida.storage.nfs.NfsEntry;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
import java.util.List;

/** Backups on an NFS export, written by the operator itself (qemu-img and its own NFS client). */
public record NfsBackupStore(NfsFiles files, String server, String exportPath)
    implements BackupStore {

  /** The URL qemu-img opens for a path of the store. */
  public String url(String path) {
    return QemuImg.nfsPathUrl(server, exportPath, path);
  }

  /** The path of a file of the store on the server, e.g. for a disk QEMU opens itself. */
  public String absolutePath(String path) {
    return exportPath + "/" + path;
  }

  @Override
  public void makeFolder(String folder) throws StoreException {
    call(() -> files.mkdirs(server, exportPath, folder));
  }

  @Override
  public void write(String path, byte[] content) throws StoreException {
    call(() -> files.writeFile(server, exportPath, path, content));
  }

  @Override
  public byte[] read(String path, int maxBytes) throws StoreException {
    return get(() -> files.readFile(server, exportPath, path, maxBytes));
  }

  @Override
  public String sha256(String path) throws StoreException {
    return get(() -> files.sha256(server, exportPath, path));
  }

  @Override
  public List<Entry> list(String folder) throws StoreException {
    return get(
        () ->
            files.stat(server, exportPath, folder).isEmpty()
                ? List.of()
                : files.list(server, exportPath, folder).stream()
                    .map(
                        e ->
                            new Entry(e.name(), e.type() == NfsEntry.Type.DIRECTORY, e.sizeBytes()))
                    .toList());
  }

  @Override
  public void removeFile(String path) throws StoreException {
    call(() -> files.remove(server, exportPath, path));
  }

  @Override
  public void removeTree(String folder) throws StoreException {
    call(() -> files.removeTree(server, exportPath, folder));
  }

  @Override
  public boolean removeIfEmpty(String folder) throws StoreException {
    return get(() -> files.removeIfEmpty(server, exportPath, folder));
  }

  @Override
  public String describe() {
    return "nfs://" + server + exportPath;
  }

  private interface Call<T> {
    T call() throws NfsException;
  }

  private interface VoidCall {
    void call() throws NfsException;
  }

  private <T> T get(Call<T> call) throws StoreException {
    try {
      return call.call();
    } catch (NfsException e) {
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
