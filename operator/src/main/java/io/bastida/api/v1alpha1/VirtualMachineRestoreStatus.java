package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** How a restore went. */
public class VirtualMachineRestoreStatus implements WithConditions {
  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();

  /** Pending, Restoring, Succeeded or Failed; for {@code kubectl get} only. */
  public String printableStatus;

  public String startTime;
  public String completionTime;

  /** The VirtualMachine that was restored (the VM itself, or the new one). */
  public String restoredVmName;

  /** Bytes copied back from the backup. */
  public Long restoredBytes;

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
