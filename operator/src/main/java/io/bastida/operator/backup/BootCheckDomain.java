package io.bastida.operator.backup;

import io.bastida.xml.SafeXml;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The definition of a throwaway domain that boots a backup to check it: the VM's own definition at
 * backup time, renamed, with each backed-up disk replaced by an overlay on the backup's image (the
 * backup itself is never written), and nothing it could share with the running VM: no network
 * interface, graphics, passed-through device, serial log file, UEFI variable store or guest agent
 * socket path, no UUID and no Bastida ownership. Pure.
 */
public final class BootCheckDomain {
  private BootCheckDomain() {}

  /** What a backed-up disk boots from: a qcow2 overlay whose backing file is the backup's image. */
  public sealed interface Overlay {}

  /** An overlay file on the host. */
  public record FileOverlay(String path) implements Overlay {}

  /**
   * An overlay on an NFS export, opened by QEMU itself (as the VM's Native NFS disks are).
   *
   * @param backingChain the images under it on the same export, its backing file first: named in
   *     the definition so that QEMU opens them as root too (from the image headers it would open
   *     them with its own uid, which the export refuses)
   */
  public record NfsOverlay(String server, String path, List<String> backingChain)
      implements Overlay {
    public NfsOverlay {
      backingChain = List.copyOf(backingChain);
    }
  }

  /** Devices the check must not take from the VM or put on its network. */
  private static final List<String> LEFT_OUT = List.of("interface", "graphics", "hostdev");

  /**
   * @param overlayByDisk the overlay to boot from, by disk target (e.g. vda)
   * @throws IllegalArgumentException when the XML is not a domain or lacks one of the disks
   */
  public static String definition(
      String domainXml, String name, Map<String, ? extends Overlay> overlayByDisk) {
    Document doc = SafeXml.parse(domainXml);
    Element domain = doc.getDocumentElement();
    if (!"domain".equals(domain.getTagName())) {
      throw new IllegalArgumentException("not a domain definition");
    }
    removeAll(childElements(domain, "uuid"));
    removeAll(childElements(domain, "metadata"));
    Element nameElement = childElements(domain, "name").stream().findFirst().orElse(null);
    if (nameElement == null) {
      nameElement = doc.createElement("name");
      domain.insertBefore(nameElement, domain.getFirstChild());
    }
    nameElement.setTextContent(name);
    Element devices =
        childElements(domain, "devices").stream()
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("the domain has no devices"));
    for (Element os : childElements(domain, "os")) {
      // UEFI variables: libvirt makes a fresh store from its template for this domain.
      removeAll(childElements(os, "nvram"));
    }
    for (String tag : LEFT_OUT) {
      removeAll(childElements(devices, tag));
    }
    for (Element serial : childElements(devices, "serial")) {
      removeAll(childElements(serial, "log"));
    }
    for (Element channel : childElements(devices, "channel")) {
      // libvirt makes a socket path of its own, named after this domain.
      removeAll(childElements(channel, "source"));
    }
    int replaced = 0;
    for (Element disk : childElements(devices, "disk")) {
      Element target = childElements(disk, "target").stream().findFirst().orElse(null);
      Overlay overlay = target == null ? null : overlayByDisk.get(target.getAttribute("dev"));
      if (overlay == null) {
        continue;
      }
      removeAll(childElements(disk, "source"));
      removeAll(childElements(disk, "backingStore"));
      Element source = doc.createElement("source");
      if (overlay instanceof NfsOverlay nfs) {
        disk.setAttribute("type", "network");
        nfsSource(source, nfs.server(), nfs.path());
        disk.insertBefore(source, target);
        Element under = disk;
        for (String image : nfs.backingChain()) {
          Element store = doc.createElement("backingStore");
          store.setAttribute("type", "network");
          Element format = doc.createElement("format");
          format.setAttribute("type", "qcow2");
          store.appendChild(format);
          store.appendChild(nfsSource(doc.createElement("source"), nfs.server(), image));
          insertBackingStore(under, store, target);
          under = store;
        }
        // The chain ends here: nothing for libvirt to probe.
        insertBackingStore(under, doc.createElement("backingStore"), target);
      } else {
        disk.setAttribute("type", "file");
        source.setAttribute("file", ((FileOverlay) overlay).path());
        disk.insertBefore(source, target);
      }
      for (Element driver : childElements(disk, "driver")) {
        driver.setAttribute("type", "qcow2");
      }
      replaced++;
    }
    if (replaced != overlayByDisk.size()) {
      throw new IllegalArgumentException(
          "the domain lacks some of the disks " + overlayByDisk.keySet());
    }
    return SafeXml.serialize(doc);
  }

  private static Element nfsSource(Element source, String server, String path) {
    Document doc = source.getOwnerDocument();
    source.setAttribute("protocol", "nfs");
    source.setAttribute("name", path);
    Element host = doc.createElement("host");
    host.setAttribute("name", server);
    source.appendChild(host);
    // As for the VM's own NFS disks: QEMU must present root to the export, not its own uid.
    Element identity = doc.createElement("identity");
    identity.setAttribute("user", "root");
    identity.setAttribute("group", "root");
    source.appendChild(identity);
    return source;
  }

  /** Under a disk, before its target; under a backing store, last. */
  private static void insertBackingStore(Element under, Element store, Element diskTarget) {
    if ("disk".equals(under.getTagName())) {
      under.insertBefore(store, diskTarget);
    } else {
      under.appendChild(store);
    }
  }

  /** Whether the definition gives the guest an agent channel to ask whether it came up. */
  public static boolean hasGuestAgent(String domainXml) {
    NodeList targets = SafeXml.parse(domainXml).getElementsByTagName("target");
    for (int i = 0; i < targets.getLength(); i++) {
      Element target = (Element) targets.item(i);
      if ("channel".equals(((Element) target.getParentNode()).getTagName())
          && "org.qemu.guest_agent.0".equals(target.getAttribute("name"))) {
        return true;
      }
    }
    return false;
  }

  private static List<Element> childElements(Element parent, String tag) {
    List<Element> found = new ArrayList<>();
    for (Node child = parent.getFirstChild(); child != null; child = child.getNextSibling()) {
      if (child instanceof Element element && element.getTagName().equals(tag)) {
        found.add(element);
      }
    }
    return found;
  }

  private static void removeAll(List<Element> elements) {
    elements.forEach(e -> e.getParentNode().removeChild(e));
  }
}
