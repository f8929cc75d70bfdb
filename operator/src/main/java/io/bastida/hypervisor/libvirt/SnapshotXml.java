package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.SnapshotInfo;
import io.bastida.xml.SafeXml;
import java.time.Instant;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** Writes the definition of a new internal snapshot and reads back what libvirt made. */
final class SnapshotXml {
  private SnapshotXml() {}

  /**
   * A snapshot of every writable disk, held inside its qcow2 image; read-only disks (CD-ROMs,
   * cloud-init seeds) are left out since they cannot change. The RAM is saved only for a running
   * domain asked to: libvirt can save it nowhere else for internal snapshots.
   */
  static String define(String name, String description, String domainXml, boolean withMemory) {
    Document doc = SafeXml.newDocument();
    Element root = doc.createElement("domainsnapshot");
    doc.appendChild(root);
    append(doc, root, "name").setTextContent(name);
    append(doc, root, "description").setTextContent(description);
    append(doc, root, "memory").setAttribute("snapshot", withMemory ? "internal" : "no");
    Element disks = append(doc, root, "disks");
    for (DomainDisks.Disk disk : DomainDisks.of(domainXml)) {
      Element snapshotDisk = append(doc, disks, "disk");
      snapshotDisk.setAttribute("name", disk.target());
      snapshotDisk.setAttribute("snapshot", disk.writable() ? "internal" : "no");
    }
    return SafeXml.serialize(doc);
  }

  /**
   * @throws IllegalArgumentException when the text is not a snapshot definition
   */
  static SnapshotInfo read(String xml) {
    Element root = SafeXml.parse(xml).getDocumentElement();
    String name = childText(root, "name");
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("<domainsnapshot> without a <name>");
    }
    String created = childText(root, "creationTime");
    Instant creationTime = created == null ? null : Instant.ofEpochSecond(Long.parseLong(created));
    Element memory = child(root, "memory");
    String state = childText(root, "state");
    boolean running = "running".equals(state) || "paused".equals(state);
    // Older definitions have no <memory>: a running state then means RAM was saved.
    boolean memorySaved =
        memory == null ? running : !"no".equals(memory.getAttribute("snapshot")) && running;
    return new SnapshotInfo(name, creationTime, memorySaved);
  }

  private static Element append(Document doc, Element parent, String tag) {
    Element element = doc.createElement(tag);
    parent.appendChild(element);
    return element;
  }

  private static Element child(Element parent, String tag) {
    for (var node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element && tag.equals(element.getTagName())) {
        return element;
      }
    }
    return null;
  }

  private static String childText(Element parent, String tag) {
    Element element = child(parent, tag);
    return element == null ? null : element.getTextContent().trim();
  }
}
