package io.bastida.operator.restore;

import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.backup.BackupLayout;
import io.bastida.operator.backup.BackupManifest;
import io.bastida.operator.backup.BackupStore;
import io.bastida.operator.backup.HostBackupStore;
import io.bastida.operator.backup.NfsBackupStore;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a backup chain from its store and writes a disk back from it. On NFS the chain's qcow2
 * headers hold absolute nfs:// URLs of their parents (QEMU cannot resolve relative names over NFS),
 * so a link whose parent is now elsewhere is first pointed at it: a chain found on a moved or
 * re-exported share restores as well as one that never moved. On a host, libvirt copies the chain
 * flattened, on that host. An NFS backup goes onto a host's disk file through the operator.
 */
final class BackupFiles {
  private static final int MAX_SMALL_FILE = 4 << 20;

  private final QemuImg qemuImg;
  private final BackupCopier copier;
  private final Path staging;

  /**
   * @param staging where an NFS backup is flattened before it is streamed to a host
   */
  BackupFiles(QemuImg qemuImg, BackupCopier copier, Path staging) {
    this.qemuImg = qemuImg;
    this.copier = copier;
    this.staging = staging;
  }

  BackupManifest manifest(BackupStore store, BackupLayout layout)
      throws BackupStore.StoreException {
    return BackupManifest.parse(read(store, layout.manifestPath()));
  }

  VirtualMachineSpec vmSpec(BackupStore store, BackupLayout layout)
      throws BackupStore.StoreException {
    return Serialization.unmarshal(read(store, layout.vmSpecPath()), VirtualMachineSpec.class);
  }

  /**
   * Writes the disk the guest saw as {@code target} (e.g. vda), as of the last backup of {@code
   * chain} (full first), into a qcow2 image (replacing it). {@code destination} is an nfs:// URL,
   * or a path on the host {@code onto}: a host's backup goes onto files of that same host; an NFS
   * backup goes onto NFS directly, or onto a host's file through the operator (flattened into a
   * temporary file here, then streamed through libvirt).
   *
   * @throws IllegalArgumentException when the backup cannot reach that destination
   */
  void restoreDisk(
      BackupStore store,
      List<BackupLayout> chain,
      String target,
      String destination,
      Hypervisor onto)
      throws IOException {
    String top = chain.get(chain.size() - 1).diskPath(target);
    if (store instanceof NfsBackupStore nfs) {
      for (int i = 1; i < chain.size(); i++) {
        String image = nfs.url(chain.get(i).diskPath(target));
        String parent = nfs.url(chain.get(i - 1).diskPath(target));
        // Only a chain that moved is rewritten: its header changes, and with it its checksum.
        if (!qemuImg.info(image).map(info -> parent.equals(info.backingFile())).orElse(false)) {
          qemuImg.rebaseUnsafe(image, parent);
        }
      }
      if (destination.startsWith("nfs://")) {
        copier.copyImage(nfs.url(top), destination, null);
        return;
      }
      Path staged = Files.createTempFile(staging, "bastida-restore-", ".qcow2");
      try {
        Files.delete(staged); // qemu-img makes it
        copier.copyImage(nfs.url(top), staged.toString(), null);
        onto.uploadHostFile(destination, staged);
      } catch (HypervisorException e) {
        // Like any failed copy: the destination may be half written, and the copy is retried.
        throw new IOException(e.getMessage(), e);
      } finally {
        Files.deleteIfExists(staged);
      }
      return;
    }
    HostBackupStore host = (HostBackupStore) store;
    if (!destination.startsWith("/")) {
      throw new IllegalArgumentException(
          "a backup on host "
              + host.hostName()
              + "'s local storage restores onto that host's files, not onto "
              + destination);
    }
    try {
      host.host().copyHostImage(host.hostPath(top), destination);
    } catch (HypervisorException e) {
      // Like any failed copy: the destination may be half written, and the copy is retried.
      throw new IOException(e.getMessage(), e);
    }
  }

  private static String read(BackupStore store, String path) throws BackupStore.StoreException {
    return new String(store.read(path, MAX_SMALL_FILE), StandardCharsets.UTF_8);
  }
}
