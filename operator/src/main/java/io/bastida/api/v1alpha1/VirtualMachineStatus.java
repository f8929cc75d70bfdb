package io.bastida.api.v1alpha1;

import java.util.ArrayList;
import java.util.List;

/** What Bastida observed of a VM. Public fields, like the spec's nested types. */
public class VirtualMachineStatus extends ConditionedStatus {
  /** A one-word summary for {@code kubectl get} only (Running, Stopped, ...); not a contract. */
  public String printableStatus;

  /** The Host the VM is placed on; kept until the VM moves. */
  public String hostName;

  public String domainName;
  public String domainUUID;

  /** The restartRequestedAt value last acted on. */
  public String restartedFor;

  /** When Bastida last started the domain; unset until it first did. */
  public String lastStartedAt;

  /** Digest of the domain definition last given to libvirt. */
  public String definedRevision;

  /** Digest of the definition the running domain was started with. */
  public String runningRevision;

  /** vCPUs and memory last given to the running domain, e.g. {@code 2 vCPUs, 1024Mi}. */
  public String liveResources;

  /** When Bastida asked the guest to shut down; the grace period runs from here. */
  public String stopRequestedAt;

  public List<InterfaceStatus> interfaces = new ArrayList<>();
  public List<DiskStatus> disks = new ArrayList<>();
  public String consoleAddress;
  public String guestHostname;

  public static class InterfaceStatus {
    public String name;
    public String macAddress;
    public List<String> ipAddresses = new ArrayList<>();
  }

  public static class DiskStatus {
    public String name;

    /** Where the disk's bytes are: a path on the host, or an nfs:// URL. */
    public String source;
  }
}
