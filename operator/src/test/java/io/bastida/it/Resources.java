package io.bastida.it;

import io.bastida.api.v1alpha1.CredentialsSecretReference;
import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostSpec;
import io.bastida.api.v1alpha1.LocalSource;
import io.bastida.api.v1alpha1.NfsAccess;
import io.bastida.api.v1alpha1.NfsSource;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainSpec;
import io.bastida.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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

  public static Host withLabels(Host host, Map<String, String> labels) {
    host.getMetadata().setLabels(labels);
    return host;
  }

  public static Host withSecret(Host host, String secretName) {
    host.getSpec().setCredentialsSecretRef(new CredentialsSecretReference(secretName, null));
    return host;
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

  public static Optional<Condition> condition(Host host, String type) {
    return host == null || host.getStatus() == null
        ? Optional.empty()
        : Conditions.find(host.getStatus().getConditions(), type);
  }

  public static Optional<Condition> condition(StorageDomain domain, String type) {
    return domain == null || domain.getStatus() == null
        ? Optional.empty()
        : Conditions.find(domain.getStatus().getConditions(), type);
  }

  /** Events about a resource, wherever they were recorded. */
  public static List<Event> eventsFor(KubernetesClient client, String kind, String name) {
    return client.v1().events().inAnyNamespace().list().getItems().stream()
        .filter(e -> kind.equals(e.getInvolvedObject().getKind()))
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .toList();
  }
}
