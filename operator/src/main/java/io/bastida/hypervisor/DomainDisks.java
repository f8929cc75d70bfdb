package io.bastida.hypervisor;

import io.bastida.xml.SafeXml;
import java.util.ArrayList;
import java.util.List;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The disks of a libvirt domain definition, as a backup sees them. */
public final class DomainDisks {
  private DomainDisks() {}

  /**
   * One disk of the domain.
   *
   * @param target the device name the guest sees, e.g. {@code vda}
   * @param writable false for CD-ROMs and read-only disks (cloud-init seeds): never backed up
   * @param nfsUrl {@code nfs://server/export/file} when QEMU opens the image over NFS itself; null
   *     for any other source (a file on the host)
   * @param format the image format, e.g. {@code qcow2}
   * @param file the image's path on the host for a file disk; null for any other source
   */
  public record Disk(String target, boolean writable, String nfsUrl, String format, String file) {}

  /**
   * @throws IllegalArgumentException when the XML is not a readable domain definition
   */
  public static List<Disk> of(String domainXml) {
    NodeList disks = SafeXml.parse(domainXml).getElementsByTagName("disk");
    List<Disk> found = new ArrayList<>();
    for (int i = 0; i < disks.getLength(); i++) {
      Element disk = (Element) disks.item(i);
      Element target = first(disk, "target");
      if (target == null) {
        continue;
      }
      boolean writable =
          first(disk, "readonly") == null && !"cdrom".equals(disk.getAttribute("device"));
      Element driver = first(disk, "driver");
      found.add(
          new Disk(
              target.getAttribute("dev"),
              writable,
              nfsUrl(disk),
              driver == null ? "raw" : driver.getAttribute("type"),
              file(disk)));
    }
    return found;
  }

  /** The writable disks: those a backup copies. */
  public static List<Disk> writable(String domainXml) {
    return of(domainXml).stream().filter(Disk::writable).toList();
  }

  private static String nfsUrl(Element disk) {
    Element source = first(disk, "source");
    if (!"network".equals(disk.getAttribute("type"))
        || source == null
        || !"nfs".equals(source.getAttribute("protocol"))) {
      return null;
    }
    Element host = first(source, "host");
    if (host == null) {
      return null;
    }
    return "nfs://" + host.getAttribute("name") + source.getAttribute("name");
  }

  private static String file(Element disk) {
    Element source = first(disk, "source");
    if (!"file".equals(disk.getAttribute("type")) || source == null) {
      return null;
    }
    String file = source.getAttribute("file");
    return file.isEmpty() ? null : file;
  }

  private static Element first(Element parent, String tag) {
    NodeList found = parent.getElementsByTagName(tag);
    return found.getLength() == 0 ? null : (Element) found.item(0);
  }
}
