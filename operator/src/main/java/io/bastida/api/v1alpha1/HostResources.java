package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Quantity;

/** CPU threads and memory of a host, as reported or as allocatable after overcommit. */
public class HostResources {
  private Integer cpu;
  private Quantity memory;

  public HostResources() {}

  public HostResources(Integer cpu, Quantity memory) {
    this.cpu = cpu;
    this.memory = memory;
  }

  public Integer getCpu() {
    return cpu;
  }

  public void setCpu(Integer cpu) {
    this.cpu = cpu;
  }

  public Quantity getMemory() {
    return memory;
  }

  public void setMemory(Quantity memory) {
    this.memory = memory;
  }
}
