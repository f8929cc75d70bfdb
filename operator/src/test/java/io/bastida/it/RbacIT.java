package io.bastida.it;

import static io.bastida.it.Resources.condition;
import static io.bastida.it.Resources.eventsFor;
import static io.bastida.it.Resources.host;
import static io.bastida.it.Resources.localDomain;
import static io.bastida.it.Resources.withSecret;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The operator running with nothing but the install manifests' RBAC: impersonating its
 * ServiceAccount, it must still read credentials, write status and events, and handle finalizers.
 */
class RbacIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  @Test
  void installManifestsGrantEverythingTheOperatorDoesAndNoMore() {
    TestCluster cluster = TestCluster.get();
    var applied =
        cluster.kubectl(
            "apply",
            "--server-side",
            "-f",
            TestCluster.repo().resolve("manifests/02-rbac.yaml").toString());
    assertThat(applied.exitCode()).as(applied.stderr()).isZero();
    Config config = Config.fromKubeconfig(cluster.kubeconfig().toFile());
    config.setImpersonateUsername("system:serviceaccount:bastida-system:bastida-operator");
    config.setImpersonateGroups("system:serviceaccounts", "system:serviceaccounts:bastida-system");

    try (KubernetesClient asOperator = new KubernetesClientBuilder().withConfig(config).build()) {
      assertThatThrownBy(() -> asOperator.secrets().inNamespace("default").list())
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
    }

    try (KubernetesClient admin = cluster.newClient();
        KubernetesClient asOperator = new KubernetesClientBuilder().withConfig(config).build();
        RunningOperator operator = RunningOperator.start(asOperator)) {
      admin
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName("rbac-login")
                  .withNamespace(TestCluster.OPERATOR_NAMESPACE)
                  .endMetadata()
                  .addToStringData("username", "u")
                  .addToStringData("password", "p")
                  .build())
          .create();
      admin.resource(host("rbac-ready", "test:///default")).create();
      admin
          .resource(withSecret(host("rbac-secret", "qemu+tcp://127.0.0.1:1/system"), "rbac-login"))
          .create();
      admin.resource(localDomain("rbac-storage", "/var/lib/bastida-it/rbac")).create();

      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () -> {
                assertThat(
                        condition(
                            admin.resources(Host.class).withName("rbac-ready").get(), "Ready"))
                    .hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("True"));
                // Got past the Secret (a 403 would say SecretForbidden) to the closed port.
                assertThat(
                        condition(
                            admin.resources(Host.class).withName("rbac-secret").get(), "Ready"))
                    .hasValueSatisfying(
                        c -> assertThat(c.getReason()).isEqualTo("ConnectionRefused"));
                assertThat(
                        condition(
                            admin.resources(StorageDomain.class).withName("rbac-storage").get(),
                            "Ready"))
                    .hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("True"));
                assertThat(eventsFor(admin, "Host", "rbac-ready")).isNotEmpty();
              });
      assertThat(
              admin
                  .resources(StorageDomain.class)
                  .withName("rbac-storage")
                  .get()
                  .getMetadata()
                  .getFinalizers())
          .isNotEmpty();

      // The unreachable host goes first: deletion rightly waits for hosts it cannot check.
      admin.resources(Host.class).withName("rbac-secret").delete();
      admin.resources(StorageDomain.class).withName("rbac-storage").delete();
      await()
          .atMost(TIMEOUT)
          .until(() -> admin.resources(StorageDomain.class).withName("rbac-storage").get() == null);
      admin.resources(Host.class).delete();
      admin.secrets().inNamespace(TestCluster.OPERATOR_NAMESPACE).withName("rbac-login").delete();
    }
  }
}
