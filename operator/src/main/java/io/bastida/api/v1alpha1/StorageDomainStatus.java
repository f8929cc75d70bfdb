package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.List;

public class StorageDomainStatus implements WithConditions {
  private Long observedGeneration;
  private List<Condition> conditions = new ArrayList<>();
  private String type;
  private String attachedHosts;
  private Quantity capacity;
  private Quantity available;
  private List<StorageDomainHostStatus> hosts = new ArrayList<>();

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

  /** {@code NFS/Mount}, {@code NFS/Native} or {@code Local}, for the printer column. */
  public String getType() {
    return type;
  }

  public void setType(String type) {
    this.type = type;
  }

  /** Attached over selected hosts, e.g. {@code 2/2}, for the printer column. */
  public String getAttachedHosts() {
    return attachedHosts;
  }

  public void setAttachedHosts(String attachedHosts) {
    this.attachedHosts = attachedHosts;
  }

  public Quantity getCapacity() {
    return capacity;
  }

  public void setCapacity(Quantity capacity) {
    this.capacity = capacity;
  }

  public Quantity getAvailable() {
    return available;
  }

  public void setAvailable(Quantity available) {
    this.available = available;
  }

  public List<StorageDomainHostStatus> getHosts() {
    return hosts;
  }

  public void setHosts(List<StorageDomainHostStatus> hosts) {
    this.hosts = hosts;
  }
}
