package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.xml.SafeXml;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

class StorageVolumeXmlTest {

  @Test
  void qcow2VolumesAreVersion3SoCheckpointBitmapsFit() throws Exception {
    Document xml = SafeXml.parse(StorageVolumeXml.render("web-root", 1 << 30, "qcow2"));

    assertThat(text(xml, "/volume/target/format/@type")).isEqualTo("qcow2");
    assertThat(text(xml, "/volume/target/compat")).isEqualTo("1.1");
    assertThat(text(xml, "/volume/capacity")).isEqualTo("1073741824");
  }

  @Test
  void rawVolumesHaveNoQcow2Options() throws Exception {
    Document xml = SafeXml.parse(StorageVolumeXml.render("seed.iso", 4096, "raw"));

    assertThat(text(xml, "/volume/target/format/@type")).isEqualTo("raw");
    assertThat(text(xml, "count(/volume/target/compat)")).isEqualTo("0");
  }

  @Test
  void overlayNamesItsBackingImage() throws Exception {
    Document xml =
        SafeXml.parse(StorageVolumeXml.overlay("web-root", 1 << 30, "/srv/vms/debian.qcow2"));

    assertThat(text(xml, "/volume/backingStore/path")).isEqualTo("/srv/vms/debian.qcow2");
    assertThat(text(xml, "/volume/backingStore/format/@type")).isEqualTo("qcow2");
    assertThat(text(xml, "/volume/target/compat")).isEqualTo("1.1");
  }

  private static String text(Document xml, String xpath) throws Exception {
    return XPathFactory.newInstance().newXPath().evaluate(xpath, xml);
  }
}
