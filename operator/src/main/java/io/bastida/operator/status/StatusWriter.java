package io.bastida.operator.status;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.bastida.api.v1alpha1.WithConditions;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.time.Clock;

/**
 * The one place status is written. It fills in what every status carries (observed generation,
 * stable condition transition times) and asks for a patch only when something really changed, so a
 * converged resource is never rewritten.
 */
public final class StatusWriter {
  private static final ObjectMapper JSON = Serialization.jsonMapper();

  private final Clock clock;

  public StatusWriter(Clock clock) {
    this.clock = clock;
  }

  public <S extends WithConditions, R extends CustomResource<?, S>> UpdateControl<R> update(
      R resource, S desired) {
    S current = resource.getStatus();
    finish(resource, desired);
    if (current != null && JSON.valueToTree(current).equals(JSON.valueToTree(desired))) {
      return UpdateControl.noUpdate();
    }
    resource.setStatus(desired);
    return UpdateControl.patchStatus(resource);
  }

  /** Stamps generation and transition times onto a status about to be written. */
  public <S extends WithConditions> void finish(CustomResource<?, S> resource, S desired) {
    S current = resource.getStatus();
    Long generation = resource.getMetadata().getGeneration();
    desired.setObservedGeneration(generation);
    desired.setConditions(
        Conditions.merge(
            current == null ? null : current.getConditions(),
            desired.getConditions(),
            generation,
            clock.instant()));
  }
}
