package io.bastida.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.Set;

/** Informers a reconciler reads from without being woken by them. */
public final class Informers {
  private Informers() {}

  /**
   * A cache of {@code secondary} resources to look things up in; their changes trigger nothing
   * (what depends on them is rechecked on its own schedule, or woken by a narrower informer).
   */
  public static <S extends HasMetadata, P extends HasMetadata> InformerEventSource<S, P> lookupOnly(
      Class<S> secondary, Class<P> primary, EventSourceContext<P> context) {
    return new InformerEventSource<>(
        InformerEventSourceConfiguration.from(secondary, primary)
            .withSecondaryToPrimaryMapper(ignored -> Set.of())
            .build(),
        context);
  }
}
