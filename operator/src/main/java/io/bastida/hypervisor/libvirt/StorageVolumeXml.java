package io.bastida.hypervisor.libvirt;

import io.bastida.xml.SafeXml;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** Renders libvirt storage volume XML with a DOM. Thin: no allocation up front; qcow2 v3. */
final class StorageVolumeXml {
  private StorageVolumeXml() {}

  /** A qcow2 overlay whose reads fall through to {@code backingPath} until written. */
  static String overlay(String name, long capacityBytes, String backingPath) {
    return render(name, capacityBytes, "qcow2", backingPath);
  }

  static String render(String name, long capacityBytes, String format) {
    return render(name, capacityBytes, format, null);
  }

  private static String render(String name, long capacityBytes, String format, String backing) {
    Document doc = SafeXml.newDocument();
    Element volume = doc.createElement("volume");
    doc.appendChild(volume);
    append(volume, "name").setTextContent(name);
    Element capacity = append(volume, "capacity");
    capacity.setAttribute("unit", "bytes");
    capacity.setTextContent(Long.toString(capacityBytes));
    append(volume, "allocation").setTextContent("0");
    Element target = append(volume, "target");
    append(target, "format").setAttribute("type", format);
    if ("qcow2".equals(format)) {
      // libvirt 9 writes qcow2 v2 (compat 0.10) unless told: QEMU cannot keep the persistent dirty
      // bitmaps of backup checkpoints in those ("Cannot store dirty bitmaps in qcow2 v2 files").
      append(target, "compat").setTextContent("1.1");
    }
    if (backing != null) {
      Element store = append(volume, "backingStore");
      append(store, "path").setTextContent(backing);
      append(store, "format").setAttribute("type", "qcow2");
    }
    return SafeXml.serialize(doc);
  }

  private static Element append(Element parent, String name) {
    return StoragePoolXml.append(parent, name);
  }
}
