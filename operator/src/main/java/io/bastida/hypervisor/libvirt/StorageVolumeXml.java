package io.bastida.hypervisor.libvirt;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** Renders libvirt storage volume XML with a DOM. Thin: no allocation up front. */
final class StorageVolumeXml {
  private StorageVolumeXml() {}

  static String render(String name, long capacityBytes, String format) {
    try {
      Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().newDocument();
      Element volume = doc.createElement("volume");
      doc.appendChild(volume);
      append(volume, "name").setTextContent(name);
      Element capacity = append(volume, "capacity");
      capacity.setAttribute("unit", "bytes");
      capacity.setTextContent(Long.toString(capacityBytes));
      append(volume, "allocation").setTextContent("0");
      append(append(volume, "target"), "format").setAttribute("type", format);
      var transformer = TransformerFactory.newInstance().newTransformer();
      transformer.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
      var out = new java.io.StringWriter();
      transformer.transform(new DOMSource(doc), new StreamResult(out));
      return out.toString();
    } catch (ParserConfigurationException | TransformerException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Element append(Element parent, String name) {
    Element child = parent.getOwnerDocument().createElement(name);
    parent.appendChild(child);
    return child;
  }
}
