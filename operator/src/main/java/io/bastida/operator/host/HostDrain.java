package io.bastida.operator.host;

import io.bastida.api.v1alpha1.Host;
import io.bastida.api.v1alpha1.HostDrainStatus;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineMigration;
import io.bastida.api.v1alpha1.VirtualMachineMigrationSpec;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.migration.MigrationFacts;
import io.bastida.operator.migration.MigrationPreflight;
import io.bastida.operator.migration.VirtualMachineMigrationReconciler;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.vm.PlacementPlanner;
import io.bastida.operator.vm.VmConditions;
import io.bastida.operator.vm.VmPlanner;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out the drain of a host in maintenance: asks the {@link DrainPlanner}, creates the
 * migrations it wants (the migration reconciler keeps them within the concurrency limits), and says
 * where the drain stands. Ending maintenance cancels the migrations that have not started.
 */
public final class HostDrain {
  private static final Logger log = LoggerFactory.getLogger(HostDrain.class);

  static final String DRAINING = "Draining";
  static final String IN_MAINTENANCE = "InMaintenance";

  /** Labels on the migrations a drain creates: which host, and which maintenance period. */
  static final String DRAIN_HOST_LABEL = "bastida.io/drain-host";

  static final String DRAIN_GENERATION_LABEL = "bastida.io/drain-generation";

  private final KubernetesClient client;
  private final EventRecorder events;

  public HostDrain(KubernetesClient client, EventRecorder events) {
    this.client = client;
    this.events = events;
  }

  /** Where a drain stands, for the Host's status. */
  record Result(HostDrainStatus drain, List<Condition> conditions) {}

  /**
   * One step of the drain of a host in maintenance.
   *
   * @param vms every VirtualMachine (those on the host are drained, the others take room)
   * @param migrations every VirtualMachineMigration
   */
  Result step(
      Host host,
      List<Host> hosts,
      List<VirtualMachine> vms,
      List<VirtualMachineMigration> migrations) {
    String hostName = host.getMetadata().getName();
    String generation = String.valueOf(host.getMetadata().getGeneration());
    List<VirtualMachineMigration> ours =
        migrations.stream()
            .filter(m -> hostName.equals(labelOf(m, DRAIN_HOST_LABEL)))
            .filter(m -> generation.equals(labelOf(m, DRAIN_GENERATION_LABEL)))
            .toList();
    List<DrainPlanner.VmOnHost> onHost =
        vms.stream()
            .filter(vm -> vm.getStatus() != null && hostName.equals(vm.getStatus().hostName))
            .map(vm -> vmOnHost(vm, ours))
            .toList();
    List<PlacementPlanner.PlacedVm> placed =
        MigrationFacts.placed(
            vms,
            MigrationFacts.arriving(
                vms,
                migrations.stream()
                    .filter(m -> !VirtualMachineMigrationReconciler.isFinished(m.getStatus()))
                    .toList()));
    DrainPlanner.Plan plan =
        DrainPlanner.plan(
            hostName, onHost, hosts.stream().map(MigrationFacts::candidate).toList(), placed);
    for (DrainPlanner.NewMigration wanted : plan.toCreate()) {
      create(host, wanted);
    }
    return new Result(status(plan), conditions(hostName, plan));
  }

  /** Maintenance ended: migrations of the drain that have not started are cancelled. */
  void cancel(Host host, List<VirtualMachineMigration> migrations) {
    String hostName = host.getMetadata().getName();
    for (VirtualMachineMigration m : migrations) {
      if (hostName.equals(labelOf(m, DRAIN_HOST_LABEL))
          && m.getMetadata().getDeletionTimestamp() == null
          && (m.getStatus() == null || m.getStatus().startTime == null)) {
        client.resource(m).delete();
        log.info(
            "Host({}): maintenance ended; cancelled migration {}/{}",
            hostName,
            m.getMetadata().getNamespace(),
            m.getMetadata().getName());
      }
    }
  }

  private static DrainPlanner.VmOnHost vmOnHost(
      VirtualMachine vm, List<VirtualMachineMigration> ours) {
    boolean running =
        vm.getStatus().conditions != null
            && Conditions.isTrue(vm.getStatus().conditions, VmConditions.RUNNING);
    Optional<MigrationPreflight.Refusal> blocker =
        MigrationPreflight.vmBlocker(MigrationFacts.vm(vm, running, Map.of()));
    Optional<DrainPlanner.Migration> migration =
        ours.stream()
            .filter(m -> m.getMetadata().getNamespace().equals(vm.getMetadata().getNamespace()))
            .filter(m -> m.getSpec().vmName.equals(vm.getMetadata().getName()))
            .findFirst()
            .map(HostDrain::asPlanned);
    return new DrainPlanner.VmOnHost(
        vm.getMetadata().getNamespace(),
        vm.getMetadata().getName(),
        running,
        Objects.requireNonNullElse(vm.getSpec().evictionStrategy, "LiveMigrate").toString(),
        blocker,
        VmPlanner.placementRequest(
            vm.getMetadata().getNamespace(), vm.getMetadata().getName(), vm.getSpec()),
        migration);
  }

  private static DrainPlanner.Migration asPlanned(VirtualMachineMigration m) {
    var status = m.getStatus();
    String target =
        status != null && status.targetHostName != null
            ? status.targetHostName
            : m.getSpec().targetHostName;
    DrainPlanner.State state;
    String message = "";
    if (status == null || status.startTime == null) {
      state = DrainPlanner.State.Pending;
      message =
          status == null
              ? "waiting to start"
              : Conditions.find(status.conditions, VirtualMachineMigrationReconciler.READY)
                  .map(Condition::getMessage)
                  .orElse("waiting to start");
    } else if (!VirtualMachineMigrationReconciler.isFinished(status)) {
      state = DrainPlanner.State.Migrating;
      message = "migrating to host " + target;
    } else if (Conditions.isTrue(status.conditions, VirtualMachineMigrationReconciler.SUCCEEDED)) {
      state = DrainPlanner.State.Migrated;
      message = "migrated to host " + target;
    } else {
      state = DrainPlanner.State.Failed;
      message =
          Conditions.find(status.conditions, VirtualMachineMigrationReconciler.FAILED)
              .map(Condition::getMessage)
              .orElse("failed");
    }
    // A failed pre-flight has no start time but is final all the same.
    if (status != null
        && Conditions.isTrue(status.conditions, VirtualMachineMigrationReconciler.FAILED)) {
      state = DrainPlanner.State.Failed;
    }
    return new DrainPlanner.Migration(m.getMetadata().getName(), target, state, message);
  }

  private void create(Host host, DrainPlanner.NewMigration wanted) {
    String hostName = host.getMetadata().getName();
    var migration = new VirtualMachineMigration();
    migration.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(wanted.namespace())
            .withName(migrationName(wanted.vmName(), hostName, host.getMetadata().getGeneration()))
            .withLabels(
                Map.of(
                    DRAIN_HOST_LABEL,
                    hostName,
                    DRAIN_GENERATION_LABEL,
                    String.valueOf(host.getMetadata().getGeneration())))
            // Goes with the Host; a namespaced object may have a cluster-scoped owner.
            .withOwnerReferences(
                new OwnerReferenceBuilder()
                    .withApiVersion(host.getApiVersion())
                    .withKind(host.getKind())
                    .withName(hostName)
                    .withUid(host.getMetadata().getUid())
                    .build())
            .build());
    var spec = new VirtualMachineMigrationSpec();
    spec.vmName = wanted.vmName();
    spec.targetHostName = wanted.targetHostName();
    migration.setSpec(spec);
    try {
      client.resource(migration).create();
      events.normal(
          host,
          "DrainMigrationCreated",
          "migrating "
              + wanted.namespace()
              + "/"
              + wanted.vmName()
              + " to host "
              + wanted.targetHostName());
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      // Created by an earlier pass whose result the cache does not show yet.
    }
  }

  /**
   * One name per VM, host and maintenance period: a retry after a failure needs the failed one
   * deleted first, so nothing is retried in a silent loop.
   */
  static String migrationName(String vmName, String hostName, Long generation) {
    String name = vmName + "-drain-" + hostName + "-" + generation;
    if (name.length() <= 253) {
      return name;
    }
    return vmName.substring(0, Math.min(vmName.length(), 200)) + "-drain-" + digest(name);
  }

  private static String digest(String text) {
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(hash, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static HostDrainStatus status(DrainPlanner.Plan plan) {
    var drain = new HostDrainStatus();
    drain.vmsTotal = plan.evictions().size();
    drain.vmsRemaining = plan.remaining();
    for (DrainPlanner.Eviction eviction : plan.evictions()) {
      var vm = new HostDrainStatus.VmEviction();
      vm.namespace = eviction.namespace();
      vm.name = eviction.name();
      vm.action = eviction.action().name();
      vm.targetHostName = eviction.targetHostName();
      vm.migrationName = eviction.migrationName();
      vm.state = eviction.state().name();
      vm.message = eviction.message();
      drain.vms.add(vm);
    }
    return drain;
  }

  private static List<Condition> conditions(String hostName, DrainPlanner.Plan plan) {
    if (plan.remaining() == 0) {
      String message = "no VM runs on host " + hostName + ": it may be serviced";
      return List.of(
          Conditions.of(DRAINING, false, "Drained", message),
          Conditions.of(IN_MAINTENANCE, true, "Drained", message));
    }
    long blocked =
        plan.evictions().stream().filter(e -> e.action() == DrainPlanner.Action.Blocked).count();
    String message =
        plan.remaining()
            + " of "
            + plan.evictions().size()
            + " VMs still on the host"
            + (blocked > 0 ? ", " + blocked + " blocked (see status.drain)" : "");
    return List.of(
        Conditions.of(DRAINING, true, blocked > 0 ? "DrainBlocked" : "Draining", message),
        Conditions.of(IN_MAINTENANCE, false, "Draining", message));
  }

  private static String labelOf(VirtualMachineMigration m, String label) {
    return m.getMetadata().getLabels() == null ? null : m.getMetadata().getLabels().get(label);
  }
}
