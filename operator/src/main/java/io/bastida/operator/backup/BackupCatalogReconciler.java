package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.StorageDomainHostStatus;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupSpec;
import io.bastida.operator.Informers;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.vm.VmLocator;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the backups on a storage domain known to the cluster: every backup folder with a manifest
 * that has no VirtualMachineBackup yet gets one (labelled rediscovered), so a fresh cluster pointed
 * at an old backup share, or at a host's old backup directory, can restore from it. Only reads the
 * share and creates resources; the StorageDomain itself is the storage reconciler's.
 */
@ControllerConfiguration(name = "backupcatalog")
public class BackupCatalogReconciler implements Reconciler<StorageDomain> {
  private static final Logger log = LoggerFactory.getLogger(BackupCatalogReconciler.class);
  private static final int MAX_MANIFEST_BYTES = 1 << 20;

  /**
   * On backups rediscovered on a local storage domain: the host whose directory holds them (their
   * status is read from the manifest there).
   */
  public static final String STORED_ON_HOST_ANNOTATION = "bastida.io/stored-on-host";

  private final BackupStores stores;
  private final EventRecorder events;
  private final Duration rescanInterval;

  private InformerEventSource<VirtualMachineBackup, StorageDomain> known;
  private InformerEventSource<Host, StorageDomain> hosts;

  public BackupCatalogReconciler(
      BackupStores stores, EventRecorder events, Duration rescanInterval) {
    this.stores = stores;
    this.events = events;
    this.rescanInterval = rescanInterval;
  }

  @Override
  public List<EventSource<?, StorageDomain>> prepareEventSources(
      EventSourceContext<StorageDomain> context) {
    // The backups the cluster knows, to skip their folders without asking the API server.
    known = Informers.lookupOnly(VirtualMachineBackup.class, StorageDomain.class, context);
    hosts = Informers.lookupOnly(Host.class, StorageDomain.class, context);
    return List.of(known, hosts);
  }

  @Override
  public UpdateControl<StorageDomain> reconcile(
      StorageDomain storage, Context<StorageDomain> context) {
    if (BackupStores.unusable(storage).isPresent()) {
      return UpdateControl.noUpdate();
    }
    List<String> found = new ArrayList<>();
    // A local domain is a directory on each of its hosts; an NFS one is one share.
    List<String> holders =
        BackupStores.isPerHost(storage)
            ? storage.getStatus() == null
                ? List.of()
                : storage.getStatus().getHosts().stream()
                    .filter(StorageDomainHostStatus::isAttached)
                    .map(StorageDomainHostStatus::getHostName)
                    .toList()
            : java.util.Collections.singletonList(null);
    for (String host : holders) {
      try {
        BackupStore store = stores.of(storage, host, name -> hosts.get(new ResourceID(name)));
        found.addAll(rediscover(storage, store, host, context.getClient()));
      } catch (VmLocator.Unavailable | BackupStore.StoreException e) {
        log.warn(
            "StorageDomain({}): cannot list its backups: {}",
            storage.getMetadata().getName(),
            e.getMessage());
      }
    }
    if (!found.isEmpty()) {
      events.normal(
          storage,
          "BackupsRediscovered",
          found.size() + " backup(s) found on the storage: " + String.join(", ", found));
    }
    return UpdateControl.<StorageDomain>noUpdate().rescheduleAfter(rescanInterval.toMillis());
  }

  private List<String> rediscover(
      StorageDomain storage, BackupStore store, String host, KubernetesClient client)
      throws BackupStore.StoreException {
    List<String> created = new ArrayList<>();
    for (String namespace : directories(store, BackupLayout.ROOT)) {
      if (client.resources(Namespace.class).withName(namespace).get() == null) {
        continue;
      }
      String nsPath = BackupLayout.ROOT + "/" + namespace;
      for (String vm : directories(store, nsPath)) {
        for (String backup : directories(store, nsPath + "/" + vm)) {
          String folder = nsPath + "/" + vm + "/" + backup;
          String manifestPath = folder + "/" + BackupLayout.MANIFEST_FILE;
          var layout = BackupLayout.fromManifestPath(manifestPath);
          if (layout.isEmpty()
              || known.get(new ResourceID(backup, namespace)).isPresent()
              || store.list(folder).stream()
                  .noneMatch(e -> e.name().equals(BackupLayout.MANIFEST_FILE))) {
            continue;
          }
          BackupManifest manifest;
          try {
            manifest =
                BackupManifest.parse(
                    new String(
                        store.read(manifestPath, MAX_MANIFEST_BYTES), StandardCharsets.UTF_8));
          } catch (IllegalArgumentException e) {
            log.warn("{}: not a usable manifest: {}", manifestPath, e.getMessage());
            continue;
          }
          if (register(client, storage, manifest, host)) {
            created.add(namespace + "/" + backup);
          }
        }
      }
    }
    return created;
  }

  private boolean register(
      KubernetesClient client, StorageDomain storage, BackupManifest manifest, String host) {
    var spec = new VirtualMachineBackupSpec();
    spec.vmName = manifest.vmName();
    spec.storageDomainName = storage.getMetadata().getName();
    spec.mode = manifest.mode();
    Map<String, String> labels = new HashMap<>();
    labels.put(VirtualMachineBackupReconciler.REDISCOVERED_LABEL, "true");
    labels.put(BackupPolicyReconciler.VM_LABEL, manifest.vmName());
    if (manifest.policyName() != null) {
      // Retention goes on applying to what its policy made.
      labels.put(BackupPolicyReconciler.POLICY_LABEL, manifest.policyName());
    }
    var backup = new VirtualMachineBackup();
    backup.setMetadata(
        new ObjectMetaBuilder()
            .withName(manifest.backupName())
            .withNamespace(manifest.namespace())
            .withLabels(labels)
            .withAnnotations(host == null ? Map.of() : Map.of(STORED_ON_HOST_ANNOTATION, host))
            .build());
    backup.setSpec(spec);
    try {
      client.resource(backup).create();
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return false;
      }
      throw e;
    }
  }

  private static List<String> directories(BackupStore store, String folder)
      throws BackupStore.StoreException {
    return store.list(folder).stream()
        .filter(BackupStore.Entry::directory)
        .map(BackupStore.Entry::name)
        .toList();
  }
}
