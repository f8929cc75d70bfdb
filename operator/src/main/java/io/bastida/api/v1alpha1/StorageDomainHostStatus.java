package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Quantity;

/** The domain as one host sees it. */
public class StorageDomainHostStatus {
  private String hostName;
  private boolean attached;
  private String pool;
  private Quantity capacity;
  private Quantity available;
  private String reason;
  private String message;

  public String getHostName() {
    return hostName;
  }

  public void setHostName(String hostName) {
    this.hostName = hostName;
  }

  public boolean isAttached() {
    return attached;
  }

  public void setAttached(boolean attached) {
    this.attached = attached;
  }

  public String getPool() {
    return pool;
  }

  public void setPool(String pool) {
    this.pool = pool;
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

  public String getReason() {
    return reason;
  }

  public void setReason(String reason) {
    this.reason = reason;
  }

  public String getMessage() {
    return message;
  }

  public void setMessage(String message) {
    this.message = message;
  }
}
