#!/usr/bin/env bash
# The Bastida demo, as root on a Debian/Ubuntu machine:
#
#   hack/demo.sh        set everything up (packages, control plane, build), start two real libvirt
#                       hosts and an NFS export in network namespaces, run the operator, apply
#                       examples/ and show the Hosts and StorageDomains once Ready
#   hack/demo.sh down   stop the operator, the hosts and the control plane
#
# Where network namespaces cannot be made, it falls back to libvirt's in-process test driver and
# says so. Afterwards: export KUBECONFIG=/var/lib/bastida/control-plane/kubeconfig
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${BASTIDA_DEMO_STATE:-/var/lib/bastida/demo}
KUBECONFIG=${BASTIDA_STATE:-/var/lib/bastida/control-plane}/kubeconfig
HEALTH_PORT=${BASTIDA_DEMO_HEALTH_PORT:-8088}
export KUBECONFIG

say() { printf '\n==> %s\n' "$*"; }

stop_operator() {
  local pid
  pid=$(cat "$STATE/operator.pid" 2>/dev/null || true)
  # Only our operator: after a reboot the number may belong to another process.
  if [[ -n $pid ]] && grep -qa bastida-operator.jar "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$STATE/operator.pid"
}

start_operator() {
  stop_operator
  mkdir -p "$STATE"
  BASTIDA_NAMESPACE=bastida-system BASTIDA_LEADER_ELECTION=true BASTIDA_HEALTH_PORT=$HEALTH_PORT \
    setsid java -jar operator/target/bastida-operator.jar >"$STATE/operator.log" 2>&1 </dev/null &
  echo $! >"$STATE/operator.pid"
  for _ in $(seq 1 60); do
    curl -fs "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null 2>&1 && return
    kill -0 "$(cat "$STATE/operator.pid")" 2>/dev/null || break
    sleep 1
  done
  tail -n 30 "$STATE/operator.log" >&2
  echo "demo: the operator did not become ready (log: $STATE/operator.log)" >&2
  exit 1
}

if [[ ${1:-up} == down ]]; then
  stop_operator
  hack/testbed.sh down || true
  hack/control-plane.sh down
  exit 0
fi

say "Installing packages, control-plane binaries and building the operator"
hack/setup.sh
eval "$(hack/control-plane.sh env)"

say "Starting the local control plane"
hack/control-plane.sh up

say "Starting two libvirt hosts and an NFS export in network namespaces"
examples=(examples/)
if hack/testbed.sh up; then
  say "Building the tiny guest the school VMs boot"
  hack/guest/build-initramfs.sh /var/cache/bastida/guest
else
  echo "demo: FALLING BACK to libvirt's test driver: network namespaces are not available here;" \
    "the hosts below are simulated in-process" >&2
  examples=(examples/test-driver/)
fi

say "Installing the CRDs and starting the operator"
kubectl apply --server-side -f crds/
kubectl create namespace bastida-system --dry-run=client -o yaml | kubectl apply -f -
start_operator

say "kubectl apply -f ${examples[*]}"
kubectl apply -f "${examples[@]}"
kubectl wait --for=condition=Ready hosts --all --timeout=180s
kubectl wait --for=condition=Ready storagedomains --all --timeout=180s
if [[ ${examples[0]} == examples/ ]]; then
  kubectl wait --for=condition=Ready bvm --all -n school --timeout=300s
fi

say "kubectl get hosts,storagedomains"
kubectl get hosts
echo
kubectl get storagedomains
if [[ ${examples[0]} == examples/ ]]; then
  echo
  kubectl get bvm -n school
fi

cat <<MSG

The demo is running. Point kubectl at it and look around:

  export KUBECONFIG=$KUBECONFIG
  kubectl get hosts -o wide
  kubectl describe storagedomain school-nfs
  kubectl get bvm -n school -o wide
  kubectl patch bvm web -n school --type=merge -p '{"spec":{"paused":true}}'

Operator log: $STATE/operator.log.  Stop everything: hack/demo.sh down
MSG
