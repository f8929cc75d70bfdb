package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.operator.status.Conditions;

/** Condition types and reasons of a VirtualMachine. */
public final class VmConditions {
  public static final String READY = "Ready";
  public static final String SCHEDULED = "Scheduled";
  public static final String RUNNING = "Running";
  public static final String PAUSED = "Paused";
  public static final String RESTART_REQUIRED = "RestartRequired";
  public static final String AGENT_CONNECTED = "AgentConnected";
  public static final String LIVE_MIGRATABLE = "LiveMigratable";
  public static final String MIGRATING = "Migrating";

  /** A migration holds the VM's domain (and has its snapshots detached) until it ends. */
  public static boolean isMigrating(VirtualMachine vm) {
    return vm.getStatus() != null && Conditions.isTrue(vm.getStatus().conditions, MIGRATING);
  }

  private VmConditions() {}
}
