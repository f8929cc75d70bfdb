package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.operator.backup.BackupManifest.Disk;
import io.bastida.operator.backup.BackupManifest.Verification;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackupManifestTest {
  private static final String SHA_A = "a".repeat(64);
  private static final String SHA_B = "0123456789abcdef".repeat(4);
  private static final Instant STARTED = Instant.parse("2026-11-27T02:00:00Z");
  private static final Instant COMPLETED = Instant.parse("2026-11-27T02:04:30Z");

  private static final BackupManifest INCREMENTAL =
      new BackupManifest(
          "web-20261127",
          "shop",
          "web",
          "5f0c2a9e-8d1b-4c1e-9d3a-2b7f4e6a1c00",
          "nightly",
          "nfs-backups",
          "kvm-1",
          BackupMode.Incremental,
          "web-20261126",
          "web-20261120",
          3,
          "web-20261127",
          STARTED,
          COMPLETED,
          1_048_576,
          List.of(
              new Disk(
                  "root",
                  "vda",
                  "root.qcow2",
                  "qcow2",
                  21_474_836_480L,
                  1_048_576,
                  SHA_A,
                  "../web-20261126/root.qcow2")),
          "domain.xml",
          "vm.json",
          new Verification(Instant.parse("2026-11-27T02:05:00Z"), "sha256", true, null));

  private static final String INCREMENTAL_JSON =
      """
      {
        "formatVersion": "bastida.io/backup-manifest/v1",
        "backupName": "web-20261127",
        "namespace": "shop",
        "vmName": "web",
        "vmUid": "5f0c2a9e-8d1b-4c1e-9d3a-2b7f4e6a1c00",
        "policyName": "nightly",
        "storageDomainName": "nfs-backups",
        "hostName": "kvm-1",
        "mode": "Incremental",
        "parentBackupName": "web-20261126",
        "chainBaseName": "web-20261120",
        "chainLength": 3,
        "checkpointName": "web-20261127",
        "startedAt": "2026-11-27T02:00:00Z",
        "completedAt": "2026-11-27T02:04:30Z",
        "totalBytes": 1048576,
        "disks": [
          {
            "name": "root",
            "target": "vda",
            "file": "root.qcow2",
            "format": "qcow2",
            "virtualSizeBytes": 21474836480,
            "fileSizeBytes": 1048576,
            "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "backingFile": "../web-20261126/root.qcow2"
          }
        ],
        "domainXmlFile": "domain.xml",
        "vmSpecFile": "vm.json",
        "verified": {
          "at": "2026-11-27T02:05:00Z",
          "method": "sha256",
          "ok": true,
          "message": null
        }
      }
      """;

  @Test
  void writesTheDocumentedShapeWithTheVersionFirst() {
    assertThat(INCREMENTAL.toJson()).isEqualTo(INCREMENTAL_JSON);
  }

  @Test
  void readsBackWhatItWrote() {
    assertThat(BackupManifest.parse(INCREMENTAL.toJson())).isEqualTo(INCREMENTAL);
  }

  @Test
  void aStoppedVmsFullBackupRoundTripsWithItsNullFields() {
    var full =
        new BackupManifest(
            "db-20261127",
            "shop",
            "db",
            "uid-2",
            null,
            "local-disk",
            "kvm-2",
            BackupMode.Full,
            null,
            "db-20261127",
            1,
            null,
            STARTED,
            COMPLETED,
            3_000,
            List.of(
                new Disk("root", "vda", "root.qcow2", "qcow2", 10_000, 2_000, SHA_A, null),
                new Disk("data", "vdb", "data.qcow2", "qcow2", 10_000, 1_000, SHA_B, null)),
            "domain.xml",
            "vm.json",
            null);

    var read = BackupManifest.parse(full.toJson());

    assertThat(read).isEqualTo(full);
    assertThat(read.disks()).extracting(Disk::name).containsExactly("root", "data");
  }

  @Test
  void fieldsFromANewerWriterOfTheSameVersionAreSkipped() {
    String withExtras =
        INCREMENTAL_JSON
            .replace(
                "\"vmName\": \"web\",", "\"vmName\": \"web\", \"encryption\": {\"cipher\": \"x\"},")
            .replace("\"target\": \"vda\",", "\"target\": \"vda\", \"compressed\": true,");

    assertThat(BackupManifest.parse(withExtras)).isEqualTo(INCREMENTAL);
  }

  @Test
  void optionalFieldsMayBeLeftOut() {
    String withoutOptionals =
        INCREMENTAL_JSON
            .replace("\"policyName\": \"nightly\",", "")
            .replaceAll("(?s),\\s*\"verified\": \\{.*?}", "");

    var read = BackupManifest.parse(withoutOptionals);

    assertThat(read.policyName()).isNull();
    assertThat(read.verified()).isNull();
  }

  @Test
  void anotherFormatVersionIsRefusedBeforeAnythingElse() {
    assertThatThrownBy(
            () -> BackupManifest.parse("{\"formatVersion\": \"bastida.io/backup-manifest/v2\"}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bastida.io/backup-manifest/v2")
        .hasMessageContaining("reads only bastida.io/backup-manifest/v1");
    assertThatThrownBy(() -> BackupManifest.parse("{\"backupName\": \"b\"}"))
        .hasMessageContaining("formatVersion is null");
  }

  @Test
  void aMissingRequiredFieldIsNamed() {
    assertThatThrownBy(() -> parseReplacing("\"vmUid\"", "\"vmUID\""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("invalid backup manifest: vmUid is required");
    assertThatThrownBy(() -> parseReplacing("\"chainLength\": 3,", ""))
        .hasMessage("invalid backup manifest: chainLength is required");
    assertThatThrownBy(() -> parseReplacing("\"totalBytes\": 1048576", "\"totalBytes\": null"))
        .hasMessage("invalid backup manifest: totalBytes is required");
    assertThatThrownBy(() -> parseReplacing("\"ok\": true,", ""))
        .hasMessage("invalid backup manifest: verified.ok is required");
  }

  @Test
  void aBrokenDiskIsNamedWithItsPosition() {
    assertThatThrownBy(() -> parseReplacing("\"fileSizeBytes\": 1048576,", ""))
        .hasMessage("invalid backup manifest: disks[0].fileSizeBytes is required");
    assertThatThrownBy(() -> parseReplacing("\"target\": \"vda\",", ""))
        .hasMessage("invalid backup manifest: disks[0]: target is required");
    assertThatThrownBy(() -> parseReplacing(SHA_A, SHA_A.toUpperCase()))
        .hasMessage(
            "invalid backup manifest: disks[0]: sha256 must be 64 lower-case hex digits: "
                + SHA_A.toUpperCase());
  }

  @Test
  void aValueOfTheWrongKindIsNamed() {
    assertThatThrownBy(
            () -> parseReplacing("\"mode\": \"Incremental\"", "\"mode\": \"Differential\""))
        .hasMessageStartingWith("invalid backup manifest: mode: ");
    assertThatThrownBy(() -> parseReplacing("\"2026-11-27T02:00:00Z\"", "\"yesterday\""))
        .hasMessageStartingWith("invalid backup manifest: startedAt: ");
  }

  @Test
  void textThatIsNotAManifestIsRefused() {
    assertThatThrownBy(() -> BackupManifest.parse("{\"formatVersion\": "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("backup manifest is not JSON");
    assertThatThrownBy(() -> BackupManifest.parse("[]"))
        .hasMessage("backup manifest is not a JSON object");
  }

  @Test
  void aFullBackupCannotClaimAParent() {
    assertThatThrownBy(() -> parseReplacing("\"mode\": \"Incremental\"", "\"mode\": \"Full\""))
        .hasMessageContaining("a full backup has no parentBackupName");
  }

  @Test
  void anIncrementalNeedsAParent() {
    assertThatThrownBy(
            () ->
                parseReplacing(
                    "\"parentBackupName\": \"web-20261126\"", "\"parentBackupName\": null"))
        .hasMessageContaining("an incremental backup has a parentBackupName");
  }

  @Test
  void pathsMustStayRelativeSoTheTreeCanMove() {
    assertThatThrownBy(
            () ->
                parseReplacing(
                    "\"../web-20261126/root.qcow2\"",
                    "\"/mnt/backups/bastida-backups/shop/web/web-20261126/root.qcow2\""))
        .hasMessageContaining("backingFile must be a relative path");
  }

  @Test
  void aDiskListedTwiceIsRefused() {
    var disk = INCREMENTAL.disks().get(0);

    assertThatThrownBy(() -> withDisks(List.of(disk, disk)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("disk root is listed twice");
  }

  private static BackupManifest parseReplacing(String original, String replacement) {
    assertThat(INCREMENTAL_JSON).contains(original);
    return BackupManifest.parse(INCREMENTAL_JSON.replace(original, replacement));
  }

  private static BackupManifest withDisks(List<Disk> disks) {
    var m = INCREMENTAL;
    return new BackupManifest(
        m.backupName(),
        m.namespace(),
        m.vmName(),
        m.vmUid(),
        m.policyName(),
        m.storageDomainName(),
        m.hostName(),
        m.mode(),
        m.parentBackupName(),
        m.chainBaseName(),
        m.chainLength(),
        m.checkpointName(),
        m.startedAt(),
        m.completedAt(),
        m.totalBytes(),
        disks,
        m.domainXmlFile(),
        m.vmSpecFile(),
        m.verified());
  }
}
