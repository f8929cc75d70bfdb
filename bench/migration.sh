#!/usr/bin/env bash
# Live migration benchmark: the operator against bare `virsh migrate` between the two testbed hosts
# (hA, hB), in one run on the same kind of guests, so a noisy machine disturbs both alike. Prints a
# table of figures with the goals and writes everything as JSON to bench/results/migration-<date>.json
# (plus the operator's log, with millisecond timestamps, next to it).
#
#   bench/migration.sh
#
# Goals (the migration issue), idle 128 MiB guests under TCG:
#   1. single migration, operator wall time / bare wall time (ratio of medians) <= 1.2
#   2. drain of 4 VMs (Host maintenance until InMaintenance) / 4 parallel bare migrations <= 1.3
#   3. downtime p95 <= 150 ms
#
# What runs (io.bastida.bench.MigrationBench, operator/src/test/java/io/bastida/bench/):
#   - kube-apiserver + etcd in-process (TestCluster, kube-api-test) with the CRDs; the operator as its
#     own JVM from operator/target/bastida-operator.jar with the production intervals, leader
#     election off, stopped by its PID; BASTIDA_MIGRATIONS_PER_HOST=$BENCH_DRAIN_PER_HOST (4) at
#     first, then restarted with the default limits (2 per host, 5 per cluster).
#   - Hosts bench-ha / bench-hb (the testbed's hA / hB over qemu+tcp, virtualization: Software),
#     StorageDomain bench-nfs (Native NFS on the testbed's export), namespace bench-migration,
#     VMs op-1..op-4 (10.77.1.221-224): the tiny test guest by kernelBoot, 1 vCPU, 128Mi, a blank
#     32Mi NFS disk, a NIC on br-vm. All start on bench-ha.
#   - Bare guests bench-bare-1..4 (10.77.1.225-228): op-1's domain XML as the operator defined it
#     (virsh dumpxml --inactive), with its own name, a new UUID and MAC, its own IP and a blank 32 MiB
#     qcow2 of its own on the same export, and without Bastida's metadata; defined and started with
#     virsh. The operator never touches them (it lists them as unmanaged domains), so its state
#     stays honest: no operator domain is ever moved behind its back.
#   - Bare migration = what the operator asks of libvirt, typed by hand:
#       virsh -c <source> migrate --live --p2p --persistent --undefinesource <dom> <dest uri> \
#         --migrateuri tcp://<dest ip>
#     (the operator also sets --abort-on-error and --auto-converge, and starts with a 100 ms
#     downtime allowance, where virsh leaves QEMU's default of 300 ms; neither matters for an idle
#     guest that converges in one pass, and the JSON has the iterations to check).
#
# Phases:
#   1. single: BENCH_ROUNDS (8, even) rounds; in each, op-1 and bench-bare-1 make the same move
#      (A->B in even rounds, B->A in odd ones), bare first in even rounds, operator first in odd
#      ones, with a pause in between. Operator wall time = create of a VirtualMachineMigration ->
#      this client's watch sees Succeeded=True. Bare = the virsh process's run time.
#   2. drain (raised limit): drain bench-ha (spec.maintenance: true -> the watch sees
#      InMaintenance=True), end maintenance; 4 bare guests migrated A->B by 4 parallel virsh
#      (first start -> last exit); then the same B->A; order alternated. BENCH_DRAIN_ROUNDS (2).
#   3. drain (default limit of 2 per host), after an operator restart: the same, BENCH_DEFAULT_DRAIN_ROUNDS (1).
#   Downtime: operator = status.downtimeMilliseconds (libvirt's completed job statistics on the
#   target, read by the operator); bare = `virsh domjobinfo --completed --keep-completed` on the
#   destination ("Total downtime").
#   Breakdown: `virsh event --all --loop --timestamp` on both hosts for the whole run gives, per
#   migration, when the destination's QEMU started ("Started Migrated": the job is under way) and
#   when the guest resumed there ("Resumed Migrated"); the operator's log gives when it admitted the
#   migration and when it logged success; the watch gives when each status write was seen.
#
# Needs the testbed up (hack/testbed.sh up; it is not started or stopped here), the cached control
# plane (hack/control-plane.sh install) and Maven's offline repository (hack/setup.sh). Takes ~5-6
# minutes. Cleans up everything it made: VMs (the operator removes their domains and images), the
# StorageDomain and Hosts, the bare domains and their images, the operator and the API server.
#
# Environment:
#   BENCH_ROUNDS (8), BENCH_DRAIN_ROUNDS (2), BENCH_DEFAULT_DRAIN_ROUNDS (1), BENCH_DRAIN_PER_HOST (4),
#   BENCH_PAUSE_MILLIS (1500, between single migrations), BENCH_QUIET_WAIT_SECONDS (120),
#   BENCH_BARE_MAX_DOWNTIME_MS (unset: QEMU's default; 100 gives bare guests the operator's starting
#   allowance via `virsh migrate-setmaxdowntime`, set before and outside the timed migration),
#   BENCH_OPERATOR_JAVA_OPTS ("-Xmx384m -XX:+UseSerialGC"), BENCH_SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${BENCH_ROUNDS:-8}
[[ $ROUNDS =~ ^[0-9]+$ && $((ROUNDS % 2)) -eq 0 && $ROUNDS -gt 0 ]] ||
  { echo "migration: BENCH_ROUNDS must be even (each guest returns to its first host)" >&2; exit 2; }

eval "$(hack/control-plane.sh env)"
compgen -G "${KUBE_API_TEST_DIR:-/var/cache/bastida}/k8s/${BASTIDA_K8S_VERSION:-}*/kube-apiserver" >/dev/null ||
  { echo "migration: no cached control plane: run hack/control-plane.sh install" >&2; exit 1; }
[[ -f ${BASTIDA_TESTBED:-/run/bastida-testbed}/env ]] ||
  { echo "migration: the testbed is not up: run hack/testbed.sh up" >&2; exit 1; }

JAR=operator/target/bastida-operator.jar
CP_FILE=operator/target/bench.classpath
stale() { # stale FILE: FILE is missing or older than a source or pom
  [[ ! -e $1 ]] || [[ -n $(find pom.xml operator/pom.xml operator/src -newer "$1" -print -quit) ]]
}
if [[ -z ${BENCH_SKIP_BUILD:-} ]] && { stale "$JAR" || [[ ! -f operator/target/test-classes/io/bastida/bench/MigrationBench.class ]]; }; then
  echo "[bench] building the operator jar and the test classes (mvn -o package -DskipTests)"
  mvn -B -q -o package -DskipTests
  touch "$JAR"
fi
if [[ ! -s $CP_FILE ]] || [[ operator/pom.xml -nt $CP_FILE ]] || [[ pom.xml -nt $CP_FILE ]]; then
  (cd operator && mvn -B -q -o dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile=target/bench.classpath)
fi

mkdir -p bench/results
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=bench/results/migration-$STAMP

exec java -Xmx512m -XX:+UseSerialGC \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -Dbastida.repo="$ROOT" \
  -Dbench.operatorJar="$ROOT/$JAR" \
  -Dbench.operatorJvmOpts="${BENCH_OPERATOR_JAVA_OPTS:--Xmx384m -XX:+UseSerialGC}" \
  -Dbench.operatorLog="$ROOT/$OUT-operator.log" \
  -Dbench.out="$ROOT/$OUT.json" \
  -Dbench.rounds="$ROUNDS" \
  -Dbench.drainRounds="${BENCH_DRAIN_ROUNDS:-2}" \
  -Dbench.defaultDrainRounds="${BENCH_DEFAULT_DRAIN_ROUNDS:-1}" \
  -Dbench.drainPerHost="${BENCH_DRAIN_PER_HOST:-4}" \
  -Dbench.pauseMillis="${BENCH_PAUSE_MILLIS:-1500}" \
  -Dbench.bareMaxDowntimeMillis="${BENCH_BARE_MAX_DOWNTIME_MS:-}" \
  -Dbench.quietWaitSeconds="${BENCH_QUIET_WAIT_SECONDS:-120}" \
  -cp "operator/target/test-classes:operator/target/classes:$(cat "$CP_FILE")" \
  io.bastida.bench.MigrationBench
