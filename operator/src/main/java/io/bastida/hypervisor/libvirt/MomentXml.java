package io.bastida.hypervisor.libvirt;

import io.bastida.xml.SafeXml;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Reads names and parents from snapshot and checkpoint XML (libvirt's "moments": {@code
 * <domainsnapshot>}, {@code <domaincheckpoint>}), whose redefinition needs each parent first.
 */
final class MomentXml {
  private MomentXml() {}

  /** A moment's name and its parent's name (null for a root). */
  record Moment(String name, String parent) {}

  /**
   * @throws IllegalArgumentException when the text is not well-formed XML of a named moment
   */
  static Moment read(String xml) {
    Element root = SafeXml.parse(xml).getDocumentElement();
    // Only the moment's own children: its embedded <domain> has a <name> too.
    String name = childText(root, "name");
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("<" + root.getTagName() + "> without a <name>");
    }
    Element parent = child(root, "parent");
    return new Moment(name, parent == null ? null : childText(parent, "name"));
  }

  /**
   * The same definitions, each parent before its children (taken in passes over the given order). A
   * parent missing from the list counts as present: it may be defined already.
   *
   * @throws IllegalArgumentException for an unreadable definition or a cycle
   */
  static List<String> parentsFirst(List<String> xmls) {
    Map<String, String> pending = new LinkedHashMap<>();
    Map<String, String> parentOf = new HashMap<>();
    for (String xml : xmls) {
      Moment moment = read(xml);
      pending.put(moment.name(), xml);
      parentOf.put(moment.name(), moment.parent());
    }
    List<String> ordered = new ArrayList<>();
    while (!pending.isEmpty()) {
      int before = ordered.size();
      for (var it = pending.entrySet().iterator(); it.hasNext(); ) {
        var entry = it.next();
        String parent = parentOf.get(entry.getKey());
        if (parent == null || !pending.containsKey(parent)) {
          ordered.add(entry.getValue());
          it.remove();
        }
      }
      if (ordered.size() == before) {
        throw new IllegalArgumentException("parent cycle among " + pending.keySet());
      }
    }
    return ordered;
  }

  private static String childText(Element parent, String name) {
    Element child = child(parent, name);
    return child == null ? null : child.getTextContent().trim();
  }

  private static Element child(Element parent, String name) {
    for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element && name.equals(element.getTagName())) {
        return element;
      }
    }
    return null;
  }
}
