package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BackupLayoutTest {
  private static final BackupLayout NIGHTLY = new BackupLayout("shop", "web", "web-20261127");

  @Test
  void everyFileOfABackupSitsInItsOwnFolder() {
    assertThat(NIGHTLY.folder()).isEqualTo("bastida-backups/shop/web/web-20261127");
    assertThat(NIGHTLY.diskPath("root"))
        .isEqualTo("bastida-backups/shop/web/web-20261127/root.qcow2");
    assertThat(NIGHTLY.domainXmlPath())
        .isEqualTo("bastida-backups/shop/web/web-20261127/domain.xml");
    assertThat(NIGHTLY.vmSpecPath()).isEqualTo("bastida-backups/shop/web/web-20261127/vm.json");
    assertThat(NIGHTLY.manifestPath())
        .isEqualTo("bastida-backups/shop/web/web-20261127/manifest.json");
    assertThat(BackupLayout.vmFolder("shop", "web")).isEqualTo("bastida-backups/shop/web");
  }

  @Test
  void anIncrementalPointsAtItsParentsImageRelatively() {
    assertThat(BackupLayout.backingReference("web-20261126", "root"))
        .isEqualTo("../web-20261126/root.qcow2");
  }

  @Test
  void theBackingReferenceResolvesFromTheIncrementalsFolderToTheParentsImage() {
    var parent = new BackupLayout("shop", "web", "web-20261126");

    String resolved =
        Path.of(NIGHTLY.folder())
            .resolve(BackupLayout.backingReference(parent.backupName(), "root"))
            .normalize()
            .toString();

    assertThat(resolved).isEqualTo(parent.diskPath("root"));
  }

  @Test
  void aManifestFoundByListingNamesItsBackup() {
    assertThat(BackupLayout.fromManifestPath(NIGHTLY.manifestPath())).contains(NIGHTLY);
    assertThat(
            BackupLayout.fromManifestPath(
                "/var/lib/bastida/nfs-backups/bastida-backups/shop/web/web-20261127/manifest.json"))
        .contains(NIGHTLY);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "bastida-backups/shop/web/web-20261127/domain.xml",
        "bastida-backups/shop/web/manifest.json",
        "other-backups/shop/web/web-20261127/manifest.json",
        "bastida-backups/shop/web/web-20261127/extra/manifest.json",
        "bastida-backups/Shop/web/web-20261127/manifest.json",
        "bastida-backups/shop/web/../manifest.json",
        "bastida-backups/shop//web-20261127/manifest.json",
        "manifest.json",
      })
  void anythingElseFoundByListingIsNotABackup(String path) {
    assertThat(BackupLayout.fromManifestPath(path)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"..", "a/b", "Web", "-web", "web-", "", "a..b"})
  void namesThatCouldLeaveTheFolderOrAreNotKubernetesNamesAreRefused(String name) {
    assertThatThrownBy(() -> new BackupLayout("shop", "web", name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("backup name must be a DNS-1123 subdomain");
    assertThatThrownBy(() -> new BackupLayout("shop", name, "b"))
        .hasMessageStartingWith("VM name must be a DNS-1123 subdomain");
    assertThatThrownBy(() -> BackupLayout.diskFile(name))
        .hasMessageStartingWith("disk name must be a DNS-1123 label");
    assertThatThrownBy(() -> BackupLayout.backingReference(name, "root"))
        .hasMessageStartingWith("parent backup name must be a DNS-1123 subdomain");
  }

  @Test
  void namespacesAndDisksAreLabelsWhileVmsAndBackupsMayHaveDots() {
    assertThat(new BackupLayout("shop", "web.frontend", "web.2026-11-27").folder())
        .isEqualTo("bastida-backups/shop/web.frontend/web.2026-11-27");
    assertThatThrownBy(() -> new BackupLayout("shop.eu", "web", "b"))
        .hasMessageStartingWith("namespace must be a DNS-1123 label");
    assertThatThrownBy(() -> BackupLayout.diskFile("root.img"))
        .hasMessageStartingWith("disk name must be a DNS-1123 label");
    assertThatThrownBy(() -> BackupLayout.diskFile("d".repeat(64)))
        .hasMessageContaining("at most 63 characters");
    assertThat(BackupLayout.diskFile("d".repeat(63))).endsWith(".qcow2");
  }
}
