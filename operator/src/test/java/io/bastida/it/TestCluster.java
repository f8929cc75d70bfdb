package io.bastida.it;

import io.fabric8.kubeapitest.KubeAPIServer;
import io.fabric8.kubeapitest.KubeAPIServerConfigBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * One real Kubernetes API server for the whole test run, with Bastida's CRDs installed: by default
 * etcd + kube-apiserver started by kube-api-test from the binaries {@code hack/control-plane.sh}
 * caches; with {@code BASTIDA_TEST_CLUSTER=k3s}, a K3s container (needs a Docker engine).
 */
public final class TestCluster implements AutoCloseable {
  public static final String OPERATOR_NAMESPACE = "bastida-system";
  private static final Path REPO = Path.of(System.getProperty("bastida.repo", ".."));
  private static TestCluster instance;

  private final String kubeconfigYaml;
  private final Path kubeconfigFile;
  private final Runnable stopApiServer;

  private TestCluster(StartedApiServer server) throws IOException {
    this.kubeconfigYaml = server.kubeconfigYaml();
    this.stopApiServer = server.stop();
    this.kubeconfigFile = Files.createTempFile("bastida-it-kubeconfig-", ".yaml");
    Files.writeString(kubeconfigFile, kubeconfigYaml);
    kubeconfigFile.toFile().deleteOnExit();
  }

  public static synchronized TestCluster get() {
    if (instance == null) {
      instance = startWithCrds();
      Runtime.getRuntime().addShutdownHook(new Thread(instance.stopApiServer));
    }
    return instance;
  }

  /**
   * Another API server of the same kind, empty but for the CRDs and the operator's namespace: a
   * cluster rebuilt from scratch, e.g. for disaster recovery. The caller {@link #close()}s it.
   */
  public static TestCluster startAnother() {
    return startWithCrds();
  }

  private static TestCluster startWithCrds() {
    StartedApiServer server = startApiServer();
    try {
      TestCluster cluster = new TestCluster(server);
      cluster.installCrds();
      return cluster;
    } catch (IOException | RuntimeException e) {
      server.stop().run();
      throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
    }
  }

  private record StartedApiServer(String kubeconfigYaml, Runnable stop) {}

  private static StartedApiServer startApiServer() {
    if ("k3s".equals(System.getenv("BASTIDA_TEST_CLUSTER"))) {
      K3sContainer k3s = new K3sContainer(DockerImageName.parse("rancher/k3s:v1.35.4-k3s1"));
      k3s.start();
      return new StartedApiServer(k3s.getKubeConfigYaml(), k3s::stop);
    }
    String dir = System.getenv().getOrDefault("KUBE_API_TEST_DIR", "/var/cache/bastida");
    String version = System.getenv().getOrDefault("BASTIDA_K8S_VERSION", "1.35.4");
    KubeAPIServer server =
        new KubeAPIServer(
            KubeAPIServerConfigBuilder.anAPIServerConfig()
                .withTestDir(dir)
                .withApiServerVersion(version)
                .withOfflineMode(true)
                .withUpdateKubeConfig(false)
                .withStartupTimeout(120_000)
                .build());
    server.start();
    return new StartedApiServer(server.getKubeConfigYaml(), server::stop);
  }

  private void installCrds() throws IOException {
    try (KubernetesClient client = newClient();
        Stream<Path> files = Files.list(REPO.resolve("crds"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yml")).sorted().toList()) {
        try (InputStream in = Files.newInputStream(file)) {
          var crd = client.apiextensions().v1().customResourceDefinitions().load(in).item();
          client.resource(crd).forceConflicts().serverSideApply();
          client
              .apiextensions()
              .v1()
              .customResourceDefinitions()
              .withName(crd.getMetadata().getName())
              .waitUntilCondition(TestCluster::established, 60, TimeUnit.SECONDS);
        }
      }
      client
          .namespaces()
          .resource(
              new NamespaceBuilder()
                  .withNewMetadata()
                  .withName(OPERATOR_NAMESPACE)
                  .endMetadata()
                  .build())
          .serverSideApply();
    }
  }

  private static boolean established(CustomResourceDefinition crd) {
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  public KubernetesClient newClient() {
    return new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(kubeconfigYaml)).build();
  }

  public Path kubeconfig() {
    return kubeconfigFile;
  }

  public static Path repo() {
    return REPO;
  }

  /** Stops the API server; only for clusters from {@link #startAnother()}. */
  @Override
  public void close() {
    if (this == instance) {
      throw new IllegalStateException("the shared test cluster stops when the JVM exits");
    }
    stopApiServer.run();
  }

  /** Runs the real kubectl against this cluster. */
  public Kubectl.Result kubectl(String... args) {
    return Kubectl.run(kubeconfigFile, List.of(args));
  }
}
