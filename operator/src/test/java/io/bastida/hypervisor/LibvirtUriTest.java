package io.bastida.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.hypervisor.LibvirtUri.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LibvirtUriTest {

  @ParameterizedTest
  @CsvSource({
    "test:///default, test, LOCAL, , -1",
    "qemu:///system, qemu, LOCAL, , -1",
    "qemu+unix:///system?socket=/run/h/libvirt-sock, qemu, UNIX, , -1",
    "qemu+tcp://10.77.0.1/system, qemu, TCP, 10.77.0.1, 16509",
    "qemu+tls://host1.example.org:16600/system, qemu, TLS, host1.example.org, 16600",
    "qemu+ssh://root@host1/system, qemu, SSH, host1, 22",
  })
  void parsesTheUrisAdminsWrite(
      String text, String driver, Transport transport, String host, int port) {
    LibvirtUri uri = LibvirtUri.parse(text);

    assertThat(uri.driver()).isEqualTo(driver);
    assertThat(uri.transport()).isEqualTo(transport);
    assertThat(uri.host()).isEqualTo(host);
    assertThat(uri.effectivePort()).isEqualTo(port);
    assertThat(uri.toString()).isEqualTo(text);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "xen:///system | unsupported driver 'xen'",
        "qemu+http://host/system | unsupported transport 'http'",
        "qemu+ssh:///system | qemu+ssh needs a host name",
        "qemu://host1/system | a host name needs a network transport",
        "qemu+tcp://host1/ | a qemu URI ends in /system",
        "test+tcp://host1/default | the test driver runs in-process",
        "qemu+tcp://ho st/system | not a valid URI",
        "qemu+ssh://h/system?command=/bin/sh | must not set 'command'",
        "qemu+ssh://h/system?keyfile=/etc/shadow | must not set 'keyfile'",
        "qemu+ssh://h/system?no_verify=1 | must not set 'no_verify'",
        "qemu+tls://h/system?pkipath=/root | must not set 'pkipath'",
      })
  void refusesUrisWithAMessageThatSaysWhy(String text, String message) {
    assertThatThrownBy(() -> LibvirtUri.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void addsParametersKeepingExistingOnesAndPathsReadable() {
    LibvirtUri uri =
        LibvirtUri.parse("qemu+ssh://root@h1:2222/system?mode=direct")
            .withParam("keyfile", "/tmp/bastida-credentials-1/h1-2/id")
            .withParam("no_tty", "1");

    assertThat(uri.toString())
        .isEqualTo(
            "qemu+ssh://root@h1:2222/system?mode=direct&keyfile=/tmp/bastida-credentials-1/h1-2/id&no_tty=1");
    assertThat(uri.params()).containsEntry("mode", "direct").containsEntry("no_tty", "1");
  }

  @Test
  void encodesParameterValuesThatWouldBreakTheQuery() {
    LibvirtUri uri = LibvirtUri.parse("qemu+unix:///system").withParam("socket", "/a b&c=d");

    assertThat(LibvirtUri.parse(uri.toString()).params()).containsEntry("socket", "/a b&c=d");
  }
}
