package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.BackupPolicy;
import io.bastida.api.v1alpha1.BackupPolicySpec;
import io.bastida.api.v1alpha1.BackupPolicyStatus;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineBackup;
import io.bastida.api.v1alpha1.VirtualMachineBackupSpec;
import io.bastida.operator.Informers;
import io.bastida.operator.events.EventRecorder;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.status.StatusWriter;
import io.bastida.operator.storage.LabelSelectors;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs BackupPolicies: on each scheduled time it creates one VirtualMachineBackup per VM its
 * selector matches (named after the scheduled time, so a retry after a crash finds them instead of
 * making twins), and prunes the policy's backups by its retention.
 */
@ControllerConfiguration(name = "backuppolicy")
public class BackupPolicyReconciler implements Reconciler<BackupPolicy> {
  private static final Logger log = LoggerFactory.getLogger(BackupPolicyReconciler.class);

  public static final String POLICY_LABEL = "bastida.io/backup-policy";
  public static final String VM_LABEL = "bastida.io/vm";
  public static final String READY = "Ready";

  private static final DateTimeFormatter RUN_SUFFIX =
      DateTimeFormatter.ofPattern("yyyyMMdd-HHmm").withZone(ZoneOffset.UTC);

  private final StatusWriter statusWriter;
  private final EventRecorder events;
  private final Clock clock;
  private final Duration recheckInterval;

  private InformerEventSource<VirtualMachine, BackupPolicy> vms;
  private InformerEventSource<VirtualMachineBackup, BackupPolicy> backups;
  private InformerEventSource<StorageDomain, BackupPolicy> storageDomains;

  public BackupPolicyReconciler(
      StatusWriter statusWriter, EventRecorder events, Clock clock, Duration recheckInterval) {
    this.statusWriter = statusWriter;
    this.events = events;
    this.clock = clock;
    this.recheckInterval = recheckInterval;
  }

  @Override
  public List<EventSource<?, BackupPolicy>> prepareEventSources(
      EventSourceContext<BackupPolicy> context) {
    vms = Informers.lookupOnly(VirtualMachine.class, BackupPolicy.class, context);
    // A backup that completes or fails may let retention prune.
    backups =
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachineBackup.class, BackupPolicy.class)
                .withSecondaryToPrimaryMapper(
                    b ->
                        Optional.ofNullable(b.getMetadata().getLabels().get(POLICY_LABEL))
                            .map(p -> Set.of(new ResourceID(p, b.getMetadata().getNamespace())))
                            .orElse(Set.of()))
                .build(),
            context);
    storageDomains = Informers.lookupOnly(StorageDomain.class, BackupPolicy.class, context);
    return List.of(vms, backups, storageDomains);
  }

  @Override
  public UpdateControl<BackupPolicy> reconcile(BackupPolicy policy, Context<BackupPolicy> context) {
    BackupPolicySpec spec = policy.getSpec();
    BackupPolicyStatus status =
        policy.getStatus() == null
            ? new BackupPolicyStatus()
            : Serialization.clone(policy.getStatus());
    BackupSchedule schedule;
    try {
      schedule = BackupSchedule.parse(spec.schedule, spec.timeZone);
    } catch (InvalidScheduleException e) {
      // Nothing to retry until the spec changes.
      return notReady(policy, status, "InvalidSchedule", e.getMessage())
          .rescheduleAfter(Duration.ofMinutes(10).toMillis());
    }
    Optional<StorageDomain> storage = storageDomains.get(new ResourceID(spec.storageDomainName));
    Optional<String> unusable =
        storage.isEmpty()
            ? Optional.of("StorageDomain " + spec.storageDomainName + " does not exist")
            : BackupStores.unusable(storage.get());
    if (unusable.isPresent()) {
      String reason = storage.isEmpty() ? "StorageDomainNotFound" : "StorageDomainNotForBackups";
      return notReady(policy, status, reason, unusable.get())
          .rescheduleAfter(recheckInterval.toMillis());
    }

    Instant now = clock.instant();
    BackupSchedule.Decision decision =
        schedule.decide(
            status.lastScheduleTime == null ? null : Instant.parse(status.lastScheduleTime),
            Instant.parse(policy.getMetadata().getCreationTimestamp()),
            now,
            Duration.ofSeconds(
                spec.startingDeadlineSeconds == null ? 3600 : spec.startingDeadlineSeconds));
    if (!Boolean.TRUE.equals(spec.suspend)) {
      if (decision.runNow().isPresent()) {
        Instant scheduled = decision.runNow().get();
        createBackups(policy, scheduled, context);
        status.lastScheduleTime = scheduled.toString();
      } else if (decision.skippedAsTooLate().isPresent()) {
        Instant scheduled = decision.skippedAsTooLate().get();
        status.lastScheduleTime = scheduled.toString();
        status.skippedRuns = (status.skippedRuns == null ? 0 : status.skippedRuns) + 1;
        events.warning(
            policy,
            "MissedSchedule",
            "the run of "
                + scheduled
                + " was more than "
                + spec.startingDeadlineSeconds
                + " s late and was skipped");
      }
    }
    prune(policy, context);
    List<VirtualMachineBackup> mine = backupsOf(policy).toList();
    mine.stream()
        .filter(b -> VirtualMachineBackupReconciler.isComplete(b.getStatus()))
        .max(java.util.Comparator.comparing(b -> b.getStatus().startTime))
        .ifPresent(
            b -> {
              status.lastSuccessfulBackupName = b.getMetadata().getName();
              status.lastSuccessfulTime = b.getStatus().completionTime;
            });
    Optional<Instant> next = schedule.nextAfter(now);
    status.nextScheduleTime = next.map(Instant::toString).orElse(null);
    String message =
        Boolean.TRUE.equals(spec.suspend)
            ? "suspended: no new backups; retention still applies"
            : "next run at " + status.nextScheduleTime;
    status.conditions =
        List.of(
            Conditions.of(
                READY,
                true,
                Boolean.TRUE.equals(spec.suspend) ? "Suspended" : "Scheduled",
                message));
    Duration untilNext = next.map(n -> Duration.between(now, n)).orElse(recheckInterval);
    Duration wait = untilNext.compareTo(recheckInterval) < 0 ? untilNext : recheckInterval;
    return statusWriter.update(policy, status).rescheduleAfter(Math.max(100, wait.toMillis()));
  }

  /** One backup per matching VM; a VM whose previous backup still runs is left out this time. */
  private void createBackups(
      BackupPolicy policy, Instant scheduled, Context<BackupPolicy> context) {
    String namespace = policy.getMetadata().getNamespace();
    BackupPolicySpec spec = policy.getSpec();
    for (VirtualMachine vm :
        vms.list(namespace)
            .filter(v -> LabelSelectors.matches(spec.selector, v.getMetadata().getLabels()))
            .toList()) {
      String vmName = vm.getMetadata().getName();
      String name =
          policy.getMetadata().getName() + "-" + vmName + "-" + RUN_SUFFIX.format(scheduled);
      if (backups.get(new ResourceID(name, namespace)).isPresent()) {
        continue;
      }
      Optional<VirtualMachineBackup> running =
          backups
              .list(namespace)
              .filter(b -> b.getSpec().vmName.equals(vmName))
              .filter(b -> !VirtualMachineBackupReconciler.isFinished(b.getStatus()))
              .findFirst();
      if (running.isPresent()) {
        events.warning(
            policy,
            "BackupStillRunning",
            "VM "
                + vmName
                + " skipped at "
                + scheduled
                + ": backup "
                + running.get().getMetadata().getName()
                + " has not finished");
        continue;
      }
      var backupSpec = new VirtualMachineBackupSpec();
      backupSpec.vmName = vmName;
      backupSpec.storageDomainName = spec.storageDomainName;
      backupSpec.mode = spec.mode;
      backupSpec.fullEvery = spec.fullEvery;
      backupSpec.quiesce = spec.quiesce;
      backupSpec.verify = spec.verify;
      backupSpec.bandwidthMiBPerSecond = spec.bandwidthMiBPerSecond;
      var backup = new VirtualMachineBackup();
      backup.setMetadata(
          new ObjectMetaBuilder()
              .withName(name)
              .withNamespace(namespace)
              .withLabels(Map.of(POLICY_LABEL, policy.getMetadata().getName(), VM_LABEL, vmName))
              .build());
      backup.setSpec(backupSpec);
      try {
        context.getClient().resource(backup).create();
        log.info(
            "BackupPolicy({}/{}): created {}", namespace, policy.getMetadata().getName(), name);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
    }
  }

  /** Deletes what retention does not keep, per VM, children before their parents. */
  private void prune(BackupPolicy policy, Context<BackupPolicy> context) {
    var retention = policy.getSpec().retention;
    var rules =
        new RetentionPlanner.Retention(
            orZero(retention.keepLast),
            orZero(retention.keepDaily),
            orZero(retention.keepWeekly),
            orZero(retention.keepMonthly));
    ZoneId zone = ZoneId.of(policy.getSpec().timeZone == null ? "UTC" : policy.getSpec().timeZone);
    Map<String, List<VirtualMachineBackup>> byVm =
        backupsOf(policy)
            .filter(b -> b.getMetadata().getDeletionTimestamp() == null)
            .collect(Collectors.groupingBy(b -> b.getSpec().vmName));
    for (var entry : byVm.entrySet()) {
      Map<String, VirtualMachineBackup> byName =
          entry.getValue().stream()
              .collect(Collectors.toMap(b -> b.getMetadata().getName(), b -> b));
      var plan =
          RetentionPlanner.plan(
              entry.getValue().stream().map(BackupPolicyReconciler::candidate).toList(),
              rules,
              zone);
      for (String name : plan.prune()) {
        log.info(
            "BackupPolicy({}/{}): retention deletes backup {}",
            policy.getMetadata().getNamespace(),
            policy.getMetadata().getName(),
            name);
        context.getClient().resource(byName.get(name)).delete();
      }
    }
  }

  private static RetentionPlanner.Candidate candidate(VirtualMachineBackup backup) {
    var status = backup.getStatus();
    RetentionPlanner.Status state =
        VirtualMachineBackupReconciler.isComplete(status)
            ? RetentionPlanner.Status.Complete
            : VirtualMachineBackupReconciler.isFinished(status)
                ? RetentionPlanner.Status.Failed
                : RetentionPlanner.Status.InProgress;
    String time =
        status != null && status.startTime != null
            ? status.startTime
            : backup.getMetadata().getCreationTimestamp();
    return new RetentionPlanner.Candidate(
        backup.getMetadata().getName(),
        Instant.parse(time),
        status == null ? null : status.parentBackupName,
        state,
        status != null && Boolean.TRUE.equals(status.verified));
  }

  private java.util.stream.Stream<VirtualMachineBackup> backupsOf(BackupPolicy policy) {
    return backups
        .list(policy.getMetadata().getNamespace())
        .filter(
            b ->
                policy
                    .getMetadata()
                    .getName()
                    .equals(b.getMetadata().getLabels().get(POLICY_LABEL)));
  }

  private UpdateControl<BackupPolicy> notReady(
      BackupPolicy policy, BackupPolicyStatus status, String reason, String message) {
    boolean changed = !Conditions.hasReason(status.conditions, READY, reason);
    if (changed) {
      events.warning(policy, reason, message);
    }
    status.conditions = List.of(Conditions.of(READY, false, reason, message));
    return statusWriter.update(policy, status);
  }

  private static int orZero(Integer value) {
    return value == null ? 0 : value;
  }
}
