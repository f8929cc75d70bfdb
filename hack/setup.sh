#!/usr/bin/env bash
# Installs everything Bastida needs on a Debian/Ubuntu machine, as root, and builds it:
# Debian packages (JDK, Maven, libvirt, QEMU, nfs-ganesha), a Go toolchain if the machine has
# none recent enough, the control-plane binaries (kube-apiserver, etcd, kubectl, helm; cached by
# version outside the repository) and the operator jar. Idempotent: a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  openjdk-17-jdk-headless maven git curl unzip ca-certificates openssl iproute2 procps
  libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libvirt0
  qemu-system-x86 qemu-utils qemu-block-extra busybox-static linux-image-amd64 qemu-guest-agent
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils libxml2-utils genisoimage ovmf
)
GO_BOOTSTRAP_VERSION=1.26.8
CACHE=${BASTIDA_CACHE:-/var/cache/bastida}

log() { printf 'setup: %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# kube-apiserver 1.35 needs Go >= 1.24. Debian's is older, so take the official toolchain from
# the Go module proxy (it serves toolchains as modules) when no recent Go is on the machine.
ensure_go() {
  local go
  for go in "${GO:-}" "$(command -v go || true)" /usr/local/go/bin/go "$CACHE/go/bin/go"; do
    [[ -n $go && -x $go ]] || continue
    local minor
    minor=$("$go" env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
    if [[ -n $minor && $minor -ge 24 ]]; then
      echo "$go"
      return
    fi
  done
  log "bootstrapping Go $GO_BOOTSTRAP_VERSION from the Go module proxy"
  local proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%,*}
  local tmp
  tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/go.zip" \
    "$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_BOOTSTRAP_VERSION.linux-amd64.zip"
  unzip -q "$tmp/go.zip" -d "$tmp"
  rm -rf "$CACHE/go"
  mkdir -p "$CACHE"
  mv "$tmp/golang.org/toolchain@v0.0.1-go$GO_BOOTSTRAP_VERSION.linux-amd64" "$CACHE/go"
  chmod +x "$CACHE"/go/bin/* "$CACHE"/go/pkg/tool/*/* 2>/dev/null || true
  rm -rf "$tmp"
  echo "$CACHE/go/bin/go"
}

install_packages
GO=$(ensure_go)
export GO
hack/control-plane.sh install >&2
if [[ ${BASTIDA_SKIP_BUILD:-} != 1 ]]; then
  log "building the operator"
  mvn -B -q -DskipTests -Dspotless.check.skip=true package >&2
fi
log "ready"
