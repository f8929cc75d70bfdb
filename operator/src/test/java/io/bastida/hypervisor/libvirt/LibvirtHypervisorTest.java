package io.bastida.hypervisor.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.hypervisor.ConnectionTarget;
import io.bastida.hypervisor.Credentials;
import io.bastida.hypervisor.DomainState.Power;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.LibvirtUri;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The libvirt port against libvirt's own test driver (in process, private to this test). */
class LibvirtHypervisorTest {
  private static final String DOMAIN =
      "<domain type='test'><name>plain</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
          + "<os><type arch='x86_64'>hvm</type></os></domain>";

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
  void aMissingDomainIsNotFound() {
    assertThatThrownBy(() -> hypervisor.shutdownDomain("nowhere"))
        .isInstanceOfSatisfying(
            HypervisorException.class,
            e -> assertThat(e.failure()).isEqualTo(HypervisorException.Failure.NotFound));
  }
}
