package io.bastida.api.v1alpha1;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.List;

public class HostStatus implements WithConditions {
  private Long observedGeneration;
  private List<Condition> conditions = new ArrayList<>();
  private HostResources capacity;
  private HostResources allocatable;
  private Quantity freeMemory;
  private String hostname;
  private String architecture;
  private String cpuModel;
  private String libvirtVersion;
  private String hypervisor;
  private Integer domains;
  private Integer runningDomains;
  private String lastHeartbeatTime;
  private List<String> unmanagedDomains;
  private HostDrainStatus drain;

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

  public HostResources getCapacity() {
    return capacity;
  }

  public void setCapacity(HostResources capacity) {
    this.capacity = capacity;
  }

  public HostResources getAllocatable() {
    return allocatable;
  }

  public void setAllocatable(HostResources allocatable) {
    this.allocatable = allocatable;
  }

  public Quantity getFreeMemory() {
    return freeMemory;
  }

  public void setFreeMemory(Quantity freeMemory) {
    this.freeMemory = freeMemory;
  }

  public String getHostname() {
    return hostname;
  }

  public void setHostname(String hostname) {
    this.hostname = hostname;
  }

  public String getArchitecture() {
    return architecture;
  }

  public void setArchitecture(String architecture) {
    this.architecture = architecture;
  }

  public String getCpuModel() {
    return cpuModel;
  }

  public void setCpuModel(String cpuModel) {
    this.cpuModel = cpuModel;
  }

  public String getLibvirtVersion() {
    return libvirtVersion;
  }

  public void setLibvirtVersion(String libvirtVersion) {
    this.libvirtVersion = libvirtVersion;
  }

  public String getHypervisor() {
    return hypervisor;
  }

  public void setHypervisor(String hypervisor) {
    this.hypervisor = hypervisor;
  }

  public Integer getDomains() {
    return domains;
  }

  public void setDomains(Integer domains) {
    this.domains = domains;
  }

  public Integer getRunningDomains() {
    return runningDomains;
  }

  public void setRunningDomains(Integer runningDomains) {
    this.runningDomains = runningDomains;
  }

  /**
   * Domains on the host that no VirtualMachine owns (first 50 by name): reported, never touched.
   */
  public List<String> getUnmanagedDomains() {
    return unmanagedDomains;
  }

  public void setUnmanagedDomains(List<String> unmanagedDomains) {
    this.unmanagedDomains = unmanagedDomains;
  }

  public String getLastHeartbeatTime() {
    return lastHeartbeatTime;
  }

  public void setLastHeartbeatTime(String lastHeartbeatTime) {
    this.lastHeartbeatTime = lastHeartbeatTime;
  }

  /** The plan and progress of moving the VMs off a host in maintenance; unset otherwise. */
  public HostDrainStatus getDrain() {
    return drain;
  }

  public void setDrain(HostDrainStatus drain) {
    this.drain = drain;
  }
}
