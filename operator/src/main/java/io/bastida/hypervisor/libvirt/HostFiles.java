package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.HostFile;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.PoolDefinition;
import io.bastida.xml.SafeXml;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;
import org.libvirt.StorageVol;
import org.libvirt.Stream;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Files on a host, reached through libvirt alone (the operator has no other way onto a host): a
 * directory is opened as a transient {@code dir} storage pool named after its path, its files and
 * subdirectories are that pool's volumes, and file contents travel in libvirt streams. A pool lives
 * only while a call uses its directory (one left by an interrupted call is closed by the next call
 * there), so hosts do not collect pools nobody asked for.
 */
final class HostFiles {
  private static final int CREATE_WITH_BUILD = 1; // VIR_STORAGE_POOL_CREATE_WITH_BUILD
  private static final int CHUNK = 256 * 1024;

  private final Connect connect;

  /** One call at a time per directory: a pool must not be destroyed under another call. */
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

  HostFiles(Connect connect) {
    this.connect = connect;
  }

  private interface InPool<T> {
    T apply(StoragePool pool) throws LibvirtException, HypervisorException;
  }

  List<HostFile> list(String path) throws HypervisorException {
    return inDirectory(
        path,
        false,
        pool -> {
          if (pool == null) {
            return List.of();
          }
          List<HostFile> entries = new ArrayList<>();
          for (String name : pool.listVolumes()) {
            entries.add(entry(name, pool.storageVolLookupByName(name)));
          }
          entries.sort(java.util.Comparator.comparing(HostFile::name));
          return entries;
        });
  }

  void makeDirectory(String path) throws HypervisorException {
    inDirectory(path, true, pool -> null);
  }

  void write(String path, byte[] content) throws HypervisorException {
    inParent(
        path,
        (pool, name) -> {
          StorageVol existing = lookupVolume(pool, name);
          if (existing != null) {
            existing.delete(0);
          }
          createHolding(connect, pool, name, content);
          return null;
        });
  }

  /**
   * Creates a raw volume holding exactly these bytes: fresh and of the content's size, since an
   * upload writes [0, length) only. A failed upload leaves no volume behind.
   */
  static StorageVol createHolding(Connect connect, StoragePool pool, String name, byte[] content)
      throws LibvirtException {
    StorageVol volume =
        pool.storageVolCreateXML(StorageVolumeXml.render(name, content.length, "raw"), 0);
    Stream stream = connect.streamNew(0);
    try {
      volume.upload(stream, 0, content.length, 0);
      for (int offset = 0; offset < content.length; ) {
        // send may take fewer bytes than offered
        offset +=
            stream.send(
                Arrays.copyOfRange(content, offset, Math.min(offset + CHUNK, content.length)));
      }
      stream.finish();
      return volume;
    } catch (LibvirtException e) {
      abortAndDelete(stream, volume);
      throw e;
    } finally {
      stream.free();
    }
  }

  void upload(String path, java.nio.file.Path content) throws HypervisorException {
    inParent(
        path,
        (pool, name) -> {
          StorageVol existing = lookupVolume(pool, name);
          if (existing != null) {
            existing.delete(0);
          }
          long size;
          try {
            size = java.nio.file.Files.size(content);
          } catch (java.io.IOException e) {
            throw new HypervisorException(
                HypervisorException.Failure.OperationFailed,
                "cannot read " + content + ": " + e.getMessage(),
                e);
          }
          StorageVol volume =
              pool.storageVolCreateXML(StorageVolumeXml.render(name, size, "raw"), 0);
          Stream stream = connect.streamNew(0);
          try (var in = java.nio.file.Files.newInputStream(content)) {
            volume.upload(stream, 0, size, 0);
            byte[] buffer = new byte[CHUNK];
            for (int read; (read = in.read(buffer)) > 0; ) {
              for (int offset = 0; offset < read; ) {
                // send may take fewer bytes than offered
                offset += stream.send(Arrays.copyOfRange(buffer, offset, read));
              }
            }
            stream.finish();
          } catch (LibvirtException e) {
            abortAndDelete(stream, volume);
            throw e;
          } catch (java.io.IOException e) {
            abortAndDelete(stream, volume);
            throw new HypervisorException(
                HypervisorException.Failure.OperationFailed,
                "cannot read " + content + ": " + e.getMessage(),
                e);
          } finally {
            stream.free();
          }
          return null;
        });
  }

  /** A failed upload leaves no volume behind. */
  private static void abortAndDelete(Stream stream, StorageVol volume) throws LibvirtException {
    try {
      stream.abort();
    } finally {
      volume.delete(0);
    }
  }

  byte[] read(String path, int maxBytes) throws HypervisorException {
    var out = new java.io.ByteArrayOutputStream();
    download(
        path,
        maxBytes,
        (chunk, length) -> {
          out.write(chunk, 0, length);
        });
    return out.toByteArray();
  }

  String sha256(String path) throws HypervisorException {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    download(path, Long.MAX_VALUE, (chunk, length) -> digest.update(chunk, 0, length));
    return HexFormat.of().formatHex(digest.digest());
  }

  void delete(String path) throws HypervisorException {
    String[] parentAndName = split(path);
    inDirectory(
        parentAndName[0],
        false,
        pool -> {
          StorageVol volume = pool == null ? null : lookupVolume(pool, parentAndName[1]);
          if (volume != null) {
            if (entry(parentAndName[1], volume).directory()) {
              destroyPoolOf(path);
            }
            volume.delete(0);
          }
          return null; // a file, or its directory, already gone: fine
        });
  }

  void createImage(String path, long capacityBytes, String backingPath) throws HypervisorException {
    inParent(
        path,
        (pool, name) -> {
          StorageVol existing = lookupVolume(pool, name);
          if (existing != null) {
            existing.delete(0); // left by an interrupted attempt
          }
          pool.storageVolCreateXML(
              backingPath == null
                  ? StorageVolumeXml.render(name, capacityBytes, "qcow2")
                  : StorageVolumeXml.overlay(name, capacityBytes, backingPath),
              0);
          return null;
        });
  }

  void copyImage(String sourcePath, String targetPath) throws HypervisorException {
    // Both directories stay open until the copy is made: libvirt finds the source by its pool.
    inParent(
        sourcePath,
        (sourcePool, sourceName) -> {
          StorageVol source = lookupVolume(sourcePool, sourceName);
          if (source == null) {
            throw new HypervisorException(
                HypervisorException.Failure.NotFound, "no file " + sourcePath + " on the host");
          }
          long capacity = source.getInfo().capacity;
          return inParent(
              targetPath,
              (pool, name) -> {
                StorageVol existing = lookupVolume(pool, name);
                if (existing != null) {
                  existing.delete(0);
                }
                // The dir backend converts with qemu-img on the host, through backing files.
                pool.storageVolCreateXMLFrom(
                    StorageVolumeXml.render(name, capacity, "qcow2"), source, 0);
                return null;
              });
        });
  }

  private interface Chunks {
    void accept(byte[] chunk, int length);
  }

  private void download(String path, long maxBytes, Chunks chunks) throws HypervisorException {
    inParent(
        path,
        (pool, name) -> {
          StorageVol volume = lookupVolume(pool, name);
          if (volume == null) {
            throw new HypervisorException(
                HypervisorException.Failure.NotFound, "no file " + path + " on the host");
          }
          // The volume's capacity is the file's size for raw files, the guest's for images:
          // allocation is what the file holds on disk. Read to the stream's end instead.
          Stream stream = connect.streamNew(0);
          try {
            volume.download(stream, 0, 0, 0);
            byte[] buffer = new byte[CHUNK];
            long total = 0;
            for (int got; (got = stream.receive(buffer)) > 0; ) {
              total += got;
              if (total > maxBytes) {
                throw new HypervisorException(
                    HypervisorException.Failure.OperationFailed,
                    path + " is larger than " + maxBytes + " bytes");
              }
              chunks.accept(buffer, got);
            }
            stream.finish();
          } catch (LibvirtException | HypervisorException e) {
            stream.abort();
            throw e;
          } finally {
            stream.free();
          }
          return null;
        });
  }

  private interface InParent<T> {
    T apply(StoragePool pool, String name) throws LibvirtException, HypervisorException;
  }

  private <T> T inParent(String path, InParent<T> action) throws HypervisorException {
    String[] parentAndName = split(path);
    return inDirectory(
        parentAndName[0],
        false,
        pool -> {
          if (pool == null) {
            throw new HypervisorException(
                HypervisorException.Failure.NotFound,
                "no directory " + parentAndName[0] + " on the host");
          }
          return action.apply(pool, parentAndName[1]);
        });
  }

  private static String[] split(String path) {
    int slash = path.lastIndexOf('/');
    if (slash <= 0 || slash == path.length() - 1) {
      throw new IllegalArgumentException("not a file under a directory: " + path);
    }
    return new String[] {path.substring(0, slash), path.substring(slash + 1)};
  }

  /**
   * Runs the action with the directory open as a pool (null when it does not exist and {@code
   * create} is false), then closes the pool again.
   */
  private <T> T inDirectory(String path, boolean create, InPool<T> action)
      throws HypervisorException {
    requireAbsolute(path);
    ReentrantLock lock = locks.computeIfAbsent(path, p -> new ReentrantLock());
    lock.lock();
    try {
      StoragePool pool = lookupPool(poolName(path));
      // Ours, left by an interrupted call (libvirt keeps active transient pools until the host
      // reboots): closed again after this call, unless an outer call of this thread uses it.
      boolean opened = pool != null && lock.getHoldCount() == 1;
      if (pool == null) {
        // A storage domain's own pool may have the directory already; libvirt allows one.
        pool = activePoolAt(path);
      }
      if (pool == null) {
        try {
          pool =
              connect.storagePoolCreateXML(
                  StoragePoolXml.render(new PoolDefinition.Directory(poolName(path), path)),
                  create ? CREATE_WITH_BUILD : 0);
        } catch (LibvirtException e) {
          if (!create && isMissingDirectory(e)) {
            return action.apply(null);
          }
          throw e;
        }
        opened = true;
      } else {
        try {
          pool.refresh(0);
        } catch (LibvirtException busy) {
          // A storage domain's pool refuses while it runs a job (a clone): its list still serves.
        }
      }
      try {
        return action.apply(pool);
      } finally {
        if (opened) {
          destroyQuietly(pool);
        }
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("reach " + path + " on the host", e);
    } finally {
      lock.unlock();
    }
  }

  private StoragePool activePoolAt(String path) throws LibvirtException {
    for (String name : connect.listStoragePools()) {
      StoragePool pool = lookupPool(name);
      String xml;
      try {
        xml = pool == null ? null : pool.getXMLDesc(0);
      } catch (LibvirtException goneSinceTheListing) {
        xml = null;
      }
      if (xml == null) {
        continue;
      }
      NodeList targets = SafeXml.parse(xml).getDocumentElement().getElementsByTagName("target");
      if (targets.getLength() > 0) {
        NodeList paths = ((Element) targets.item(0)).getElementsByTagName("path");
        if (paths.getLength() > 0 && path.equals(paths.item(0).getTextContent().trim())) {
          return pool;
        }
      }
    }
    return null;
  }

  /** A directory about to be deleted must not be held open as a pool. */
  private void destroyPoolOf(String path) throws LibvirtException {
    StoragePool pool = lookupPool(poolName(path));
    if (pool != null) {
      pool.destroy();
    }
  }

  private static void destroyQuietly(StoragePool pool) {
    try {
      pool.destroy();
    } catch (LibvirtException e) {
      // found again by its name and closed by the next call on its directory
    }
  }

  private StoragePool lookupPool(String name) throws LibvirtException {
    return LibvirtHypervisor.lookupPool(connect, name);
  }

  private static StorageVol lookupVolume(StoragePool pool, String name) throws LibvirtException {
    return LibvirtHypervisor.lookupVolume(pool, name);
  }

  /**
   * From the volume's XML: libvirt-java's volume info cannot represent a directory, and a file's
   * size on disk is its {@code physical} element (capacity is what an image's guest sees).
   */
  private static HostFile entry(String name, StorageVol volume) throws LibvirtException {
    Element root = SafeXml.parse(volume.getXMLDesc(0)).getDocumentElement();
    if ("dir".equals(root.getAttribute("type"))) {
      return new HostFile(name, true, 0);
    }
    NodeList physical = root.getElementsByTagName("physical");
    NodeList capacity = root.getElementsByTagName("capacity");
    NodeList size = physical.getLength() > 0 ? physical : capacity;
    return new HostFile(
        name,
        false,
        size.getLength() == 0 ? 0 : Long.parseLong(size.item(0).getTextContent().trim()));
  }

  private static boolean isMissingDirectory(LibvirtException e) {
    return e.getMessage() != null && e.getMessage().contains("No such file or directory");
  }

  private static void requireAbsolute(String path) {
    if (!path.startsWith("/")
        || path.contains("//")
        || path.contains("/./")
        || path.contains("/../")
        || path.endsWith("/..")
        || (path.length() > 1 && path.endsWith("/"))) {
      throw new IllegalArgumentException("not an absolute, normalized path: " + path);
    }
  }

  /** Stable per path, so a pool left by a crash is found and reused, never doubled. */
  static String poolName(String path) {
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256").digest(path.getBytes(StandardCharsets.UTF_8));
      return "bastida-dir-" + HexFormat.of().formatHex(hash, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
