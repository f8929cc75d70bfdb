package io.bastida.operator;

import io.bastida.hypervisor.HostConnections;
import io.bastida.hypervisor.HypervisorConnector;
import io.bastida.hypervisor.libvirt.LibvirtConnector;
import io.bastida.operator.backup.BackupCatalogReconciler;
import io.bastida.operator.backup.BackupPolicyReconciler;
import io.bastida.operator.backup.BackupStores;
import io.bastida.operator.backup.VirtualMachineBackupReconciler;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.host.HostDrain;
import io.bastida.operator.host.HostReconciler;
import io.bastida.operator.host.HostStatusPlanner;
import io.bastida.operator.host.HostTargets;
import io.bastida.operator.migration.MigrationJobs;
import io.bastida.operator.migration.VirtualMachineMigrationReconciler;
import io.bastida.operator.restore.VirtualMachineRestoreReconciler;
import io.bastida.operator.snapshot.VirtualMachineSnapshotReconciler;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.storage.NativeNfsExportProbe;
import io.bastida.operator.storage.NativeNfsVolumes;
import io.bastida.operator.storage.StorageDomainReconciler;
import io.bastida.operator.vm.DomainTypes;
import io.bastida.operator.vm.VirtualMachineReconciler;
import io.bastida.operator.vm.VmLocator;
import io.bastida.operator.vm.cloudinit.SeedImage;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import io.bastida.storage.nfs.NfsFiles;
import io.bastida.storage.nfs.NfsProbe;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Wires the reconcilers to one Kubernetes client and one set of host connections. */
public final class BastidaOperator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BastidaOperator.class);

  private final Operator operator;
  private final LibvirtConnector connector;
  private final HostConnections connections;
  private final MigrationJobs migrationJobs;
  private final VirtualMachineBackupReconciler backups;
  private final HealthEndpoint health;
  private volatile boolean closing;

  public BastidaOperator(KubernetesClient client, OperatorSettings settings, Clock clock)
      throws IOException {
    this(client, settings, clock, connector -> connector);
  }

  /**
   * @param connectors wraps the libvirt connector, for tests that stand in for what libvirt's test
   *     driver cannot do (it cannot migrate)
   */
  public BastidaOperator(
      KubernetesClient client,
      OperatorSettings settings,
      Clock clock,
      UnaryOperator<HypervisorConnector> connectors)
      throws IOException {
    connector = new LibvirtConnector(settings.hostReachTimeout());
    connections =
        new HostConnections(
            connectors.apply(connector), clock, Duration.ofSeconds(2), Duration.ofMinutes(2));
    migrationJobs = new MigrationJobs(Duration.ofMillis(500));
    var domainTypes = new DomainTypes();
    var targets = new HostTargets(client, settings.namespace());
    var statusWriter = new StatusWriter(clock);
    var events = new EventRecorder(client, clock);
    var nfs = new NfsProbe(settings.hostReachTimeout());
    var nfsVolumes = new NativeNfsVolumes(new QemuImg(Duration.ofMinutes(2)), nfs);

    operator =
        new Operator(
            overrider -> {
              overrider.withKubernetesClient(client).withCloseClientOnStop(false);
              if (settings.leaderElection()) {
                overrider.withLeaderElectionConfiguration(leaderElection(settings));
              }
            });
    operator.register(
        new HostReconciler(
            connections,
            targets,
            new HostStatusPlanner(settings.hostHeartbeatInterval()),
            new HostDrain(client, events),
            statusWriter,
            events,
            clock,
            settings.hostRecheckInterval()));
    operator.register(
        new StorageDomainReconciler(
            connections,
            targets,
            new NativeNfsExportProbe(nfs),
            nfsVolumes,
            statusWriter,
            events,
            settings.storageRecheckInterval()));
    operator.register(
        new VirtualMachineReconciler(
            connections,
            targets,
            nfsVolumes,
            SeedImage.fromPath(Duration.ofMinutes(1)),
            domainTypes,
            statusWriter,
            events,
            clock,
            settings.vmRecheckInterval()));
    operator.register(
        new VirtualMachineMigrationReconciler(
            connections,
            targets,
            domainTypes,
            migrationJobs,
            statusWriter,
            events,
            clock,
            new VirtualMachineMigrationReconciler.Limits(
                settings.migrationsPerHost(), settings.migrationsPerCluster())));
    var locator = new VmLocator(connections, targets);
    var backupImages = new QemuImg(Duration.ofHours(12));
    operator.register(
        new VirtualMachineSnapshotReconciler(
            locator,
            new QemuImg(Duration.ofMinutes(1)),
            statusWriter,
            events,
            settings.vmRecheckInterval()));
    var nfsFiles = new NfsFiles(settings.hostReachTimeout());
    var copier = new BackupCopier(Duration.ofHours(12));
    var backupStores = new BackupStores(locator, nfsFiles);
    operator.register(
        new VirtualMachineRestoreReconciler(
            locator,
            backupStores,
            backupImages,
            copier,
            settings.stagingDirectory(),
            statusWriter,
            events,
            clock));
    backups =
        new VirtualMachineBackupReconciler(
            locator, copier, backupImages, backupStores, statusWriter, events, clock);
    operator.register(backups);
    operator.register(
        new BackupCatalogReconciler(backupStores, events, settings.storageRecheckInterval()));
    operator.register(
        new BackupPolicyReconciler(
            statusWriter, events, clock, settings.scheduleRecheckInterval()));
    health =
        settings.healthPort() > 0
            ? new HealthEndpoint(settings.healthPort(), operator.getRuntimeInfo())
            : null;
  }

  /**
   * Losing the lease while running means another replica may already act: stop at once, without
   * shutdown hooks, and let the kubelet restart us as a follower. JOSDK's own exit would run from
   * inside our shutdown hook when we give the lease up on SIGTERM, and deadlock there.
   */
  private LeaderElectionConfiguration leaderElection(OperatorSettings settings) {
    return LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(
            OperatorSettings.LEASE_NAME)
        .withLeaseNamespace(settings.namespace())
        .withExitOnStopLeading(false)
        .withLeaderCallbacks(
            new LeaderCallbacks(
                () -> log.info("Leading: reconciling from now on"),
                () -> {
                  if (!closing) {
                    log.error("Lost the leader lease: exiting so that only the leader acts");
                    Runtime.getRuntime().halt(1);
                  }
                },
                leader -> log.info("Leader is {}", leader)))
        .build();
  }

  public void start() {
    operator.start();
  }

  @Override
  public void close() {
    closing = true;
    operator.stop();
    backups.close();
    migrationJobs.close();
    connections.close();
    connector.close();
    if (health != null) {
      health.close();
    }
  }

  public static void main(String[] args) throws Exception {
    OperatorSettings settings = OperatorSettings.fromEnvironment(System.getenv());
    KubernetesClient client = new KubernetesClientBuilder().build();
    BastidaOperator bastida = new BastidaOperator(client, settings, Clock.systemUTC());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info("Shutting down: finishing reconciliations in progress");
                  bastida.close();
                  client.close();
                  stopped.countDown();
                },
                "shutdown"));
    log.info(
        "Bastida operator starting against {} (namespace {}, leader election {})",
        client.getConfiguration().getMasterUrl(),
        settings.namespace(),
        settings.leaderElection());
    bastida.start();
    stopped.await();
  }
}
