package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupSpec;
import io.bastida.operator.Informers;
import io.bastida.operator.events.EventRecorder;
import io.bastida.storage.nfs.NfsEntry;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
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
 * at an old backup share can restore from it. Only reads the share and creates resources; the
 * StorageDomain itself is the storage reconciler's.
 */
@ControllerConfiguration(name = "backupcatalog")
public class BackupCatalogReconciler implements Reconciler<StorageDomain> {
  private static final Logger log = LoggerFactory.getLogger(BackupCatalogReconciler.class);
  private static final int MAX_MANIFEST_BYTES = 1 << 20;

  private final NfsFiles files;
  private final EventRecorder events;
  private final Duration rescanInterval;

  private InformerEventSource<VirtualMachineBackup, StorageDomain> known;

  public BackupCatalogReconciler(NfsFiles files, EventRecorder events, Duration rescanInterval) {
    this.files = files;
    this.events = events;
    this.rescanInterval = rescanInterval;
  }

  @Override
  public List<EventSource<?, StorageDomain>> prepareEventSources(
      EventSourceContext<StorageDomain> context) {
    // The backups the cluster knows, to skip their folders without asking the API server.
    known = Informers.lookupOnly(VirtualMachineBackup.class, StorageDomain.class, context);
    return List.of(known);
  }

  @Override
  public UpdateControl<StorageDomain> reconcile(
      StorageDomain storage, Context<StorageDomain> context) {
    if (BackupStores.unusable(storage).isPresent() || BackupStores.isPerHost(storage)) {
      return UpdateControl.noUpdate();
    }
    try {
      List<String> found = rediscover(storage, context.getClient());
      if (!found.isEmpty()) {
        events.normal(
            storage,
            "BackupsRediscovered",
            found.size() + " backup(s) found on the share: " + String.join(", ", found));
      }
    } catch (NfsException e) {
      log.warn(
          "StorageDomain({}): cannot list its backups: {}",
          storage.getMetadata().getName(),
          e.getMessage());
    }
    return UpdateControl.<StorageDomain>noUpdate().rescheduleAfter(rescanInterval.toMillis());
  }

  private List<String> rediscover(StorageDomain storage, KubernetesClient client)
      throws NfsException {
    var nfs = storage.getSpec().getNfs();
    String server = nfs.getServer();
    String export = nfs.getPath();
    if (files.stat(server, export, BackupLayout.ROOT).isEmpty()) {
      return List.of();
    }
    List<String> created = new ArrayList<>();
    for (NfsEntry namespace : directories(server, export, BackupLayout.ROOT)) {
      if (client.resources(Namespace.class).withName(namespace.name()).get() == null) {
        continue;
      }
      String nsPath = BackupLayout.ROOT + "/" + namespace.name();
      for (NfsEntry vm : directories(server, export, nsPath)) {
        for (NfsEntry backup : directories(server, export, nsPath + "/" + vm.name())) {
          String manifestPath =
              nsPath + "/" + vm.name() + "/" + backup.name() + "/" + BackupLayout.MANIFEST_FILE;
          var layout = BackupLayout.fromManifestPath(manifestPath);
          if (layout.isEmpty()
              || known.get(new ResourceID(backup.name(), namespace.name())).isPresent()
              || files.stat(server, export, manifestPath).isEmpty()) {
            continue;
          }
          BackupManifest manifest;
          try {
            manifest =
                BackupManifest.parse(
                    new String(
                        files.readFile(server, export, manifestPath, MAX_MANIFEST_BYTES),
                        StandardCharsets.UTF_8));
          } catch (IllegalArgumentException e) {
            log.warn("{}: not a usable manifest: {}", manifestPath, e.getMessage());
            continue;
          }
          if (register(client, storage, manifest)) {
            created.add(namespace.name() + "/" + backup.name());
          }
        }
      }
    }
    return created;
  }

  private boolean register(
      KubernetesClient client, StorageDomain storage, BackupManifest manifest) {
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

  private List<NfsEntry> directories(String server, String export, String dir) throws NfsException {
    return files.list(server, export, dir).stream()
        .filter(e -> e.type() == NfsEntry.Type.DIRECTORY)
        .toList();
  }
}
