package io.bastida.operator;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Settings from the environment (set by the Deployment or the chart).
 *
 * @param namespace where the operator runs, holds its leader Lease and reads host credentials
 * @param leaderElection take a Lease before reconciling, so only one replica acts
 * @param healthPort port of {@code /healthz} and {@code /readyz}; 0 turns the endpoint off
 * @param migrationsPerHost live migrations out of one host at a time
 * @param migrationsPerCluster live migrations in the whole cluster at a time
 * @param scheduleRecheckInterval the longest a backup policy sleeps before it looks at the clock
 *     again (its next run is usually sooner)
 * @param stagingDirectory where a restore flattens an NFS backup before it streams it to a host:
 *     room for the largest disk restored that way
 */
public record OperatorSettings(
    String namespace,
    boolean leaderElection,
    int healthPort,
    Duration hostRecheckInterval,
    Duration hostHeartbeatInterval,
    Duration storageRecheckInterval,
    Duration vmRecheckInterval,
    Duration hostReachTimeout,
    int migrationsPerHost,
    int migrationsPerCluster,
    Duration scheduleRecheckInterval,
    Path stagingDirectory) {

  public static final String LEASE_NAME = "bastida-operator";

  public static OperatorSettings fromEnvironment(Map<String, String> env) {
    return new OperatorSettings(
        env.getOrDefault("BASTIDA_NAMESPACE", env.getOrDefault("POD_NAMESPACE", "bastida-system")),
        Boolean.parseBoolean(env.getOrDefault("BASTIDA_LEADER_ELECTION", "true")),
        Integer.parseInt(env.getOrDefault("BASTIDA_HEALTH_PORT", "8080")),
        seconds(env, "BASTIDA_HOST_RECHECK_SECONDS", 30),
        seconds(env, "BASTIDA_HOST_HEARTBEAT_SECONDS", 60),
        seconds(env, "BASTIDA_STORAGE_RECHECK_SECONDS", 60),
        seconds(env, "BASTIDA_VM_RECHECK_SECONDS", 120),
        seconds(env, "BASTIDA_HOST_REACH_TIMEOUT_SECONDS", 5),
        Integer.parseInt(env.getOrDefault("BASTIDA_MIGRATIONS_PER_HOST", "2")),
        Integer.parseInt(env.getOrDefault("BASTIDA_MIGRATIONS_PER_CLUSTER", "5")),
        seconds(env, "BASTIDA_SCHEDULE_RECHECK_SECONDS", 30),
        Path.of(env.getOrDefault("BASTIDA_STAGING_DIR", System.getProperty("java.io.tmpdir"))));
  }

  public OperatorSettings withMigrationLimits(int perHost, int perCluster) {
    return new OperatorSettings(
        namespace,
        leaderElection,
        healthPort,
        hostRecheckInterval,
        hostHeartbeatInterval,
        storageRecheckInterval,
        vmRecheckInterval,
        hostReachTimeout,
        perHost,
        perCluster,
        scheduleRecheckInterval,
        stagingDirectory);
  }

  private static Duration seconds(Map<String, String> env, String name, long fallback) {
    return Duration.ofSeconds(Long.parseLong(env.getOrDefault(name, Long.toString(fallback))));
  }
}
