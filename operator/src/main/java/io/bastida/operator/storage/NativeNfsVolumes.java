package io.bastida.operator.storage;

import io.bastida.storage.QemuImg;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsProbe;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.util.List;
import java.util.Optional;

/**
 * Volumes on NFS exports that QEMU opens itself (Native access): nothing is mounted anywhere, so
 * the operator creates images with qemu-img over libnfs and lists or removes files with its own
 * NFSv3 client.
 */
public final class NativeNfsVolumes {
  private final QemuImg qemuImg;
  private final NfsProbe nfs;

  public NativeNfsVolumes(QemuImg qemuImg, NfsProbe nfs) {
    this.qemuImg = qemuImg;
    this.nfs = nfs;
  }

  /** Creates a thin qcow2 image unless one of that name exists. */
  public void ensure(String server, String exportPath, String file, long sizeBytes)
      throws IOException {
    String url = QemuImg.nfsUrl(server, exportPath, file);
    if (qemuImg.info(url).isPresent()) {
      return;
    }
    try {
      qemuImg.create(url, sizeBytes);
    } catch (FileAlreadyExistsException createdMeanwhile) {
      // another pass made it: fine
    }
  }

  /** Makes a linked or full clone of a template image unless one of that name exists. */
  public void ensureClone(
      String server, String exportPath, String template, String file, boolean linked)
      throws IOException {
    String url = QemuImg.nfsUrl(server, exportPath, file);
    if (qemuImg.info(url).isPresent()) {
      return;
    }
    try {
      qemuImg.createFrom(QemuImg.nfsUrl(server, exportPath, template), url, linked);
    } catch (FileAlreadyExistsException createdMeanwhile) {
      // another pass made it: fine
    }
  }

  /** Writes a raw image with exactly these bytes, replacing any file of that name. */
  public void upload(String server, String exportPath, String file, byte[] content)
      throws IOException {
    java.nio.file.Path staged =
        java.nio.file.Files.createTempFile(
            "bastida-upload-",
            ".img",
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
    try {
      java.nio.file.Files.write(staged, content);
      qemuImg.upload(staged, QemuImg.nfsUrl(server, exportPath, file));
    } finally {
      java.nio.file.Files.deleteIfExists(staged);
    }
  }

  public Optional<QemuImg.ImageInfo> find(String server, String exportPath, String file)
      throws IOException {
    return qemuImg.info(QemuImg.nfsUrl(server, exportPath, file));
  }

  public void delete(String server, String exportPath, String file) throws NfsException {
    nfs.remove(server, exportPath, file);
  }

  /** Files at the export's root, without the file system's own lost+found. */
  public List<String> list(String server, String exportPath) throws NfsException {
    return nfs.list(server, exportPath).stream().filter(f -> !f.equals("lost+found")).toList();
  }
}
