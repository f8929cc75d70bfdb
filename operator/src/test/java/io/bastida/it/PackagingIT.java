package io.bastida.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The install manifests and the Helm chart, as a real API server sees them. */
class PackagingIT {

  @Test
  void kustomizeManifestsAreAcceptedByTheApiServer() {
    TestCluster cluster = TestCluster.get();

    var result =
        cluster.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--dry-run=server",
            "-k",
            TestCluster.repo().resolve("manifests").toString());

    assertThat(result.exitCode()).as(result.stderr()).isZero();
    assertThat(result.stdout())
        .contains(
            "customresourcedefinition.apiextensions.k8s.io/hosts.bastida.io",
            "clusterrole.rbac.authorization.k8s.io/bastida-operator",
            "role.rbac.authorization.k8s.io/bastida-operator",
            "deployment.apps/bastida-operator");
  }

  @Test
  void helmChartRendersTheSameObjectsAndIsAccepted() throws Exception {
    TestCluster cluster = TestCluster.get();
    Path rendered = Files.createTempFile("bastida-chart-", ".yaml");
    Process helm =
        new ProcessBuilder(
                List.of(
                    helmBinary(),
                    "template",
                    "bastida",
                    TestCluster.repo().resolve("helm/bastida").toString(),
                    "--namespace",
                    TestCluster.OPERATOR_NAMESPACE,
                    "--include-crds"))
            .redirectOutput(rendered.toFile())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    assertThat(helm.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(helm.exitValue()).isZero();
    cluster.kubectl("create", "namespace", TestCluster.OPERATOR_NAMESPACE);

    var result =
        cluster.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--dry-run=server",
            "-f",
            rendered.toString());

    assertThat(result.exitCode()).as(result.stderr()).isZero();
    assertThat(result.stdout())
        .contains(
            "customresourcedefinition.apiextensions.k8s.io/storagedomains.bastida.io",
            "clusterrole.rbac.authorization.k8s.io/bastida-operator",
            "deployment.apps/bastida-operator");
    Files.delete(rendered);
  }

  private static String helmBinary() {
    return Path.of(
            System.getenv().getOrDefault("KUBE_API_TEST_DIR", "/var/cache/bastida"), "bin", "helm")
        .toString();
  }
}
