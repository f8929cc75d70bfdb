package io.bastida.it;

import static io.bastida.it.Resources.awaitCondition;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.status;
import static io.bastida.it.Resources.withSecret;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator against real libvirtd hosts over qemu+ssh: an OpenSSH server in each testbed host's
 * namespace lets root in with the key pair {@code hack/testbed.sh} generated; the remote side runs
 * virt-ssh-helper against the host's libvirt socket. Real API server, operator in process.
 *
 * <p>The ssh client libvirt runs takes its known_hosts from the home directory of the user the JVM
 * runs as (from the password database, not $HOME). These tests require that it lists no testbed
 * host, and put it back as it was after each test: with host key verification skipped, ssh adds the
 * host's key to it.
 */
class SshHostE2E {
  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final String NAMESPACE = TestCluster.OPERATOR_NAMESPACE;
  private static final Path USER_SSH_DIR = Path.of(System.getProperty("user.home"), ".ssh");
  private static final Path USER_KNOWN_HOSTS = USER_SSH_DIR.resolve("known_hosts");
  private static final Path GLOBAL_KNOWN_HOSTS = Path.of("/etc/ssh/ssh_known_hosts");

  private static Testbed testbed;
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static boolean userSshDirExisted;
  private static byte[] userKnownHostsBefore;
  private static boolean userKnownHostsSaved;

  private final List<String> secrets = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    testbed = Testbed.get();
    for (String h : testbed.hosts()) {
      String ip = ipOf(testbed.sshUri(h));
      for (Path knownHosts : List.of(USER_KNOWN_HOSTS, GLOBAL_KNOWN_HOSTS)) {
        assertThat(lists(knownHosts, ip))
            .as(
                "%s must not list testbed host %s: these tests need its key to be unknown"
                    + " (remove it with ssh-keygen -R %s -f %s)",
                knownHosts, ip, ip, knownHosts)
            .isFalse();
      }
    }
    userSshDirExisted = Files.isDirectory(USER_SSH_DIR);
    userKnownHostsBefore =
        Files.exists(USER_KNOWN_HOSTS) ? Files.readAllBytes(USER_KNOWN_HOSTS) : null;
    userKnownHostsSaved = true;
    TestCluster cluster = TestCluster.get();
    client = cluster.newClient();
    operator = RunningOperator.start(cluster);
  }

  @AfterAll
  static void stop() throws IOException {
    if (operator != null) {
      operator.close();
    }
    if (client != null) {
      client.close();
    }
    restoreUserKnownHosts();
  }

  @AfterEach
  void cleanUp() throws IOException {
    client.resources(Host.class).delete();
    await().atMost(TIMEOUT).until(() -> client.resources(Host.class).list().getItems().isEmpty());
    for (String name : secrets) {
      client.secrets().inNamespace(NAMESPACE).withName(name).delete();
    }
    restoreUserKnownHosts();
  }

  @Test
  void sshHostWithAnAuthorizedKeyIsReadyWithTheMachinesCapacity() throws Exception {
    createSshHost("ssh-a", "hA", Files.readAllBytes(testbed.sshPrivateKey()), true);

    Host ready = awaitReady("ssh-a");
    var status = ready.getStatus();
    assertThat(status.getCapacity().getCpu()).isEqualTo(Testbed.onlineCpus());
    assertThat(status.getCapacity().getMemory().toString())
        .isEqualTo(Testbed.numaMemoryKiB() / 1024 + "Mi");
    assertThat(status.getFreeMemory()).isNotNull();
    assertThat(status.getHypervisor()).startsWith("QEMU ");
    assertThat(status.getLibvirtVersion()).startsWith("9.");
    assertThat(status.getArchitecture()).isEqualTo("x86_64");
    // The connection really runs through an ssh client that the operator's libvirt started, with
    // the key from the Secret and without a terminal to prompt on.
    assertThat(sshClientsTo(ipOf(testbed.sshUri("hA"))))
        .anySatisfy(
            args ->
                assertThat(String.join(" ", args))
                    .contains("-l root")
                    .containsPattern("-i \\S*/bastida-credentials-[^/ ]+/ssh-a-[^/ ]+/id ")
                    .contains("BatchMode=yes")
                    .contains("StrictHostKeyChecking=no"));
  }

  @Test
  void hostKeysFromTheSecretAreVerifiedAndSkippingVerificationTrustsNothingLater()
      throws Exception {
    String ip = ipOf(testbed.sshUri("hA"));
    createSshHost("ssh-lax", "hA", Files.readAllBytes(testbed.sshPrivateKey()), true);
    awaitReady("ssh-lax");
    // The unverified key was not saved where a later Host would trust it.
    assertThat(lists(USER_KNOWN_HOSTS, ip)).isFalse();

    createSshHost(
        "ssh-known",
        "hA",
        Files.readAllBytes(testbed.sshPrivateKey()),
        Files.readAllBytes(testbed.sshKnownHosts()),
        false);
    awaitReady("ssh-known");
    assertThat(sshClientsTo(ip))
        .anySatisfy(
            args -> assertThat(String.join(" ", args)).contains("StrictHostKeyChecking=yes"));
  }

  @Test
  void unknownHostKeyIsRefusedUnlessVerificationIsSkipped() throws Exception {
    String ip = ipOf(testbed.sshUri("hB"));
    createSshHost("ssh-strict", "hB", Files.readAllBytes(testbed.sshPrivateKey()), false);

    Condition ready = awaitCondition(() -> fetchHost("ssh-strict"), "Ready", status("False"));
    assertThat(ready.getReason()).isEqualTo("HostKeyVerificationFailed");
    assertThat(ready.getMessage())
        .contains("qemu+ssh://root@" + ip + "/system")
        .contains("Host key verification failed");
    // Refusing the key added nothing to the operator's known_hosts.
    assertThat(lists(USER_KNOWN_HOSTS, ip)).isFalse();
    assertThat(sshClientsTo(ip)).isEmpty();
  }

  @Test
  void keyThatTheHostDoesNotAuthorizeIsAnAuthenticationFailure(@TempDir Path dir) throws Exception {
    Path otherKey = dir.resolve("other");
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", otherKey);
    createSshHost("ssh-stranger", "hA", Files.readAllBytes(otherKey), true);

    Condition ready = awaitCondition(() -> fetchHost("ssh-stranger"), "Ready", status("False"));
    assertThat(ready.getReason()).isEqualTo("AuthenticationFailed");
    assertThat(ready.getMessage()).contains("Permission denied (publickey)");
  }

  @Test
  void credentialFilesArePrivateWhileConnectedAndGoneWithTheHost() throws Exception {
    byte[] key = Files.readAllBytes(testbed.sshPrivateKey());
    createSshHost("ssh-files", "hA", key, true);
    awaitReady("ssh-files");

    List<Path> dirs = credentialDirectories("ssh-files");
    assertThat(dirs).hasSize(1);
    Path dir = dirs.get(0);
    assertThat(permissions(dir.getParent())).isEqualTo("rwx------");
    assertThat(permissions(dir)).isEqualTo("rwx------");
    Path id = dir.resolve("id");
    assertThat(permissions(id)).isEqualTo("rw-------");
    assertThat(Files.readAllBytes(id)).isEqualTo(key);
    // The ssh wrapper that keeps an unverified host key out of every known_hosts file.
    Path wrapper = dir.resolve("ssh");
    assertThat(permissions(wrapper)).isEqualTo("rwx------");
    assertThat(Files.readString(wrapper)).contains("UserKnownHostsFile='/dev/null'");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrder("id", "ssh");
    }

    client.resources(Host.class).withName("ssh-files").delete();

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(credentialDirectories("ssh-files"))
                    .as("credential directories of Host ssh-files after it was deleted")
                    .isEmpty());
    assertThat(dir).doesNotExist();
  }

  private void createSshHost(String name, String testbedHost, byte[] privateKey, boolean skip) {
    createSshHost(name, testbedHost, privateKey, null, skip);
  }

  private void createSshHost(
      String name, String testbedHost, byte[] privateKey, byte[] knownHosts, boolean skip) {
    var builder =
        new SecretBuilder()
            .withNewMetadata()
            .withName(name + "-ssh")
            .withNamespace(NAMESPACE)
            .endMetadata()
            .withType("kubernetes.io/ssh-auth")
            .addToData("ssh-privatekey", Base64.getEncoder().encodeToString(privateKey));
    if (knownHosts != null) {
      builder.addToData("known_hosts", Base64.getEncoder().encodeToString(knownHosts));
    }
    Secret secret = builder.build();
    client.resource(secret).create();
    secrets.add(name + "-ssh");
    Host host = withSecret(host(name, testbed.sshUri(testbedHost)), name + "-ssh");
    host.getSpec().setInsecureSkipHostKeyVerification(skip);
    client.resource(host).create();
  }

  private Host fetchHost(String name) {
    return client.resources(Host.class).withName(name).get();
  }

  private Host awaitReady(String name) {
    awaitCondition(() -> fetchHost(name), "Ready", status("True"));
    return fetchHost(name);
  }

  /** The argument lists of this JVM's ssh client processes connected to that address. */
  private static List<List<String>> sshClientsTo(String ip) {
    return ProcessHandle.current()
        .descendants()
        .filter(p -> p.info().command().map(c -> c.endsWith("/ssh")).orElse(false))
        .map(p -> List.of(p.info().arguments().orElse(new String[0])))
        .filter(args -> args.contains(ip))
        .toList();
  }

  /** The operator's private directories for that Host, in every bastida-credentials-* root. */
  private static List<Path> credentialDirectories(String hostName) throws IOException {
    List<Path> found = new ArrayList<>();
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    try (Stream<Path> roots = Files.list(tmp)) {
      for (Path root :
          roots
              .filter(r -> r.getFileName().toString().startsWith("bastida-credentials-"))
              .toList()) {
        try (Stream<Path> dirs = Files.list(root)) {
          dirs.filter(d -> d.getFileName().toString().startsWith(hostName + "-"))
              .forEach(found::add);
        } catch (java.nio.file.NoSuchFileException closedMeanwhile) {
          // another operator's root, deleted while we looked
        }
      }
    }
    return found;
  }

  private static String permissions(Path path) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
  }

  private static String ipOf(String uri) {
    return URI.create(uri).getHost();
  }

  /** Whether a known_hosts file lists the host, hashed or not (as ssh itself would look it up). */
  private static boolean lists(Path knownHosts, String host) throws Exception {
    return Files.exists(knownHosts)
        && run("ssh-keygen", "-F", host, "-f", knownHosts.toString()) == 0;
  }

  private static int run(Object... command) throws Exception {
    Process process =
        new ProcessBuilder(Stream.of(command).map(Object::toString).toList())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return process.exitValue();
  }

  /** Puts the JVM user's known_hosts back as it was before these tests (ssh may add to it). */
  private static void restoreUserKnownHosts() throws IOException {
    if (!userKnownHostsSaved) {
      return;
    }
    if (userKnownHostsBefore != null) {
      Files.write(USER_KNOWN_HOSTS, userKnownHostsBefore);
    } else {
      Files.deleteIfExists(USER_KNOWN_HOSTS);
    }
    Files.deleteIfExists(USER_SSH_DIR.resolve("known_hosts.old"));
    if (!userSshDirExisted && Files.isDirectory(USER_SSH_DIR)) {
      try (Stream<Path> left = Files.list(USER_SSH_DIR)) {
        if (left.findAny().isEmpty()) {
          Files.delete(USER_SSH_DIR);
        }
      }
    }
  }
}
