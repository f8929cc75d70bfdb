package io.bastida.operator.restore;

import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.operator.backup.BackupLayout;
import io.bastida.operator.backup.BackupManifest;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads a backup chain from its storage domain and writes a disk back from it. The chain's qcow2
 * headers hold absolute nfs:// URLs of their parents (QEMU cannot resolve relative names over NFS),
 * so a link whose parent is now elsewhere is first pointed at it: a chain found on a moved or
 * re-exported share restores as well as one that never moved.
 */
final class BackupFiles {
  private static final int MAX_SMALL_FILE = 4 << 20;

  private final NfsFiles files;
  private final QemuImg qemuImg;
  private final BackupCopier copier;

  BackupFiles(NfsFiles files, QemuImg qemuImg, BackupCopier copier) {
    this.files = files;
    this.qemuImg = qemuImg;
    this.copier = copier;
  }

  BackupManifest manifest(StorageDomain storage, BackupLayout layout) throws NfsException {
    return BackupManifest.parse(read(storage, layout.manifestPath()));
  }

  VirtualMachineSpec vmSpec(StorageDomain storage, BackupLayout layout) throws NfsException {
    return Serialization.unmarshal(read(storage, layout.vmSpecPath()), VirtualMachineSpec.class);
  }

  /**
   * Writes the disk the guest saw as {@code target} (e.g. vda), as of the last backup of {@code
   * chain} (full first), into a qcow2 image at {@code targetUrl}; returns the disk's size.
   */
  long restoreDisk(StorageDomain storage, List<BackupLayout> chain, String target, String targetUrl)
      throws IOException {
    for (int i = 1; i < chain.size(); i++) {
      String image = url(storage, chain.get(i), target);
      String parent = url(storage, chain.get(i - 1), target);
      // Only a chain that moved is rewritten: its header changes, and with it its checksum.
      if (!qemuImg.info(image).map(info -> parent.equals(info.backingFile())).orElse(false)) {
        qemuImg.rebaseUnsafe(image, parent);
      }
    }
    String top = url(storage, chain.get(chain.size() - 1), target);
    copier.copyImage(top, targetUrl, null);
    return qemuImg.info(targetUrl).map(QemuImg.ImageInfo::virtualSizeBytes).orElse(0L);
  }

  void remove(String server, String exportPath, String file) throws NfsException {
    files.remove(server, exportPath, file);
  }

  static String url(StorageDomain storage, BackupLayout layout, String target) {
    var nfs = storage.getSpec().getNfs();
    return QemuImg.nfsPathUrl(nfs.getServer(), nfs.getPath(), layout.diskPath(target));
  }

  private String read(StorageDomain storage, String path) throws NfsException {
    var nfs = storage.getSpec().getNfs();
    return new String(
        files.readFile(nfs.getServer(), nfs.getPath(), path, MAX_SMALL_FILE),
        StandardCharsets.UTF_8);
  }
}
