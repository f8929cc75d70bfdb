package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.hypervisor.PoolDefinition;
import java.io.StringReader;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

class StoragePoolXmlTest {

  @Test
  void directoryPoolPointsAtThePath() throws Exception {
    Document xml =
        parse(StoragePoolXml.render(new PoolDefinition.Directory("bastida-local", "/srv/vms")));

    assertThat(text(xml, "/pool/@type")).isEqualTo("dir");
    assertThat(text(xml, "/pool/name")).isEqualTo("bastida-local");
    assertThat(text(xml, "/pool/target/path")).isEqualTo("/srv/vms");
    assertThat(text(xml, "count(/pool/source)")).isEqualTo("0");
  }

  @Test
  void netfsPoolNamesServerExportMountPointAndOptions() throws Exception {
    Document xml =
        parse(
            StoragePoolXml.render(
                new PoolDefinition.NetworkFilesystem(
                    "bastida-nfs",
                    "nfs.school.lan",
                    "/export/vms",
                    "/var/lib/bastida/mnt/nfs",
                    List.of("vers=4.2", "soft"))));

    assertThat(text(xml, "/pool/@type")).isEqualTo("netfs");
    assertThat(text(xml, "/pool/source/host/@name")).isEqualTo("nfs.school.lan");
    assertThat(text(xml, "/pool/source/dir/@path")).isEqualTo("/export/vms");
    assertThat(text(xml, "/pool/source/format/@type")).isEqualTo("nfs");
    assertThat(text(xml, "/pool/target/path")).isEqualTo("/var/lib/bastida/mnt/nfs");
    NodeList options = xml.getElementsByTagNameNS(StoragePoolXml.FS_NAMESPACE, "option");
    assertThat(options.getLength()).isEqualTo(2);
    assertThat(options.item(0).getAttributes().getNamedItem("name").getNodeValue())
        .isEqualTo("vers=4.2");
  }

  @Test
  void valuesCannotInjectElements() throws Exception {
    String hostile = "/srv</path></target><source><host name='evil'/></source><target><path>/x";
    Document xml = parse(StoragePoolXml.render(new PoolDefinition.Directory("p", hostile)));

    assertThat(text(xml, "/pool/target/path")).isEqualTo(hostile);
    assertThat(text(xml, "count(//host)")).isEqualTo("0");
  }

  private static Document parse(String xml) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    return factory.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
  }

  private static String text(Document doc, String xpath) throws Exception {
    return (String)
        XPathFactory.newInstance().newXPath().evaluate(xpath, doc, XPathConstants.STRING);
  }
}
