package io.bastida.operator.events;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Emits Kubernetes Events that {@code kubectl describe} shows. Callers emit on transitions only, so
 * no deduplication is needed here. The API server files events of cluster-scoped resources (Hosts,
 * StorageDomains) under the {@code default} namespace, as it does for Nodes.
 */
public final class EventRecorder {
  private static final Logger log = LoggerFactory.getLogger(EventRecorder.class);
  static final String COMPONENT = "bastida-operator";

  private static final String CLUSTER_SCOPED_NAMESPACE = "default";

  private final KubernetesClient client;
  private final Clock clock;

  public EventRecorder(KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  /**
   * Logs and records a change of a resource's summary condition: a Normal event when it becomes
   * True, a Warning when it becomes False or Unknown, nothing when neither status nor reason moved
   * or when the new reason is one of {@code quietReasons} (expected and transient).
   */
  public void readinessChanged(
      HasMetadata resource, Optional<Condition> before, Condition after, Set<String> quietReasons) {
    if (before.isPresent()
        && Objects.equals(before.get().getStatus(), after.getStatus())
        && Objects.equals(before.get().getReason(), after.getReason())) {
      return;
    }
    String who = resource.getKind() + "(" + resource.getMetadata().getName() + ")";
    if ("True".equals(after.getStatus())) {
      log.info("{}: {}: {}", who, after.getReason(), after.getMessage());
      normal(resource, after.getReason(), after.getMessage());
    } else if (quietReasons.contains(after.getReason())) {
      log.info("{}: {}: {}", who, after.getReason(), after.getMessage());
    } else {
      log.warn("{}: not ready ({}): {}", who, after.getReason(), after.getMessage());
      warning(resource, after.getReason(), after.getMessage());
    }
  }

  public void normal(HasMetadata resource, String reason, String message) {
    emit(resource, "Normal", reason, message);
  }

  public void warning(HasMetadata resource, String reason, String message) {
    emit(resource, "Warning", reason, message);
  }

  private void emit(HasMetadata resource, String type, String reason, String message) {
    var meta = resource.getMetadata();
    String namespace = meta.getNamespace() != null ? meta.getNamespace() : CLUSTER_SCOPED_NAMESPACE;
    String now = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    var event =
        new EventBuilder()
            .withNewMetadata()
            .withNamespace(namespace)
            .withName(meta.getName() + "." + UUID.randomUUID().toString().substring(0, 8))
            .endMetadata()
            .withInvolvedObject(
                new ObjectReferenceBuilder()
                    .withApiVersion(resource.getApiVersion())
                    .withKind(resource.getKind())
                    .withName(meta.getName())
                    .withNamespace(meta.getNamespace())
                    .withUid(meta.getUid())
                    .withResourceVersion(meta.getResourceVersion())
                    .build())
            .withType(type)
            .withReason(reason)
            .withMessage(message)
            .withFirstTimestamp(now)
            .withLastTimestamp(now)
            .withCount(1)
            .withNewSource()
            .withComponent(COMPONENT)
            .endSource()
            .withReportingComponent(COMPONENT)
            .build();
    try {
      client.v1().events().inNamespace(namespace).resource(event).create();
    } catch (KubernetesClientException e) {
      // An event is a courtesy: losing one must not fail the reconciliation that caused it.
      log.warn(
          "{}({}): could not record event {}: {}",
          resource.getKind(),
          meta.getName(),
          reason,
          e.getMessage());
    }
  }
}
