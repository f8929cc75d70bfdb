package io.bastida.it;

/** Node definitions for libvirt's test driver: each file opened is an independent "host". */
final class TestDriverNodes {
  private TestDriverNodes() {}

  static String node(int cpus, long memoryKiB) {
    return """
        <node>
          <cpu>
            <nodes>1</nodes><sockets>1</sockets><cores>%d</cores><threads>1</threads>
            <active>%d</active><mhz>2400</mhz><model>x86_64</model>
          </cpu>
          <memory>%d</memory>
        </node>
        """
        .formatted(cpus, cpus, memoryKiB);
  }
}
