package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** A status with {@code observedGeneration} and conditions keyed by type. */
public interface WithConditions {
  Long getObservedGeneration();

  void setObservedGeneration(Long observedGeneration);

  List<Condition> getConditions();

  void setConditions(List<Condition> conditions);
}
