package io.bastida.it;

import static org.awaitility.Awaitility.await;

import io.bastida.api.v1alpha1.CredentialsSecretReference;
import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostSpec;
import io.bastida.api.v1alpha1.LocalSource;
import io.bastida.api.v1alpha1.NfsAccess;
import io.bastida.api.v1alpha1.NfsSource;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainSpec;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineMigrationSpec;
import io.bastida.api.v1alpha1.WithConditions;
import io.bastida.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** Builders and readers for the resources tests create, in the words of the API. */
public final class Resources {
  private Resources() {}

  public static Host host(String name, String uri) {
    Host host = new Host();
    host.setMetadata(new ObjectMetaBuilder().withName(name).build());
    HostSpec spec = new HostSpec();
    spec.setUri(uri);
    host.setSpec(spec);
    return host;
  }

  /**
   * Guests emulated in software: some machines here have a /dev/kvm whose guests hang, and tests
   * must behave the same everywhere.
   */
  public static Host emulated(Host host) {
    host.getSpec().setVirtualization(io.bastida.api.v1alpha1.HostSpec.Virtualization.Software);
    return host;
  }

  public static Host withLabels(Host host, Map<String, String> labels) {
    host.getMetadata().setLabels(labels);
    return host;
  }

  public static Host withSecret(Host host, String secretName) {
    host.getSpec().setCredentialsSecretRef(new CredentialsSecretReference(secretName, null));
    return host;
  }

  public static VirtualMachineMigration migration(
      String namespace, String name, String vm, String targetHost) {
    var spec = new VirtualMachineMigrationSpec();
    spec.vmName = vm;
    spec.targetHostName = targetHost;
    var migration = new VirtualMachineMigration();
    migration.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(namespace).build());
    migration.setSpec(spec);
    return migration;
  }

  /**
   * As {@code kubectl patch --type=merge} does it: no resourceVersion, so the operator's own status
   * writes in between cannot make it fail with a conflict.
   */
  public static void setMaintenance(KubernetesClient client, String host, boolean maintenance) {
    client
        .resources(Host.class)
        .withName(host)
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"maintenance\":" + maintenance + "}}");
  }

  public static StorageDomain localDomain(String name, String path) {
    StorageDomainSpec spec = new StorageDomainSpec();
    spec.setLocal(new LocalSource(path));
    spec.setContent(List.of(StorageContent.Disks));
    return domain(name, spec);
  }

  public static StorageDomain nativeNfsDomain(String name, String server, String path) {
    NfsSource nfs = new NfsSource();
    nfs.setServer(server);
    nfs.setPath(path);
    nfs.setAccess(NfsAccess.Native);
    StorageDomainSpec spec = new StorageDomainSpec();
    spec.setNfs(nfs);
    spec.setContent(List.of(StorageContent.Disks, StorageContent.Backups));
    return domain(name, spec);
  }

  public static StorageDomain selecting(StorageDomain domain, Map<String, String> labels) {
    domain.getSpec().setHostSelector(new LabelSelectorBuilder().withMatchLabels(labels).build());
    return domain;
  }

  private static StorageDomain domain(String name, StorageDomainSpec spec) {
    StorageDomain domain = new StorageDomain();
    domain.setMetadata(new ObjectMetaBuilder().withName(name).build());
    domain.setSpec(spec);
    return domain;
  }

  public static Optional<Condition> condition(
      CustomResource<?, ? extends WithConditions> resource, String type) {
    return resource == null || resource.getStatus() == null
        ? Optional.empty()
        : Conditions.find(resource.getStatus().getConditions(), type);
  }

  /** Waits until the resource's condition of that type satisfies {@code until}, and returns it. */
  public static Condition awaitCondition(
      Supplier<? extends CustomResource<?, ? extends WithConditions>> resource,
      String type,
      Predicate<Condition> until) {
    return await()
        .atMost(Duration.ofSeconds(90))
        .until(() -> condition(resource.get(), type).filter(until), Optional::isPresent)
        .orElseThrow();
  }

  public static Predicate<Condition> status(String status) {
    return c -> status.equals(c.getStatus());
  }

  public static Predicate<Condition> reason(String reason) {
    return c -> reason.equals(c.getReason());
  }

  /** Events about a resource, wherever they were recorded. */
  public static List<Event> eventsFor(KubernetesClient client, String kind, String name) {
    return client.v1().events().inAnyNamespace().list().getItems().stream()
        .filter(e -> kind.equals(e.getInvolvedObject().getKind()))
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .toList();
  }
}
