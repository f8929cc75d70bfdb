package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.hypervisor.ConnectionTarget;
import io.bastida.hypervisor.Credentials;
import io.bastida.hypervisor.DomainMetadata;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.MigrationRequest;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

/** The libvirt port against libvirt's own test driver (in process, private to this test). */
class LibvirtHypervisorTest {
  private static final String DOMAIN =
      "<domain type='test'><name>plain</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
          + "<os><type arch='x86_64'>hvm</type></os></domain>";

  private static final String UUID = "7a1e0f52-3c5e-4f0d-9f54-1d2b3c4d5e6f";

  private LibvirtConnector connector;
  private Hypervisor hypervisor;

  @BeforeEach
  void open() throws Exception {
    connector = new LibvirtConnector(Duration.ofSeconds(5));
    hypervisor =
        connector.open(
            "test",
            new ConnectionTarget(LibvirtUri.parse("test:///default"), Credentials.NONE, false));
  }

  @AfterEach
  void close() throws Exception {
    // test:///default is shared by every connection of this JVM.
    if (hypervisor.findDomain("plain").isPresent()) {
      hypervisor.destroyDomain("plain");
      hypervisor.undefineDomain("plain");
    }
    hypervisor.close();
    connector.close();
  }

  @Test
  void resumingADomainThatRunsAlreadyIsDoneButAStoppedOneIsNot() throws Exception {
    hypervisor.defineDomain(DOMAIN);
    hypervisor.startDomain("plain");

    // libvirt resumed it itself between the operator's look and its call.
    hypervisor.resumeDomain("plain");
    assertThat(hypervisor.findDomain("plain"))
        .get()
        .extracting(d -> d.power())
        .isEqualTo(Power.Running);

    hypervisor.destroyDomain("plain");
    assertThatThrownBy(() -> hypervisor.resumeDomain("plain"))
        .isInstanceOf(HypervisorException.class)
        .hasMessageContaining("resume");
  }

  @Test
  void poweringOffADomainThatIsAlreadyOffIsDone() throws Exception {
    hypervisor.defineDomain(DOMAIN);
    hypervisor.startDomain("plain");
    hypervisor.destroyDomain("plain");

    // The guest went down between the operator's look and its call: no error either way.
    hypervisor.destroyDomain("plain");
    hypervisor.shutdownDomain("plain");

    assertThat(hypervisor.findDomain("plain"))
        .get()
        .extracting(d -> d.power())
        .isEqualTo(Power.Off);
  }

  @Test
  void pausingADomainThatIsOffIsStillAnError() throws Exception {
    hypervisor.defineDomain(DOMAIN);

    assertThatThrownBy(() -> hypervisor.suspendDomain("plain"))
        .isInstanceOf(HypervisorException.class)
        .hasMessageContaining("pause domain plain");
  }

  @Test
  void aSnapshotWithMemoryTakesARunningDomainBackToThatMoment() throws Exception {
    hypervisor.defineDomain(DOMAIN);
    hypervisor.startDomain("plain");

    var taken = hypervisor.createSnapshot("plain", "before-upgrade", "by a test", true);
    hypervisor.destroyDomain("plain");
    hypervisor.revertToSnapshot("plain", "before-upgrade");

    assertThat(taken.memoryIncluded()).isTrue();
    assertThat(taken.creationTime()).isNotNull();
    assertThat(hypervisor.findDomain("plain"))
        .get()
        .extracting(d -> d.power())
        .isEqualTo(Power.Running);
    // Taking it again returns the same snapshot instead of failing: a retried reconcile.
    assertThat(hypervisor.createSnapshot("plain", "before-upgrade", "again", true))
        .isEqualTo(taken);
  }

  @Test
  void aSnapshotOfAStoppedDomainHasNoMemoryAndDeletingItTwiceIsFine() throws Exception {
    hypervisor.defineDomain(DOMAIN);

    var taken = hypervisor.createSnapshot("plain", "cold", "by a test", true);
    hypervisor.deleteSnapshot("plain", "cold");
    hypervisor.deleteSnapshot("plain", "cold");

    assertThat(taken.memoryIncluded()).isFalse();
    assertThat(hypervisor.findSnapshot("plain", "cold")).isEmpty();
    assertThat(hypervisor.findSnapshot("nowhere", "cold")).isEmpty();
  }

  @Test
  void freezingWithoutAGuestAgentFailsWithLibvirtsReason() throws Exception {
    hypervisor.defineDomain(DOMAIN);

    assertThatThrownBy(() -> hypervisor.freezeFilesystems("plain"))
        .isInstanceOf(HypervisorException.class)
        .hasMessageContaining("freeze the file systems of domain plain: ");
  }

  @Test
  void aMissingDomainIsNotFound() {
    assertThatThrownBy(() -> hypervisor.shutdownDomain("nowhere"))
        .isInstanceOfSatisfying(
            HypervisorException.class,
            e -> assertThat(e.failure()).isEqualTo(HypervisorException.Failure.NotFound));
  }

  @Test
  void snapshotsComeBackWithTheCurrentOneMarked() throws Exception {
    // A fixed UUID: a snapshot only goes back onto the domain it was taken of.
    String domainXml =
        DOMAIN.replace("<name>plain</name>", "<name>plain</name><uuid>" + UUID + "</uuid>");
    hypervisor.defineDomain(domainXml);
    hypervisor.startDomain("plain");
    try (var libvirt = new TestDriver()) {
      var domain = libvirt.connect.domainLookupByName("plain");
      domain.snapshotCreateXML("<domainsnapshot><name>first</name></domainsnapshot>");
      domain.snapshotCreateXML("<domainsnapshot><name>second</name></domainsnapshot>");
      domain.revertToSnapshot(domain.snapshotLookupByName("first"));

      DomainMetadata metadata = hypervisor.exportMetadata("plain");
      assertThat(metadata.snapshotXmls()).hasSize(2);
      assertThat(metadata.snapshotXmls().get(0)).contains("<name>first</name>");
      assertThat(metadata.currentSnapshot()).isEqualTo("first");
      assertThat(metadata.checkpointXmls()).isEmpty();

      // The test driver cannot delete metadata only (LibvirtMigrationE2E does): a domain defined
      // anew has none.
      hypervisor.destroyDomain("plain");
      hypervisor.undefineDomain("plain");
      hypervisor.defineDomain(domainXml);
      hypervisor.startDomain("plain");
      assertThat(hypervisor.exportMetadata("plain").isEmpty()).isTrue();

      hypervisor.redefineMetadata("plain", metadata);
      hypervisor.redefineMetadata("plain", metadata);
      assertThat(hypervisor.exportMetadata("plain")).isEqualTo(metadata);
    }
  }

  @Test
  void unreadableMetadataIsAnOperationFailure() throws Exception {
    hypervisor.defineDomain(DOMAIN);

    assertThatThrownBy(
            () ->
                hypervisor.redefineMetadata(
                    "plain", new DomainMetadata(List.of("<domainsnapshot/>"), List.of(), null)))
        .isInstanceOfSatisfying(
            HypervisorException.class,
            e -> assertThat(e.failure()).isEqualTo(HypervisorException.Failure.OperationFailed))
        .hasMessageContaining("plain");
  }

  @Test
  void anInvalidMigrationAddressIsRefusedBeforeLibvirtSeesIt() throws Exception {
    hypervisor.defineDomain(DOMAIN);
    hypervisor.startDomain("plain");

    assertThatThrownBy(
            () ->
                hypervisor.migrateDomain(
                    "plain",
                    new MigrationRequest(
                        "test:///default", "10.0.0.2/evil", 300, null, false, false)))
        .isInstanceOf(HypervisorException.class)
        .hasMessageContaining("not a host name or IP address");
  }

  /** A second connection to the shared test driver state, for what the port does not offer. */
  private static final class TestDriver implements AutoCloseable {
    final Connect connect = new Connect("test:///default");

    TestDriver() throws LibvirtException {}

    @Override
    public void close() throws LibvirtException {
      connect.close();
    }
  }
}
