#!/usr/bin/env bash
# Scale benchmark of the VirtualMachine reconciler: VMS VirtualMachines (default 1000) over HOSTS
# libvirt test-driver hosts (default 10) on a real kube-apiserver + etcd, with the operator as its
# own JVM (operator/target/bastida-operator.jar, production intervals). Prints the figures and
# writes them as JSON to bench/results/vm-scale-<date>.json (plus the operator's log).
#
#   bench/vm-scale.sh [VMS] [HOSTS]
#
# Goal (the VirtualMachine issue), on a 2-core machine: all Ready within 60 s, operator heap under
# 256 MiB, idle CPU near zero once converged.
#
# Environment:
#   BENCH_OPERATOR_JAVA_OPTS  operator JVM options (default "-Xmx384m -XX:+UseSerialGC": what the
#                             Deployment's 512Mi limit with MaxRAMPercentage=75 gives on <2 GiB)
#   BENCH_JFR=1               record the operator with Java Flight Recorder (results/*.jfr)
#   BENCH_THREAD_DUMPS=1      a thread dump of the operator every 5 s while converging
#   BENCH_IDLE_SECONDS (30), BENCH_SETTLE_SECONDS (5), BENCH_TIMEOUT_SECONDS (300),
#   BENCH_CREATE_THREADS (8), BENCH_QUIET_WAIT_SECONDS (300: wait for a mostly idle machine first),
#   BENCH_SKIP_BUILD=1 (use the jar and classes as they are)
#   BASTIDA_VM_RECHECK_SECONDS etc. are passed on to the operator.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VMS=${1:-1000}
HOSTS=${2:-10}
[[ $VMS =~ ^[0-9]+$ && $HOSTS =~ ^[0-9]+$ && $HOSTS -gt 0 ]] || { echo "usage: $0 [VMS] [HOSTS]" >&2; exit 2; }

eval "$(hack/control-plane.sh env)"
compgen -G "${KUBE_API_TEST_DIR:-/var/cache/bastida}/k8s/${BASTIDA_K8S_VERSION:-}*/kube-apiserver" >/dev/null ||
  { echo "vm-scale: no cached control plane: run hack/control-plane.sh install" >&2; exit 1; }

JAR=operator/target/bastida-operator.jar
CP_FILE=operator/target/bench.classpath
stale() { # stale FILE: FILE is missing or older than a source or pom
  [[ ! -e $1 ]] || [[ -n $(find pom.xml operator/pom.xml operator/src -newer "$1" -print -quit) ]]
}
if [[ -z ${BENCH_SKIP_BUILD:-} ]] && { stale "$JAR" || [[ ! -d operator/target/test-classes/io/bastida/bench ]]; }; then
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
OUT=bench/results/vm-scale-$STAMP
JFR=
[[ -n ${BENCH_JFR:-} ]] && JFR=$ROOT/$OUT-operator.jfr
DUMPS=
[[ -n ${BENCH_THREAD_DUMPS:-} ]] && DUMPS=$ROOT/$OUT-threads.txt

# The benchmark JVM runs the API server's client side, the watch and the creates; the operator
# runs in its own JVM, started (and stopped, by its PID) by the benchmark.
exec java -Xmx512m -XX:+UseSerialGC \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -Dbastida.repo="$ROOT" \
  -Dbench.operatorJar="$ROOT/$JAR" \
  -Dbench.operatorJvmOpts="${BENCH_OPERATOR_JAVA_OPTS:--Xmx384m -XX:+UseSerialGC}" \
  -Dbench.operatorLog="$ROOT/$OUT-operator.log" \
  -Dbench.out="$ROOT/$OUT.json" \
  -Dbench.jfr="$JFR" \
  -Dbench.threadDumps="$DUMPS" \
  -Dbench.idleSeconds="${BENCH_IDLE_SECONDS:-30}" \
  -Dbench.settleSeconds="${BENCH_SETTLE_SECONDS:-5}" \
  -Dbench.timeoutSeconds="${BENCH_TIMEOUT_SECONDS:-300}" \
  -Dbench.createThreads="${BENCH_CREATE_THREADS:-8}" \
  -Dbench.quietWaitSeconds="${BENCH_QUIET_WAIT_SECONDS:-300}" \
  -cp "operator/target/test-classes:operator/target/classes:$(cat "$CP_FILE")" \
  io.bastida.bench.VmScaleBench "$VMS" "$HOSTS"
