package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the schedule did last and will do next. */
public class BackupPolicyStatus implements WithConditions {
  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();

  /** The scheduled time of the last run started (or skipped as too late). */
  public String lastScheduleTime;

  public String nextScheduleTime;

  /** The newest backup made by this policy that is Complete. */
  public String lastSuccessfulBackupName;

  public String lastSuccessfulTime;

  /** Runs skipped because they were too late, since the policy was created. */
  public Integer skippedRuns;

  @Override
  public Long getObservedGeneration() {
    return observedGeneration;
  }

  @Override
  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  @Override
  public List<Condition> getConditions() {
    return conditions;
  }

  @Override
  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
