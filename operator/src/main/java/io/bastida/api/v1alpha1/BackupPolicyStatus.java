package io.bastida.api.v1alpha1;

/** What the schedule did last and will do next. */
public class BackupPolicyStatus extends ConditionedStatus {
  /** The scheduled time of the last run started (or skipped as too late). */
  public String lastScheduleTime;

  public String nextScheduleTime;

  /** The newest backup made by this policy that is Complete. */
  public String lastSuccessfulBackupName;

  public String lastSuccessfulTime;

  /** Runs skipped because they were too late, since the policy was created. */
  public Integer skippedRuns;
}
