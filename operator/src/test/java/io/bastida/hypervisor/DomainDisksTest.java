package io.bastida.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DomainDisksTest {
  private static final String DOMAIN =
      """
      <domain type='qemu'>
        <name>school_web</name>
        <devices>
          <disk type='network' device='disk'>
            <driver name='qemu' type='qcow2'/>
            <source protocol='nfs' name='/export/school-web-root.qcow2'>
              <host name='10.77.0.10'/>
              <identity user='root' group='root'/>
            </source>
            <target dev='vda' bus='virtio'/>
          </disk>
          <disk type='file' device='disk'>
            <driver name='qemu' type='qcow2'/>
            <source file='/var/lib/bastida/local/school-web-data.qcow2'/>
            <target dev='vdb' bus='virtio'/>
          </disk>
          <disk type='file' device='cdrom'>
            <driver name='qemu' type='raw'/>
            <source file='/var/lib/bastida/local/school-web-seed.iso'/>
            <target dev='sda' bus='sata'/>
            <readonly/>
          </disk>
        </devices>
      </domain>
      """;

  @Test
  void aBackupCopiesTheWritableDisksAndKnowsWhereEachImageIs() {
    assertThat(DomainDisks.writable(DOMAIN))
        .containsExactly(
            new DomainDisks.Disk(
                "vda", true, "nfs://10.77.0.10/export/school-web-root.qcow2", "qcow2", null),
            new DomainDisks.Disk(
                "vdb", true, null, "qcow2", "/var/lib/bastida/local/school-web-data.qcow2"));
  }

  @Test
  void cdromsAndReadOnlyDisksAreListedButNotWritable() {
    assertThat(DomainDisks.of(DOMAIN))
        .filteredOn(d -> !d.writable())
        .extracting(DomainDisks.Disk::target)
        .containsExactly("sda");
  }

  @Test
  void somethingThatIsNotXmlIsRefused() {
    assertThatThrownBy(() -> DomainDisks.of("<domain>"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
