#!/usr/bin/env bash
# Runs the whole test suite, as root:
#   *Test  pure unit tests (planners, XML, URIs, status)
#   *IT    the operator against a real kube-apiserver (kube-api-test) and libvirt's test driver
#   *E2E   the operator against real libvirtd + QEMU hosts in network namespaces and nfs-ganesha
# then checks that the committed CRDs match the code and that the install manifests and the Helm
# chart are accepted by the API server (PackagingIT). Sets up what it needs and tears the
# testbed down again.
set -euo pipefail
cd "$(dirname "$0")/.."

BASTIDA_SKIP_BUILD=1 hack/setup.sh
eval "$(hack/control-plane.sh env)"

# The tests need the testbed to themselves: a running demo (its operator would recreate its VMs
# there) is stopped, and the testbed is started afresh.
if [[ -e /var/lib/bastida/demo/operator.pid ]]; then
  echo "test: stopping the running demo first (hack/demo.sh down)" >&2
  hack/demo.sh down
fi
hack/testbed.sh down
hack/testbed.sh up
trap 'hack/testbed.sh down' EXIT

mvn -B verify

if ! git diff --quiet -- crds helm/bastida/crds 2>/dev/null; then
  git --no-pager diff --stat -- crds helm/bastida/crds
  echo "test: crds/ is stale: the build regenerated it from the API classes; commit the result" >&2
  exit 1
fi
