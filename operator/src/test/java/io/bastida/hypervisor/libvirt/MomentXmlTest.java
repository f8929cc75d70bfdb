package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.hypervisor.libvirt.MomentXml.Moment;
import java.util.List;
import org.junit.jupiter.api.Test;

class MomentXmlTest {
  private static String snapshot(String name, String parent) {
    return "<domainsnapshot><name>"
        + name
        + "</name>"
        + (parent == null ? "" : "<parent><name>" + parent + "</name></parent>")
        + "<domain type='qemu'><name>web</name></domain></domainsnapshot>";
  }

  @Test
  void readsTheMomentsOwnNameAndParentNotTheEmbeddedDomains() {
    assertThat(MomentXml.read(snapshot("s2", "s1"))).isEqualTo(new Moment("s2", "s1"));
    assertThat(MomentXml.read(snapshot("s1", null))).isEqualTo(new Moment("s1", null));
    assertThat(
            MomentXml.read(
                "<domaincheckpoint>\n  <name> c1 </name>\n  <disks/>\n</domaincheckpoint>"))
        .isEqualTo(new Moment("c1", null));
  }

  @Test
  void ordersEachParentBeforeItsChildrenAndKeepsTheOrderOtherwise() {
    // a <- b <- d, a <- c, and a root e, listed children first
    String a = snapshot("a", null);
    String b = snapshot("b", "a");
    String c = snapshot("c", "a");
    String d = snapshot("d", "b");
    String e = snapshot("e", null);

    assertThat(MomentXml.parentsFirst(List.of(d, c, b, e, a))).containsExactly(e, a, c, b, d);
    assertThat(MomentXml.parentsFirst(List.of(a, b, c, d, e))).containsExactly(a, b, c, d, e);
    assertThat(MomentXml.parentsFirst(List.of())).isEmpty();
  }

  @Test
  void aParentOutsideTheListCountsAsDefined() {
    String child = snapshot("child", "elsewhere");
    String grandchild = snapshot("grandchild", "child");

    assertThat(MomentXml.parentsFirst(List.of(grandchild, child)))
        .containsExactly(child, grandchild);
  }

  @Test
  void aCycleIsRefused() {
    assertThatThrownBy(
            () -> MomentXml.parentsFirst(List.of(snapshot("x", "y"), snapshot("y", "x"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cycle");
  }

  @Test
  void unreadableDefinitionsAreRefused() {
    assertThatThrownBy(() -> MomentXml.read("<domainsnapshot><name>x</domainsnapshot>"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> MomentXml.read("<domainsnapshot><state>running</state></domainsnapshot>"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("without a <name>");
    // No entities: a DOCTYPE could expand or fetch them.
    assertThatThrownBy(
            () ->
                MomentXml.read(
                    "<!DOCTYPE s [<!ENTITY n 'x'>]><domainsnapshot><name>&n;</name>"
                        + "</domainsnapshot>"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
