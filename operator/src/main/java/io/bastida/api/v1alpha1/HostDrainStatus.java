package io.bastida.api.v1alpha1;

import java.util.ArrayList;
import java.util.List;

/** The drain of a host in maintenance: every VM on it with what happens to it. */
public class HostDrainStatus {
  /** VMs on the host when the drain was planned. */
  public Integer vmsTotal;

  /** VMs still running on the host (migrating, waiting, blocked or shutting down). */
  public Integer vmsRemaining;

  public List<VmEviction> vms = new ArrayList<>();

  /** One VM of the drain. */
  public static class VmEviction {
    public String namespace;
    public String name;

    /** LiveMigrate, Shutdown, Blocked, or None for a VM that is not running. */
    public String action;

    /** Where a LiveMigrate goes. */
    public String targetHostName;

    /** The VirtualMachineMigration carrying it out. */
    public String migrationName;

    /** Pending, Migrating, Migrated, ShuttingDown, Stopped, Blocked or Failed. */
    public String state;

    public String message;
  }
}
