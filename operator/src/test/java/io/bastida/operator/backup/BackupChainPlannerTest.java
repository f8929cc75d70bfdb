package io.bastida.operator.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.operator.backup.BackupChainPlanner.ChainLink;
import io.bastida.operator.backup.BackupChainPlanner.Inputs;
import io.bastida.operator.backup.BackupChainPlanner.Plan;
import io.bastida.operator.backup.BackupChainPlanner.PreviousBackup;
import io.bastida.operator.backup.BackupChainPlanner.Reason;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BackupChainPlannerTest {
  private static final Set<String> DISKS = Set.of("root", "data");
  private static final PreviousBackup MONDAY =
      new PreviousBackup("web-mon", true, "web-mon", 2, DISKS, null);
  private static final Set<String> CHECKPOINTS = Set.of("web-sun", "web-mon");

  @Test
  void aRunningVmWithAnIntactChainGetsAnIncrementalFromTheParentsCheckpoint() {
    Plan plan = BackupChainPlanner.plan(incremental(true, MONDAY, CHECKPOINTS, DISKS));

    assertThat(plan)
        .isEqualTo(
            new Plan(
                BackupMode.Incremental,
                "web-mon",
                "web-mon",
                true,
                3,
                Reason.Incremental,
                "Incremental backup on top of web-mon from checkpoint web-mon"));
  }

  @Test
  void theFirstBackupIsAFullThatStartsAChain() {
    Plan plan = BackupChainPlanner.plan(incremental(true, null, Set.of(), DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.FirstBackup);
    assertFullStartingAChain(plan, true);
  }

  @Test
  void aRequestedFullIsAFullEvenWithAnIntactChain() {
    Plan plan =
        BackupChainPlanner.plan(new Inputs(BackupMode.Full, 7, true, MONDAY, CHECKPOINTS, DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.RequestedFull);
    assertFullStartingAChain(plan, true);
  }

  @Test
  void aChainHoldingFullEveryBackupsIsClosedByAFull() {
    var sixth = new PreviousBackup("web-sat", true, "web-sat", 6, DISKS, null);
    var seventh = new PreviousBackup("web-sun", true, "web-sun", 7, DISKS, null);
    var checkpoints = Set.of("web-sat", "web-sun");

    assertThat(BackupChainPlanner.plan(incremental(true, sixth, checkpoints, DISKS)).reason())
        .isEqualTo(Reason.Incremental);
    Plan plan = BackupChainPlanner.plan(incremental(true, seventh, checkpoints, DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.FullEveryReached);
    assertThat(plan.message())
        .isEqualTo("Full backup: the chain ending in web-sun holds 7 backups, fullEvery is 7");
    assertFullStartingAChain(plan, true);
  }

  @Test
  void fullEveryOneMakesEveryBackupAFull() {
    var lastFull = new PreviousBackup("web-sun", true, "web-sun", 1, DISKS, null);

    Plan plan =
        BackupChainPlanner.plan(
            new Inputs(BackupMode.Incremental, 1, true, lastFull, Set.of("web-sun"), DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.FullEveryReached);
    assertFullStartingAChain(plan, true);
  }

  @Test
  void aStoppedVmIsCopiedWholeWithoutACheckpoint() {
    Plan plan = BackupChainPlanner.plan(incremental(false, MONDAY, CHECKPOINTS, DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.VmNotRunning);
    assertFullStartingAChain(plan, false);
  }

  @Test
  void aStoppedVmGetsNoCheckpointWhateverTheReasonForItsFull() {
    assertThat(
            BackupChainPlanner.plan(incremental(false, null, Set.of(), DISKS)).createCheckpoint())
        .isFalse();
    assertThat(
            BackupChainPlanner.plan(
                    new Inputs(BackupMode.Full, 7, false, MONDAY, CHECKPOINTS, DISKS))
                .createCheckpoint())
        .isFalse();
  }

  @Test
  void anIncompleteParentCannotBeBuiltOn() {
    var failed = new PreviousBackup("web-mon", false, "web-mon", 2, DISKS, null);

    Plan plan = BackupChainPlanner.plan(incremental(true, failed, CHECKPOINTS, DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.ParentNotComplete);
    assertThat(plan.message())
        .isEqualTo("Full backup: the previous backup web-mon is not complete");
    assertFullStartingAChain(plan, true);
  }

  @Test
  void aCheckpointGoneFromTheDomainForcesAFull() {
    Plan plan = BackupChainPlanner.plan(incremental(true, MONDAY, Set.of("web-sun"), DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.CheckpointMissing);
    assertThat(plan.message())
        .isEqualTo(
            "Full backup: checkpoint web-mon of the previous backup is missing on the domain");
    assertFullStartingAChain(plan, true);
  }

  @Test
  void aParentTakenWhileTheVmWasStoppedHasNoCheckpointToStartFrom() {
    var copiedWhole = new PreviousBackup("web-mon", true, null, 1, DISKS, null);

    Plan plan = BackupChainPlanner.plan(incremental(true, copiedWhole, CHECKPOINTS, DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.CheckpointMissing);
    assertThat(plan.message())
        .isEqualTo(
            "Full backup: the previous backup web-mon has no checkpoint (the VM was not running"
                + " then)");
    assertFullStartingAChain(plan, true);
  }

  @Test
  void aParentOnAnotherHostsLocalStorageCannotBackAnIncrementalWrittenHere() {
    var onHostA = new PreviousBackup("web-mon", true, "web-mon", 2, DISKS, "host-a");

    Plan plan = BackupChainPlanner.plan(incremental(true, onHostA, CHECKPOINTS, DISKS));

    assertThat(plan.reason()).isEqualTo(Reason.ParentOnOtherHost);
    assertThat(plan.message())
        .isEqualTo(
            "Full backup: the previous backup web-mon is kept on host host-a's local storage,"
                + " and the VM runs on another host now");
    assertFullStartingAChain(plan, true);
  }

  @Test
  void anAddedOrRemovedDiskForcesAFull() {
    Plan plan =
        BackupChainPlanner.plan(
            incremental(true, MONDAY, CHECKPOINTS, Set.of("root", "logs", "cache")));

    assertThat(plan.reason()).isEqualTo(Reason.DisksChanged);
    assertThat(plan.message())
        .isEqualTo(
            "Full backup: the VM's disks changed since web-mon (added [cache, logs], removed"
                + " [data])");
    assertFullStartingAChain(plan, true);
  }

  @Test
  void fullEveryBelowOneIsRefused() {
    assertThatThrownBy(() -> new Inputs(BackupMode.Incremental, 0, true, null, Set.of(), DISKS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("fullEvery must be at least 1: 0");
  }

  @Test
  void aRestoreReadsTheChainFromItsFullToTheChosenBackup() {
    var byName =
        Map.of(
            "web-sun", new ChainLink(null, true),
            "web-mon", new ChainLink("web-sun", true),
            "web-tue", new ChainLink("web-mon", true),
            "web-wed", new ChainLink("web-tue", false));

    assertThat(BackupChainPlanner.restoreChain("web-tue", byName))
        .containsExactly("web-sun", "web-mon", "web-tue");
    assertThat(BackupChainPlanner.restoreChain("web-sun", byName)).containsExactly("web-sun");
  }

  @Test
  void aRestoreRefusesAChainWithAMissingBackup() {
    var byName =
        Map.of(
            "web-mon", new ChainLink("web-sun", true), "web-tue", new ChainLink("web-mon", true));

    assertThatThrownBy(() -> BackupChainPlanner.restoreChain("web-tue", byName))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cannot restore web-tue: backup web-sun of its chain is missing");
    assertThatThrownBy(() -> BackupChainPlanner.restoreChain("web-fri", byName))
        .hasMessage("cannot restore web-fri: backup web-fri of its chain is missing");
  }

  @Test
  void aRestoreRefusesAChainWithAnIncompleteBackup() {
    var byName =
        Map.of(
            "web-sun", new ChainLink(null, true),
            "web-mon", new ChainLink("web-sun", false),
            "web-tue", new ChainLink("web-mon", true));

    assertThatThrownBy(() -> BackupChainPlanner.restoreChain("web-tue", byName))
        .hasMessage("cannot restore web-tue: backup web-mon of its chain is not complete");
  }

  @Test
  void aRestoreRefusesParentsThatLoop() {
    var byName =
        Map.of(
            "web-mon", new ChainLink("web-tue", true),
            "web-tue", new ChainLink("web-mon", true));

    assertThatThrownBy(() -> BackupChainPlanner.restoreChain("web-tue", byName))
        .hasMessage("cannot restore web-tue: its chain loops back to web-tue");
  }

  private static Inputs incremental(
      boolean running, PreviousBackup latest, Set<String> checkpoints, Set<String> disks) {
    return new Inputs(BackupMode.Incremental, 7, running, latest, checkpoints, disks);
  }

  private static void assertFullStartingAChain(Plan plan, boolean createCheckpoint) {
    assertThat(plan.mode()).isEqualTo(BackupMode.Full);
    assertThat(plan.parentBackupName()).isNull();
    assertThat(plan.incrementFromCheckpoint()).isNull();
    assertThat(plan.chainLength()).isEqualTo(1);
    assertThat(plan.createCheckpoint()).isEqualTo(createCheckpoint);
    assertThat(plan.message()).startsWith("Full backup: ");
  }
}
