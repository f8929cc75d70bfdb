package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.hypervisor.PushBackupRequest;
import io.bastida.xml.SafeXml;
import java.util.List;
import java.util.Map;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

class BackupXmlTest {
  private static final String DOMAIN_XML =
      """
      <domain type='qemu'>
        <name>web</name>
        <devices>
          <disk type='network' device='disk'>
            <source protocol='nfs' name='/export/web-root.qcow2'/>
            <target dev='vda' bus='virtio'/>
          </disk>
          <disk type='network' device='disk'>
            <source protocol='nfs' name='/export/web-data.qcow2'/>
            <target dev='vdb' bus='virtio'/>
          </disk>
          <disk type='file' device='cdrom'>
            <source file='/var/lib/bastida/web-seed.iso'/>
            <target dev='sda' bus='sata'/>
            <readonly/>
          </disk>
        </devices>
      </domain>
      """;

  // An incremental pull backup of vda as virDomainBackupGetXMLDesc describes it (libvirt 9.0).
  private static final String RUNNING_INCREMENTAL =
      """
      <domainbackup mode='pull'>
        <incremental>ck1</incremental>
        <server transport='tcp' name='10.77.0.1' port='10871'/>
        <disks>
          <disk name='vda' backup='yes' type='file' backupmode='incremental' incremental='ck1'
                exportname='vda' exportbitmap='backup-vda'>
            <driver type='qcow2'/>
            <scratch file='/var/lib/libvirt/qemu/bastida-scratch-web-vda-1700000000000.qcow2'/>
          </disk>
          <disk name='vdb' backup='no'/>
          <disk name='sda' backup='no'/>
        </disks>
      </domainbackup>
      """;

  private static final PullBackupRequest FULL =
      new PullBackupRequest("10.77.0.1", 10871, List.of("vda"), null, "ck1");
  private static final PullBackupRequest INCREMENTAL =
      new PullBackupRequest("10.77.0.1", 10871, List.of("vda"), "ck1", "ck2");

  @Test
  void aFullBackupExportsTheRequestedDisksWithScratchFilesOfTheirOwn() throws Exception {
    Document backup =
        SafeXml.parse(
            BackupXml.pullBackup(
                "web",
                DOMAIN_XML,
                new PullBackupRequest("10.77.0.1", 10871, List.of("vda", "vdb"), null, "ck1"),
                1700000000000L));

    assertThat(xpath("/domainbackup/@mode", backup)).isEqualTo("pull");
    assertThat(xpath("count(/domainbackup/incremental)", backup)).isEqualTo("0");
    assertThat(xpath("/domainbackup/server/@transport", backup)).isEqualTo("tcp");
    assertThat(xpath("/domainbackup/server/@name", backup)).isEqualTo("10.77.0.1");
    assertThat(xpath("/domainbackup/server/@port", backup)).isEqualTo("10871");
    assertThat(xpath("/domainbackup/disks/disk[@name='vda']/@backup", backup)).isEqualTo("yes");
    assertThat(xpath("/domainbackup/disks/disk[@name='vda']/@type", backup)).isEqualTo("file");
    assertThat(xpath("/domainbackup/disks/disk[@name='vda']/scratch/@file", backup))
        .isEqualTo("/var/lib/libvirt/qemu/bastida-scratch-web-vda-1700000000000.qcow2");
    assertThat(xpath("/domainbackup/disks/disk[@name='vdb']/scratch/@file", backup))
        .isEqualTo("/var/lib/libvirt/qemu/bastida-scratch-web-vdb-1700000000000.qcow2");
    assertThat(xpath("/domainbackup/disks/disk[@name='sda']/@backup", backup)).isEqualTo("no");
    assertThat(xpath("count(/domainbackup/disks/disk[@name='sda']/*)", backup)).isEqualTo("0");
  }

  @Test
  void anIncrementalBackupNamesItsCheckpoint() throws Exception {
    Document backup = SafeXml.parse(BackupXml.pullBackup("web", DOMAIN_XML, INCREMENTAL, 1));

    assertThat(xpath("/domainbackup/incremental", backup)).isEqualTo("ck1");
    assertThat(xpath("/domainbackup/disks/disk[@name='vdb']/@backup", backup)).isEqualTo("no");
  }

  @Test
  void checkpointsTrackTheBackedUpDisksOnly() throws Exception {
    Document checkpoint =
        SafeXml.parse(BackupXml.checkpoint(DOMAIN_XML, INCREMENTAL.diskTargets(), "ck2"));

    assertThat(xpath("/domaincheckpoint/name", checkpoint)).isEqualTo("ck2");
    assertThat(xpath("/domaincheckpoint/disks/disk[@name='vda']/@checkpoint", checkpoint))
        .isEqualTo("bitmap");
    assertThat(xpath("/domaincheckpoint/disks/disk[@name='vdb']/@checkpoint", checkpoint))
        .isEqualTo("no");
    assertThat(xpath("/domaincheckpoint/disks/disk[@name='sda']/@checkpoint", checkpoint))
        .isEqualTo("no");
  }

  @Test
  void aPushBackupWritesEachDiskIntoItsImageOnTheHost() throws Exception {
    Document backup =
        SafeXml.parse(
            BackupXml.pushBackup(
                DOMAIN_XML,
                new PushBackupRequest(
                    Map.of("vda", "/srv/bastida-backups/school/web/b2/vda.qcow2"), "ck1", "ck2")));

    assertThat(xpath("/domainbackup/@mode", backup)).isEqualTo("push");
    assertThat(xpath("/domainbackup/incremental", backup)).isEqualTo("ck1");
    assertThat(xpath("/domainbackup/disks/disk[@name='vda']/target/@file", backup))
        .isEqualTo("/srv/bastida-backups/school/web/b2/vda.qcow2");
    assertThat(xpath("/domainbackup/disks/disk[@name='vda']/driver/@type", backup))
        .isEqualTo("qcow2");
    assertThat(xpath("/domainbackup/disks/disk[@name='vdb']/@backup", backup)).isEqualTo("no");
    assertThat(xpath("count(/domainbackup/server)", backup)).isEqualTo("0");
  }

  @Test
  void valuesCannotBreakOutOfTheirElements() throws Exception {
    PullBackupRequest hostile =
        new PullBackupRequest(
            "10.77.0.1' port='1", 10871, List.of("vda"), "</incremental><x/>", "ck<2>");

    Document backup = SafeXml.parse(BackupXml.pullBackup("we/b'\"<", DOMAIN_XML, hostile, 7));
    Document checkpoint =
        SafeXml.parse(BackupXml.checkpoint(DOMAIN_XML, hostile.diskTargets(), "ck<2>"));

    assertThat(xpath("/domainbackup/incremental", backup)).isEqualTo("</incremental><x/>");
    assertThat(xpath("/domainbackup/server/@name", backup)).isEqualTo("10.77.0.1' port='1");
    assertThat(xpath("/domainbackup/disks/disk[@name='vda']/scratch/@file", backup))
        .isEqualTo("/var/lib/libvirt/qemu/bastida-scratch-we_b___-vda-7.qcow2");
    assertThat(xpath("/domaincheckpoint/name", checkpoint)).isEqualTo("ck<2>");
  }

  @Test
  void aDiskTheDomainLacksIsRefused() {
    var request = new PullBackupRequest("10.77.0.1", 10871, List.of("vda", "vdz"), null, null);

    assertThatThrownBy(() -> BackupXml.pullBackup("web", DOMAIN_XML, request, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("vdz");
    assertThatThrownBy(() -> BackupXml.checkpoint(DOMAIN_XML, request.diskTargets(), "ck"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                BackupXml.pullBackup(
                    "web", DOMAIN_XML, new PullBackupRequest("h", 1, List.of(), null, null), 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void readsWhereARunningJobServesEachDiskAndItsChanges() {
    BackupExport export = BackupXml.readExport(RUNNING_INCREMENTAL);

    assertThat(export)
        .isEqualTo(
            new BackupExport(
                "10.77.0.1",
                10871,
                Map.of("vda", "vda"),
                Map.of("vda", "qemu:dirty-bitmap:backup-vda")));
    assertThat(export.nbdUrl("vda")).isEqualTo("nbd://10.77.0.1:10871/vda");
    assertThatThrownBy(() -> export.nbdUrl("vdb")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aFullJobHasNoDirtyBitmapsAndAnExportNamedAfterItsDiskByDefault() {
    BackupExport export =
        BackupXml.readExport(
            "<domainbackup mode='pull'><server transport='tcp' name='fd00::1' port='10809'/>"
                + "<disks><disk name='vda' backup='yes'/></disks></domainbackup>");

    assertThat(export.exportByDisk()).isEqualTo(Map.of("vda", "vda"));
    assertThat(export.dirtyBitmapByDisk()).isEmpty();
    assertThat(export.nbdUrl("vda")).isEqualTo("nbd://[fd00::1]:10809/vda");
  }

  @Test
  void pushJobsAndUnixSocketsAreNotExportsOverTcp() {
    assertThatThrownBy(
            () ->
                BackupXml.readExport(
                    "<domainbackup mode='push'><disks><disk name='vda'/></disks></domainbackup>"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                BackupXml.readExport(
                    "<domainbackup mode='pull'><server transport='unix' socket='/s'/>"
                        + "</domainbackup>"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aRunningJobIsTheRequestsOnlyWithTheSameCheckpointDisksAndAddress() {
    assertThat(BackupXml.isJobFor(RUNNING_INCREMENTAL, INCREMENTAL)).isTrue();
    assertThat(BackupXml.isJobFor(RUNNING_INCREMENTAL, FULL)).isFalse();
    assertThat(
            BackupXml.isJobFor(
                RUNNING_INCREMENTAL,
                new PullBackupRequest("10.77.0.1", 10872, List.of("vda"), "ck1", "ck2")))
        .isFalse();
    assertThat(
            BackupXml.isJobFor(
                RUNNING_INCREMENTAL,
                new PullBackupRequest("10.77.0.1", 10871, List.of("vda", "vdb"), "ck1", "ck2")))
        .isFalse();
    assertThat(BackupXml.isJobFor("<domainbackup mode='push'/>", FULL)).isFalse();
  }

  private static String xpath(String expression, Document doc) throws Exception {
    String value = XPathFactory.newInstance().newXPath().evaluate(expression, doc);
    return expression.startsWith("count(") ? value.replaceAll("\\.0$", "") : value;
  }
}
