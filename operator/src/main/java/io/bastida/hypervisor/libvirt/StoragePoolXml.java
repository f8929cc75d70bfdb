package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.PoolDefinition;
import io.bastida.hypervisor.PoolDefinition.Directory;
import io.bastida.hypervisor.PoolDefinition.NetworkFilesystem;
import io.bastida.xml.SafeXml;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** Renders libvirt storage pool XML with a DOM, so no value can break out of its element. */
public final class StoragePoolXml {
  static final String FS_NAMESPACE = "http://libvirt.org/schemas/storagepool/fs/1.0";

  private StoragePoolXml() {}

  public static String render(PoolDefinition pool) {
    Document doc = SafeXml.newDocument();
    Element root = doc.createElement("pool");
    doc.appendChild(root);
    append(root, "name").setTextContent(pool.name());
    String targetPath;
    if (pool instanceof NetworkFilesystem nfs) {
      root.setAttribute("type", "netfs");
      Element source = append(root, "source");
      append(source, "host").setAttribute("name", nfs.server());
      append(source, "dir").setAttribute("path", nfs.exportPath());
      append(source, "format").setAttribute("type", "nfs");
      targetPath = nfs.mountPoint();
      if (!nfs.mountOptions().isEmpty()) {
        root.setAttribute("xmlns:fs", FS_NAMESPACE);
        Element options = doc.createElementNS(FS_NAMESPACE, "fs:mount_opts");
        root.appendChild(options);
        for (String option : nfs.mountOptions()) {
          Element element = doc.createElementNS(FS_NAMESPACE, "fs:option");
          element.setAttribute("name", option);
          options.appendChild(element);
        }
      }
    } else {
      root.setAttribute("type", "dir");
      targetPath = ((Directory) pool).path();
    }
    Element target = append(root, "target");
    append(target, "path").setTextContent(targetPath);
    return SafeXml.serialize(doc);
  }

  static Element append(Element parent, String name) {
    Element child = parent.getOwnerDocument().createElement(name);
    parent.appendChild(child);
    return child;
  }
}
