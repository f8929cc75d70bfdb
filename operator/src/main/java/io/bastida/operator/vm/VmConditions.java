package io.bastida.operator.vm;

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

  private VmConditions() {}
}
