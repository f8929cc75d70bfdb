package io.bastida.it;

import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The real libvirt hosts and NFS server that {@code hack/testbed.sh up} started, as described by
 * its env file. End-to-end tests fail, not skip, without it: {@code hack/test.sh} starts it.
 */
public final class Testbed {
  private final Map<String, String> env;

  private Testbed(Map<String, String> env) {
    this.env = env;
  }

  public static Testbed get() {
    Path file =
        Path.of(System.getenv().getOrDefault("BASTIDA_TESTBED", "/run/bastida-testbed"), "env");
    if (!Files.exists(file)) {
      throw new IllegalStateException(
          file + " is missing: start the testbed with `hack/testbed.sh up` (hack/test.sh does)");
    }
    try {
      Map<String, String> env = new HashMap<>();
      for (String line : Files.readAllLines(file)) {
        int eq = line.indexOf('=');
        if (eq > 0 && !line.startsWith("#")) {
          env.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim().replace("\"", ""));
        }
      }
      return new Testbed(env);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The tiny test guest (kernel and initramfs), built by hack/guest/build-initramfs.sh (quick when
   * nothing changed); returns its directory.
   */
  public static Path guest() throws Exception {
    Path dir =
        Path.of(System.getenv().getOrDefault("BASTIDA_GUEST_DIR", "/var/cache/bastida/guest"));
    Path script = TestCluster.repo().resolve("hack/guest/build-initramfs.sh").toAbsolutePath();
    Process build =
        new ProcessBuilder(script.toString(), dir.toString()).redirectErrorStream(true).start();
    String output =
        new String(build.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!build.waitFor(5, java.util.concurrent.TimeUnit.MINUTES) || build.exitValue() != 0) {
      throw new IllegalStateException(script + " failed:\n" + output);
    }
    return dir;
  }

  /**
   * A VirtualMachine booting the tiny test guest ({@link #guest()}): 1 vCPU, 128Mi, a 32Mi blank
   * disk on {@code storage}, a NIC on the VM bridge with {@code ip} (the guest serves its boot id
   * and counter on :8080 there), no guest agent.
   */
  public VirtualMachine tinyGuestVm(
      String namespace,
      String name,
      String ip,
      Path guestDir,
      String storage,
      Map<String, String> hostSelector) {
    VirtualMachineSpec spec = new VirtualMachineSpec();
    spec.hostSelector = hostSelector;
    spec.cpu = new VirtualMachineSpec.Cpu();
    spec.cpu.cores = 1;
    spec.memory = new VirtualMachineSpec.Memory();
    spec.memory.size = "128Mi";
    spec.kernelBoot = new VirtualMachineSpec.KernelBoot();
    spec.kernelBoot.kernel = guestDir.resolve("vmlinuz").toString();
    spec.kernelBoot.initrd = guestDir.resolve("initramfs.cpio.gz").toString();
    spec.kernelBoot.cmdline =
        "console=ttyS0 quiet ip=" + ip + "/24," + vmGateway() + " bastida.tick=0";
    var disk = new VirtualMachineSpec.Disk();
    disk.name = "data";
    disk.blank = new VirtualMachineSpec.BlankVolume();
    disk.blank.storageDomainName = storage;
    disk.blank.size = "32Mi";
    spec.disks = new ArrayList<>(List.of(disk));
    var nic = new VirtualMachineSpec.NetworkInterface();
    nic.name = "lan";
    nic.bridge = vmBridge();
    spec.interfaces = new ArrayList<>(List.of(nic));
    spec.guestAgent = false;
    spec.terminationGracePeriodSeconds = 10;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(namespace).build());
    vm.setSpec(spec);
    return vm;
  }

  public List<String> hosts() {
    return List.of(value("BASTIDA_E2E_HOSTS").split("\\s+"));
  }

  /** The host's address: where libvirt listens and where QEMU receives incoming migrations. */
  public String ip(String host) {
    return value("BASTIDA_E2E_HOST_" + host + "_IP");
  }

  public String tcpUri(String host) {
    return value("BASTIDA_E2E_HOST_" + host + "_URI");
  }

  public String socketUri(String host) {
    return value("BASTIDA_E2E_HOST_" + host + "_SOCKET_URI");
  }

  /**
   * {@code qemu+ssh://root@<ip>/system}: the host's sshd, which lets root in with {@link
   * #sshPrivateKey()}.
   */
  public String sshUri(String host) {
    return value("BASTIDA_E2E_HOST_" + host + "_SSH_URI");
  }

  /** The private key (OpenSSH format, no passphrase) authorized for root on every host. */
  public Path sshPrivateKey() {
    return Path.of(value("BASTIDA_E2E_SSH_PRIVATE_KEY"));
  }

  /** A known_hosts file listing every host's SSH host key. */
  public Path sshKnownHosts() {
    return Path.of(value("BASTIDA_E2E_SSH_KNOWN_HOSTS"));
  }

  /** Where the host's private {@link #localDir()} really lives, seen from this namespace. */
  public Path localDirBacking(String host) {
    return Path.of(value("BASTIDA_E2E_HOST_" + host + "_LOCAL_DIR_BACKING"));
  }

  public String localDir() {
    return value("BASTIDA_E2E_LOCAL_DIR");
  }

  public String nfsServer() {
    return value("BASTIDA_E2E_NFS_SERVER");
  }

  public String nfsExport() {
    return value("BASTIDA_E2E_NFS_EXPORT");
  }

  public Path nfsDirectory() {
    return Path.of(value("BASTIDA_E2E_NFS_DIR"));
  }

  /** The testbed's state directory ({@code $BASTIDA_TESTBED}, default /run/bastida-testbed). */
  public Path stateDir() {
    return Path.of(System.getenv().getOrDefault("BASTIDA_TESTBED", "/run/bastida-testbed"));
  }

  /**
   * Where the host's {@code /var/log/libvirt/qemu} really lives, seen from this namespace: the
   * guests' serial console logs ({@code <domain>-serial.log}) are there.
   */
  public Path qemuLogBacking(String host) {
    return stateDir().resolve("hosts").resolve(host).resolve("log/qemu");
  }

  /** The bridge on every host that joins all guests in one L2 segment ({@link #vmGateway()}). */
  public String vmBridge() {
    return value("BASTIDA_E2E_VM_BRIDGE");
  }

  /** This namespace's address on the guests' segment (10.77.1.0/24): guests are reachable. */
  public String vmGateway() {
    return value("BASTIDA_E2E_VM_GATEWAY");
  }

  private String value(String key) {
    String value = env.get(key);
    if (value == null) {
      throw new IllegalStateException("testbed env has no " + key);
    }
    return value;
  }

  /** CPUs online on this machine, which the namespaced daemons share. */
  public static int onlineCpus() throws IOException {
    String online = Files.readString(Path.of("/sys/devices/system/cpu/online")).trim();
    int count = 0;
    for (String range : online.split(",")) {
      String[] bounds = range.split("-");
      count +=
          bounds.length == 1 ? 1 : Integer.parseInt(bounds[1]) - Integer.parseInt(bounds[0]) + 1;
    }
    return count;
  }

  /**
   * Memory as libvirt counts it: the sum of the NUMA nodes' memory, which on some virtual machines
   * is less than /proc/meminfo's total (seen here: 11 GiB of 24 GiB in node 0).
   */
  public static long numaMemoryKiB() throws IOException {
    long total = 0;
    try (var nodes = Files.newDirectoryStream(Path.of("/sys/devices/system/node"), "node[0-9]*")) {
      for (Path node : nodes) {
        total +=
            Files.readAllLines(node.resolve("meminfo")).stream()
                .filter(l -> l.contains("MemTotal:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll(".*MemTotal:\\s*(\\d+).*", "$1")))
                .sum();
      }
    }
    return total;
  }
}
