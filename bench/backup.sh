#!/usr/bin/env bash
# Backup benchmark: operator-made VirtualMachineBackups of a running guest's Native NFS disk against
# a bare `qemu-img convert` of the same disk to the same export, in one run, so a noisy machine
# disturbs both alike. Prints a table of figures with the goals and writes everything as JSON to
# bench/results/backup-<date>.json (plus the operator's log, with millisecond timestamps, next to it).
#
#   bench/backup.sh
#
# Goals (the backup issue):
#   1. full backup throughput >= 0.9x a bare qemu-img convert of the same disk (ratio of medians)
#   2. an incremental backup after a 5 % change: <= 15 % of the full's time and of its stored bytes
#
# What runs (io.bastida.bench.BackupBench, operator/src/test/java/io/bastida/bench/):
#   - kube-apiserver + etcd in-process (TestCluster, kube-api-test) with the CRDs; the operator as its
#     own JVM from operator/target/bastida-operator.jar with the production intervals, leader
#     election off, stopped by its PID.
#   - Every name carries the run's id (MMddHHmmss): namespace bench-backup-<id>, Host
#     bench-backup-<id>-ha (the testbed's hA, virtualization: Software), StorageDomain
#     bench-backup-<id> (Native NFS, Disks and Backups, on its own export folder /export/<same>).
#     nfs-ganesha caches names deleted and made again, and other tests share the testbed.
#   - One guest, VM "guest" (10.77.1.241): the tiny test guest by kernelBoot, 1 vCPU, 128Mi, whose
#     disk is an existing volume made before it boots: BENCH_DISK_MIB (1024) MiB qcow2 with
#     BENCH_DATA_PERCENT (70) % of its MiB blocks random, spread evenly (a sparse raw file written
#     here, then `qemu-img convert` onto the nfs:// URL).
#
# Each of BENCH_ROUNDS (3) rounds:
#   1. full: a VirtualMachineBackup (mode Full, made directly, verify off: the default) and the
#      bare copy, one after the other, bare first in odd rounds:
#        qemu-img convert -U -f qcow2 -O qcow2 nfs://<server>/export/<folder>/guest-disk.qcow2 \
#          nfs://<server>/export/<folder>/baseline-<id>-<round>.qcow2
#      (-U: the running QEMU holds the image). The operator copies from libvirt's pull-mode NBD
#      export instead (qemu-img map, then convert -f raw), then runs qemu-img check and info,
#      computes a sha256 over NFS and writes the manifest. Operator time = create -> this client's
#      watch sees Complete; bare time = the qemu-img process's run time. MiB/s of both = the disk's
#      data (allocated, non-zero, by qemu-img map) / time.
#      Breakdown: the operator's child processes (qemu-img, qemu-io), polled every
#      BENCH_POLL_MILLIS (20) ms, give its copy phase apart; the image's qemu-img check and sha256
#      (the operator's NfsFiles) are run again by the benchmark after each backup, and on each bare
#      copy, outside the timed part, to show what they cost.
#   2. the guest writes BENCH_CHANGE_PERCENT (5) % of the disk with random data, in three ranges
#      (GET /cgi-bin/write on the guest: dd from /dev/urandom to /dev/vda, fsync).
#   3. incremental: a VirtualMachineBackup with mode Incremental (must be built on this round's full),
#      timed the same way; stored bytes = status.totalBytes of each.
#   Both backups are then deleted (which deletes their files) and the baseline file removed.
#   4. local: the same disk backed up onto the host's own local storage (StorageDomain
#      bench-backup-<id>-local, Backups, in hA's private /var/lib/bastida-local): a
#      VirtualMachineBackup (mode Full, QEMU writes the image itself: push mode, then the checksum
#      read back through a libvirt stream, the manifest, the status) against a bare push-mode
#      backup of the same guest into a file of the same directory, begun and watched through
#      libvirt by the benchmark (begin -> the job is gone), bare first in odd rounds. Its sha256,
#      read from the file directly, is timed apart. No goal: the issue set none for local storage.
#
# Needs the cached control plane (hack/control-plane.sh install) and Maven's offline repository
# (hack/setup.sh). Starts the testbed when it is not up (and stops it again at the end only then).
# Takes ~3 minutes. Cleans up everything it made: backups, the VM, its disk, baseline files, the
# StorageDomain and its folder, the Host, the namespace, the operator and the API server; what the
# operator failed to remove is listed in the JSON (leftAfterCleanUp) and removed.
#
# Environment:
#   BENCH_ROUNDS (3), BENCH_DISK_MIB (1024), BENCH_DATA_PERCENT (70), BENCH_CHANGE_PERCENT (5),
#   BENCH_PAUSE_MILLIS (2000, between measurements), BENCH_POLL_MILLIS (20),
#   BENCH_OPERATOR_JAVA_OPTS ("-Xmx384m -XX:+UseSerialGC"), BENCH_SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

eval "$(hack/control-plane.sh env)"
compgen -G "${KUBE_API_TEST_DIR:-/var/cache/bastida}/k8s/${BASTIDA_K8S_VERSION:-}*/kube-apiserver" >/dev/null ||
  { echo "backup: no cached control plane: run hack/control-plane.sh install" >&2; exit 1; }

TESTBED_ENV=${BASTIDA_TESTBED:-/run/bastida-testbed}/env
if [[ ! -f $TESTBED_ENV ]]; then
  echo "[bench] the testbed is not up: starting it (hack/testbed.sh up); stopped again at the end"
  trap 'hack/testbed.sh down' EXIT
  hack/testbed.sh up
fi

JAR=operator/target/bastida-operator.jar
CP_FILE=operator/target/bench.classpath
stale() { # stale FILE: FILE is missing or older than a source or pom
  [[ ! -e $1 ]] || [[ -n $(find pom.xml operator/pom.xml operator/src -newer "$1" -print -quit) ]]
}
if [[ -z ${BENCH_SKIP_BUILD:-} ]] && { stale "$JAR" || [[ ! -f operator/target/test-classes/io/bastida/bench/BackupBench.class ]]; }; then
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
OUT=bench/results/backup-$STAMP

# Not exec: the trap above must still stop a testbed started here.
java -Xmx512m -XX:+UseSerialGC \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -Dbastida.repo="$ROOT" \
  -Dbench.operatorJar="$ROOT/$JAR" \
  -Dbench.operatorJvmOpts="${BENCH_OPERATOR_JAVA_OPTS:--Xmx384m -XX:+UseSerialGC}" \
  -Dbench.operatorLog="$ROOT/$OUT-operator.log" \
  -Dbench.out="$ROOT/$OUT.json" \
  -Dbench.rounds="${BENCH_ROUNDS:-3}" \
  -Dbench.diskMiB="${BENCH_DISK_MIB:-1024}" \
  -Dbench.dataPercent="${BENCH_DATA_PERCENT:-70}" \
  -Dbench.changePercent="${BENCH_CHANGE_PERCENT:-5}" \
  -Dbench.pauseMillis="${BENCH_PAUSE_MILLIS:-2000}" \
  -Dbench.pollMillis="${BENCH_POLL_MILLIS:-20}" \
  -cp "operator/target/test-classes:operator/target/classes:$(cat "$CP_FILE")" \
  io.bastida.bench.BackupBench
