#!/usr/bin/env bash
# Bastida testbed: N real libvirt "hosts" plus an NFS server on one machine.
#
#   hack/testbed.sh up [N]   start N hosts (hA, hB, ...; default 2) and the NFS server
#   hack/testbed.sh down     stop everything the testbed started and remove it
#   hack/testbed.sh status   show what is up
#   hack/testbed.sh check    quick self test (exit non-zero on failure)
#
# Each host is a libvirtd + virtlogd + sshd in its own network namespace and private mount
# namespace (private /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt,
# /var/cache/libvirt, /run/sshd). sshd lets root in with a key pair generated under $STATE/ssh/,
# for qemu+ssh:// (the remote side runs virt-ssh-helper against /run/libvirt/libvirt-sock).
# The NFS server is nfs-ganesha (FSAL VFS) + rpcbind in namespace "bnfs". See
# /work/shared/docs/testbed.md for the measured facts behind the settings, and
# hack/testbed/README.md for a short overview.
#
# Network rule: every address used here is in 10.77.0.0/16, on interfaces this script creates.
# No default route exists in any namespace, so nothing here can reach beyond them.
set -euo pipefail

STATE=${BASTIDA_TESTBED:-/run/bastida-testbed}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/testbed

MGMT_NET=10.77.0          # management: host i = .i, NFS server = .10, root-ns bridge = .254
VM_NET=10.77.1            # guest L2 (br-vm in every host); root-ns hub bridge = .254
MGMT_BR=bstbr0            # root-ns management bridge
VM_HUB=bstvm0             # root-ns bridge joining every host's br-vm
NFS_NS=bnfs
NFS_IP=$MGMT_NET.10
LOCAL_DIR=/var/lib/bastida-local   # per-host private directory (for dir pools)
MAX_HOSTS=9
# Private per-host directories: <mount point>:<name under $STATE/hosts/<h>/>
# (/run/sshd: sshd's privilege separation directory, empty and root-owned)
LIBVIRT_DIRS=(/etc/libvirt:etc /run/libvirt:run /var/lib/libvirt:lib /var/log/libvirt:log
              /var/cache/libvirt:cache "$LOCAL_DIR:local" /run/sshd:sshd-empty)
PACKAGES=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
          qemu-utils qemu-block-extra busybox-static linux-image-amd64 nfs-ganesha
          nfs-ganesha-vfs rpcbind libnfs-utils iproute2 openssh-server openssh-client)
SSH_DIR_NAME=ssh          # $STATE/ssh: the client key pair, authorized_keys, known_hosts

log() { echo "testbed: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Retry "$@" every 0.2 s until it succeeds or $1 seconds have passed.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out after ${timeout}s waiting for $what"; return 1; }
    sleep 0.2
  done
}

host_names() {  # host_names N -> hA hB ...
  local i letters=ABCDEFGHI
  for ((i = 0; i < $1; i++)); do printf 'h%s ' "${letters:i:1}"; done
}
host_ip() {     # host_ip hB -> 10.77.0.2
  local letters=ABCDEFGHI rest
  rest=${letters%%"${1#h}"*}
  echo "$MGMT_NET.$((${#rest} + 1))"
}
# wait_host H: until libvirtd on H answers on its socket; fail fast if it died.
wait_host() {
  local h=$1 hd=$STATE/hosts/$1 deadline=$((SECONDS + 60))
  until virsh -c "$(sock_uri "$h")" version >/dev/null 2>&1; do
    if ! alive "$hd/libvirtd.pid" || ((SECONDS >= deadline)); then
      log "libvirtd on $h did not come up; end of $hd/log/libvirtd.log:"
      tail -n 15 "$hd/log/libvirtd.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}
hosts_up() { cat "$STATE/hosts.list" 2>/dev/null || true; }
sock_uri() { echo "qemu+unix:///system?socket=$STATE/hosts/$1/run/libvirt-sock"; }
tcp_uri() { echo "qemu+tcp://$(host_ip "$1")/system"; }
ssh_uri() { echo "qemu+ssh://root@$(host_ip "$1")/system"; }

# --- packages -------------------------------------------------------------------------------

ensure_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends)
  "${apt[@]}" "${missing[@]}" || { apt-get -o DPkg::Lock::Timeout=600 update -q && "${apt[@]}" "${missing[@]}"; }
}

# --- processes ------------------------------------------------------------------------------

# running PID: the process exists and is not a zombie.
running() { [[ -r /proc/$1/stat && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# is_ours PID COMM NS: PID still is a process we started: its command name starts with COMM
# and it lives in our network namespace NS (guards against reused PIDs).
is_ours() {
  local pid=$1 comm=$2 ns=$3
  [[ $pid =~ ^[0-9]+$ ]] && running "$pid" && [[ -e /run/netns/$ns ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm"* ]] || return 1
  [[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == "$(stat -L -c %i "/run/netns/$ns")" ]]
}

# stop_pids PID...: TERM them all, wait up to 10 s, then KILL the survivors.
stop_pids() {
  local i p left=("$@")
  ((${#left[@]})) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 100 && ${#left[@]}; i++)); do
    sleep 0.1
    for p in "${!left[@]}"; do running "${left[p]}" || unset 'left[p]'; done
  done
  if ((${#left[@]})); then
    log "killing ${left[*]} (still running 10 s after TERM)"
    kill -KILL "${left[@]}" 2>/dev/null || true
  fi
  # Give init a moment to reap the zombies, so that ps shows nothing left behind.
  for ((i = 0; i < 30; i++)); do
    left=()
    for p in "$@"; do if [[ -e /proc/$p ]]; then left+=("$p"); fi; done
    ((${#left[@]})) || return 0
    sleep 0.1
  done
}
pid_of() { cat "$1" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [[ -n $pid && -d /proc/$pid ]]; }

# --- network --------------------------------------------------------------------------------

# Create a bridge in the root namespace: IPv6 off (no chatter); the bridge's own nf_call_*
# switches off (the machine-wide br_netfilter sysctls are left alone).
make_bridge() {
  local br=$1 addr=$2
  ip link add "$br" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0
  sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1"
  ip addr add "$addr" dev "$br"
  ip link set "$br" up
}

# Make namespace $1 with lo up and IPv6 off.
make_ns() {
  ip netns add "$1"
  echo "$1" >>"$STATE/namespaces"
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# veth pair: root-side $1 enslaved to root bridge $2, peer moved into ns $3 as $4.
make_leg() {
  local outer=$1 br=$2 ns=$3 inner=$4
  ip link add "$outer" type veth peer name "$inner" netns "$ns"
  sysctl -qw "net.ipv6.conf.$outer.disable_ipv6=1"
  ip link set "$outer" master "$br" up
}

# --- hosts ----------------------------------------------------------------------------------

# Copy only the directory skeleton (owners and modes) of $1 to $2.
copy_dirs() {
  local src=$1 dst=$2 d
  mkdir -p "$dst"
  [[ -d $src ]] || return 0
  while IFS= read -r -d '' d; do
    mkdir -p "$dst/$d"
    chown --reference="$src/$d" "$dst/$d"
    chmod --reference="$src/$d" "$dst/$d"
  done < <(cd "$src" && find . -mindepth 1 -type d -print0)
}

# Create a mount point in the root filesystem if missing, remembering it so down removes it.
make_mountpoint() {
  [[ -d $1 ]] && return 0
  mkdir -p "$1"
  echo "$1" >>"$STATE/created-dirs"
}

setup_host() {
  local h=$1 ip hd entry
  ip=$(host_ip "$h")
  hd=$STATE/hosts/$h
  make_ns "$h"
  make_leg "bst-$h-m" "$MGMT_BR" "$h" mgmt0
  ip -n "$h" addr add "$ip/24" dev mgmt0
  ip -n "$h" link set mgmt0 up
  # VM bridge: a guest plugged into br-vm keeps its L2 segment (and IP) on every host.
  ip -n "$h" link add br-vm type bridge
  ip -n "$h" link set br-vm up
  make_leg "bst-$h-v" "$VM_HUB" "$h" vmup0
  ip -n "$h" link set vmup0 master br-vm up

  # Private libvirt directories: stock config, skeletons of the others.
  mkdir -p "$hd"
  cp -a /etc/libvirt/. "$hd/etc/"
  rm -f "$hd/etc/qemu/networks/default.xml" "$hd/etc/qemu/networks/autostart/"*.xml  # no 192.168.122.x
  copy_dirs /var/lib/libvirt "$hd/lib"
  copy_dirs /var/log/libvirt "$hd/log"
  copy_dirs /var/cache/libvirt "$hd/cache"
  mkdir -p "$hd/run" "$hd/local"
  sed -e "s/@IP@/$ip/g" -e "s/@UUID@/$(cat /proc/sys/kernel/random/uuid)/g" \
    "$TEMPLATES/libvirtd.conf.in" >"$hd/etc/libvirtd.conf"
  sed -e "s/@IP@/$ip/g" "$TEMPLATES/qemu.conf.in" >"$hd/etc/qemu.conf"

  # sshd: its own host key and config; root may log in with the testbed's client key only.
  mkdir -m 700 "$hd/ssh"
  mkdir -m 755 "$hd/sshd-empty"
  ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$hd/ssh/ssh_host_ed25519_key"
  sed -e "s/@IP@/$ip/g" -e "s|@DIR@|$hd/ssh|g" -e "s|@AUTHORIZED_KEYS@|$STATE/$SSH_DIR_NAME/authorized_keys|g" \
    "$TEMPLATES/sshd_config.in" >"$hd/ssh/sshd_config"
  echo "$ip $(cut -d' ' -f1,2 "$hd/ssh/ssh_host_ed25519_key.pub")" >>"$STATE/$SSH_DIR_NAME/known_hosts"

  for entry in "${LIBVIRT_DIRS[@]}"; do make_mountpoint "${entry%%:*}"; done
}

start_host() {
  local h=$1 hd=$STATE/hosts/$1
  # Daemons run in a private mount namespace inside the host's network namespace; they keep
  # both alive. libvirtd -d only returns once the daemon has initialised (or failed). sshd
  # shares the mount namespace, so that its sessions see this host's /run/libvirt/libvirt-sock;
  # it returns once it listens (its PidFile is in $hd/ssh).
  # shellcheck disable=SC2016  # expanded by the inner bash
  ip netns exec "$h" unshare -m --propagation private bash -euc '
    hd=$1; shift
    for entry in "$@"; do mount --bind "$hd/${entry#*:}" "${entry%%:*}"; done
    virtlogd -d -p "$hd/virtlogd.pid"
    libvirtd -d -l -p "$hd/libvirtd.pid"
    /usr/sbin/sshd -f "$hd/ssh/sshd_config" -E "$hd/ssh/sshd.log"
  ' _ "$hd" "${LIBVIRT_DIRS[@]}" ||
    die "starting the daemons on $h failed, see $hd/log/libvirtd.log and $hd/ssh/sshd.log"
}

# The client key pair root logs in with on every host (authorized_keys lists its public key),
# and a known_hosts file that setup_host fills with each host's key.
setup_ssh_client() {
  local sd=$STATE/$SSH_DIR_NAME
  mkdir -m 700 "$sd"
  ssh-keygen -q -t ed25519 -N '' -C bastida-testbed -f "$sd/id_ed25519"
  install -m 600 "$sd/id_ed25519.pub" "$sd/authorized_keys"
  : >"$sd/known_hosts"
}

# virsh_with_home HOME_DIR ARGS...: virsh with HOME_DIR bind-mounted (in a private mount
# namespace) over root's home, so that ssh reads and writes HOME_DIR/.ssh/known_hosts instead of
# the real one: ssh takes the home directory from the password database, not from $HOME.
virsh_with_home() {
  local home; home=$(getent passwd root | cut -d: -f6)
  # shellcheck disable=SC2016  # expanded by the inner bash
  unshare -m --propagation private bash -euc 'mount --bind "$1" "$2"; shift 2; exec timeout 20 virsh "$@"' \
    _ "$1" "$home" "${@:2}"
}

# --- NFS ------------------------------------------------------------------------------------

setup_nfs() {
  local nd=$STATE/nfs
  make_ns "$NFS_NS"
  make_leg bst-nfs-m "$MGMT_BR" "$NFS_NS" mgmt0
  ip -n "$NFS_NS" addr add "$NFS_IP/24" dev mgmt0
  ip -n "$NFS_NS" link set mgmt0 up
  mkdir -p "$STATE/nfs-export" "$nd/run/export" "$nd/run/ganesha-recov"
  sed -e "s/@IP@/$NFS_IP/g" "$TEMPLATES/ganesha.conf.in" >"$nd/run/ganesha.conf"
  # The namespace gets its own /run (= $nd/run): rpcbind's /run/rpcbind.sock and lock and
  # ganesha's state never meet a root-namespace rpcbind. The export is bound in as /run/export.
  # rpcbind runs with -f in the background so that we know its PID.
  # shellcheck disable=SC2016  # expanded by the inner bash
  ip netns exec "$NFS_NS" unshare -m --propagation private bash -euc '
    nd=$1 export=$2
    mount --bind "$export" "$nd/run/export"
    mount --rbind "$nd/run" /run
    setsid rpcbind -f </dev/null >>/run/rpcbind.log 2>&1 &
    echo $! >/run/rpcbind.pid
    for i in $(seq 50); do [[ -S /run/rpcbind.sock ]] && break; sleep 0.1; done
    ganesha.nfsd -f /run/ganesha.conf -L /run/ganesha.log -p /run/ganesha.pid -N NIV_EVENT
  ' _ "$nd" "$STATE/nfs-export" || die "starting the NFS server failed, see $nd/run/ganesha.log"
}

# --- env file -------------------------------------------------------------------------------

write_env() {
  local h hosts
  hosts=$(hosts_up | xargs)
  {
    echo "# Written by hack/testbed.sh up; source it in tests."
    echo "BASTIDA_E2E_HOSTS=\"$hosts\""
    for h in $hosts; do
      echo "BASTIDA_E2E_HOST_${h}_IP=$(host_ip "$h")"
      echo "BASTIDA_E2E_HOST_${h}_URI=$(tcp_uri "$h")"
      echo "BASTIDA_E2E_HOST_${h}_SOCKET_URI=$(sock_uri "$h")"   # no quotes needed: no glob in assignments
      echo "BASTIDA_E2E_HOST_${h}_SSH_URI=$(ssh_uri "$h")"
      echo "BASTIDA_E2E_HOST_${h}_LOCAL_DIR_BACKING=$STATE/hosts/$h/local"
    done
    echo "BASTIDA_E2E_LOCAL_DIR=$LOCAL_DIR"
    echo "BASTIDA_E2E_VM_BRIDGE=br-vm"
    echo "BASTIDA_E2E_VM_SUBNET=$VM_NET.0/24"
    echo "BASTIDA_E2E_VM_GATEWAY=$VM_NET.254"
    echo "BASTIDA_E2E_NFS_SERVER=$NFS_IP"
    echo "BASTIDA_E2E_NFS_EXPORT=/export"
    echo "BASTIDA_E2E_NFS_DIR=$STATE/nfs-export"
    echo "BASTIDA_E2E_SSH_PRIVATE_KEY=$STATE/$SSH_DIR_NAME/id_ed25519"
    echo "BASTIDA_E2E_SSH_KNOWN_HOSTS=$STATE/$SSH_DIR_NAME/known_hosts"
  } >"$STATE/env.tmp"
  mv "$STATE/env.tmp" "$STATE/env"
}

# --- commands -------------------------------------------------------------------------------

# Quiet health check of a running testbed (optionally: with exactly N hosts).
healthy() {
  local h want=${1:-}
  [[ -f $STATE/env ]] || return 1
  [[ -z $want || "$(hosts_up | xargs)" == "$(host_names "$want" | xargs)" ]] || return 1
  for h in $(hosts_up); do
    alive "$STATE/hosts/$h/libvirtd.pid" && alive "$STATE/hosts/$h/virtlogd.pid" || return 1
    alive "$STATE/hosts/$h/ssh/sshd.pid" || return 1
    timeout 10 virsh -c "$(sock_uri "$h")" version >/dev/null 2>&1 || return 1
  done
  alive "$STATE/nfs/run/rpcbind.pid" && alive "$STATE/nfs/run/ganesha.pid" || return 1
  timeout 10 nfs-ls "nfs://$NFS_IP/export" >/dev/null 2>&1
}

cmd_up() {
  local n=${1:-2} h start=$SECONDS
  [[ $n =~ ^[1-9]$ ]] || die "N must be 1..$MAX_HOSTS"
  [[ $EUID -eq 0 ]] || die "must run as root"
  ensure_packages
  if healthy "$n"; then log "already up ($(hosts_up | xargs))"; return 0; fi
  if [[ -e $STATE || -e /run/netns/hA || -e /run/netns/$NFS_NS || -e /sys/class/net/$MGMT_BR ]]; then
    log "stale or different testbed found, tearing it down first"
    cmd_down
  fi
  # A failed up cleans up after itself (set BASTIDA_TESTBED_KEEP=1 to inspect the wreck).
  trap 'rc=$?; if ((rc)); then log "up failed"; [[ -n ${BASTIDA_TESTBED_KEEP:-} ]] || cmd_down; fi' EXIT
  mkdir -p "$STATE"
  chmod 755 "$STATE"   # QEMU (libvirt-qemu) must traverse it
  host_names "$n" | tr ' ' '\n' | sed '/^$/d' >"$STATE/hosts.list"

  make_bridge "$MGMT_BR" "$MGMT_NET.254/24"
  make_bridge "$VM_HUB" "$VM_NET.254/24"
  setup_ssh_client
  setup_nfs
  for h in $(hosts_up); do setup_host "$h"; done

  # libvirtd probes QEMU on the first call that needs it (~8 s here: two emulators). Let the
  # first host probe, then hand its capabilities cache to the others (same binaries, same
  # machine: libvirt accepts it). BASTIDA_TESTBED_CACHE=<dir> keeps it across up/down too.
  local first caps=/cache/qemu/capabilities cache=${BASTIDA_TESTBED_CACHE:-}
  first=$(hosts_up | head -n1)
  if [[ -n $cache && -d $cache/qemu-capabilities ]]; then
    mkdir -p "$STATE/hosts/$first$caps" && cp -a "$cache/qemu-capabilities/." "$STATE/hosts/$first$caps/"
  fi
  start_host "$first"
  wait_host "$first"
  if [[ -n $cache ]]; then
    mkdir -p "$cache/qemu-capabilities" && cp -a "$STATE/hosts/$first$caps/." "$cache/qemu-capabilities/"
  fi
  for h in $(hosts_up | tail -n +2); do
    mkdir -p "$STATE/hosts/$h$caps" && cp -a "$STATE/hosts/$first$caps/." "$STATE/hosts/$h$caps/"
    start_host "$h"
  done
  for h in $(hosts_up); do
    wait_host "$h"
    wait_for 30 "libvirtd on $h (tcp)" virsh -c "$(tcp_uri "$h")" version
    wait_for 10 "sshd on $h" timeout 2 bash -c "</dev/tcp/$(host_ip "$h")/22"
  done
  wait_for 30 "NFS export" nfs-ls "nfs://$NFS_IP/export"
  write_env
  trap - EXIT
  log "up: $(hosts_up | xargs) + NFS in $((SECONDS - start))s; env in $STATE/env"
}

cmd_down() {
  local h ns f pids=() namespaces
  pick() { if is_ours "$@"; then pids+=("$1"); fi; }
  # Everything we started lives in our namespaces: QEMU (pid files libvirt wrote) and the
  # daemons (our pid files); then, as a last sweep, any other process left in those namespaces.
  for h in $(hosts_up); do
    for f in "$STATE/hosts/$h/run/qemu/"*.pid; do
      if [[ -e $f ]]; then pick "$(pid_of "$f")" qemu- "$h"; fi
    done
    pick "$(pid_of "$STATE/hosts/$h/libvirtd.pid")" libvirtd "$h"
    pick "$(pid_of "$STATE/hosts/$h/virtlogd.pid")" virtlogd "$h"
    pick "$(pid_of "$STATE/hosts/$h/ssh/sshd.pid")" sshd "$h"
  done
  pick "$(pid_of "$STATE/nfs/run/ganesha.pid")" ganesha "$NFS_NS"
  pick "$(pid_of "$STATE/nfs/run/rpcbind.pid")" rpcbind "$NFS_NS"
  stop_pids "${pids[@]}"
  # Our namespaces: those recorded, plus the testbed's fixed names in case the state is gone.
  namespaces=$( (cat "$STATE/namespaces" 2>/dev/null; host_names $MAX_HOSTS; echo "$NFS_NS") | xargs -n1 | sort -u)
  pids=()
  for ns in $namespaces; do
    if [[ -e /run/netns/$ns ]]; then
      for f in $(ip netns pids "$ns" 2>/dev/null); do pick "$f" "" "$ns"; done
    fi
  done
  stop_pids "${pids[@]}"
  for ns in $namespaces; do
    if [[ -e /run/netns/$ns ]]; then ip netns del "$ns" || log "could not delete namespace $ns"; fi
  done
  # Root-side veth legs vanish with their namespace; delete any survivor, then the bridges.
  for f in /sys/class/net/bst-*; do
    if [[ -e $f ]]; then ip link del "${f##*/}" 2>/dev/null || true; fi
  done
  for f in "$MGMT_BR" "$VM_HUB"; do
    if [[ -e /sys/class/net/$f ]]; then ip link del "$f"; fi
  done
  # Mount points we created in the root filesystem (empty: the bind mounts were private).
  if [[ -f $STATE/created-dirs ]]; then
    while read -r f; do
      rmdir "$f" 2>/dev/null || true
    done < <(tac "$STATE/created-dirs")
  fi
  # iproute2 leaves /run/netns bind-mounted on itself; drop it once no namespace is left.
  if [[ -d /run/netns && -z $(ls -A /run/netns) ]]; then
    umount /run/netns 2>/dev/null || true
    rmdir /run/netns 2>/dev/null || true
  fi
  if [[ -e $STATE ]]; then
    # Never rm -rf through a mount that leaked into the root namespace.
    if grep -q " ${STATE}[/ ]" /proc/self/mountinfo; then die "mounts still under $STATE, not removing it"; fi
    rm -rf "$STATE"
  fi
  log "down"
}

cmd_status() {
  local h rc=0
  if [[ ! -f $STATE/env ]]; then echo "testbed is down ($STATE has no env)"; return 1; fi
  echo "state: $STATE"
  echo "namespaces: $(ip netns list | awk '{print $1}' | xargs)"
  ip -br addr show "$MGMT_BR"
  ip -br addr show "$VM_HUB"
  for h in $(hosts_up); do
    echo "== $h $(tcp_uri "$h")  libvirtd pid $(pid_of "$STATE/hosts/$h/libvirtd.pid")  virtlogd pid $(pid_of "$STATE/hosts/$h/virtlogd.pid")  sshd pid $(pid_of "$STATE/hosts/$h/ssh/sshd.pid")"
    timeout 10 virsh -c "$(tcp_uri "$h")" nodeinfo || rc=1
  done
  echo "== NFS nfs://$NFS_IP/export  rpcbind pid $(pid_of "$STATE/nfs/run/rpcbind.pid")  ganesha pid $(pid_of "$STATE/nfs/run/ganesha.pid")"
  if timeout 10 nfs-ls "nfs://$NFS_IP/export"; then echo "nfs-ls: ok"; else echo "nfs-ls: FAILED"; rc=1; fi
  return $rc
}

cmd_check() {
  local h other uri pool=bastida-testbed-check probe="nfs://$NFS_IP/export/probe-$$.qcow2" fails=0
  [[ -f $STATE/env ]] || die "testbed is not up"
  ok() { echo "  ok    $*"; }
  try() {  # try DESCRIPTION CMD...: run, report, count failures
    local what=$1 out; shift
    if out=$("$@" 2>&1); then ok "$what"; else echo "  FAIL  $what"; sed 's/^/        /' <<<"$out"; fails=$((fails + 1)); fi
  }
  other_host_sees() {  # the file exists in host $1's local dir and not in host $2's
    [[ -f $STATE/hosts/$1/local/check.img && ! -e $STATE/hosts/$2/local/check.img ]]
  }
  # ssh runs with a throwaway home (root's own ~/.ssh/known_hosts is never read or written):
  # with no known_hosts ($1 empty) or with the given one.
  local key=$STATE/$SSH_DIR_NAME/id_ed25519 sshhome=$STATE/$SSH_DIR_NAME/check-home
  virsh_ssh() {  # virsh_ssh KNOWN_HOSTS|'' URI ARGS...
    rm -rf "$sshhome" && mkdir -p "$sshhome/.ssh" && chmod -R 700 "$sshhome"
    if [[ -n $1 ]]; then cp "$1" "$sshhome/.ssh/known_hosts"; fi
    virsh_with_home "$sshhome" -c "${@:2}" </dev/null
  }
  unknown_key_refused() {  # strict host key checking with an empty known_hosts must fail
    local out
    if out=$(virsh_ssh '' "$(ssh_uri "$1")?keyfile=$key&no_tty=1" version 2>&1); then
      echo "connected although the host key is unknown"; return 1
    fi
    grep -q "Host key verification failed" <<<"$out" || { echo "$out"; return 1; }
  }
  local hosts
  mapfile -t hosts < <(hosts_up)
  for h in "${hosts[@]}"; do
    echo "$h:"
    try "virsh over $(tcp_uri "$h")" timeout 10 virsh -c "$(tcp_uri "$h")" version
    try "virsh over the unix socket" timeout 10 virsh -c "$(sock_uri "$h")" version
    other=${hosts[0]}; [[ $other == "$h" && ${#hosts[@]} -gt 1 ]] && other=${hosts[1]}
    if [[ $other != "$h" ]]; then
      try "$other reaches $h over tcp (migration path)" \
        timeout 10 ip netns exec "$other" virsh -c "$(tcp_uri "$h")" version
    fi
    try "virsh over $(ssh_uri "$h") (keyfile, no_verify=1)" \
      virsh_ssh '' "$(ssh_uri "$h")?keyfile=$key&no_verify=1" nodeinfo
    try "virsh over qemu+ssh, host key checked against the testbed's known_hosts" \
      virsh_ssh "$STATE/$SSH_DIR_NAME/known_hosts" "$(ssh_uri "$h")?keyfile=$key&no_tty=1" nodeinfo
    try "qemu+ssh refuses an unknown host key" unknown_key_refused "$h"
    rm -rf "$sshhome"
    uri=$(sock_uri "$h")
    # Leftovers of an interrupted earlier check would make pool-define-as fail.
    virsh -q -c "$uri" pool-destroy $pool >/dev/null 2>&1 || true
    virsh -q -c "$uri" pool-undefine $pool >/dev/null 2>&1 || true
    try "dir pool on $LOCAL_DIR: define, start, info" bash -c "
      virsh -q -c '$uri' pool-define-as $pool dir --target $LOCAL_DIR &&
      virsh -q -c '$uri' pool-start $pool && virsh -c '$uri' pool-info $pool &&
      virsh -q -c '$uri' vol-create-as $pool check.img 1M"
    if [[ $other != "$h" ]]; then try "$LOCAL_DIR is private to $h" other_host_sees "$h" "$other"; fi
    try "dir pool removed" bash -c "
      virsh -q -c '$uri' vol-delete check.img --pool $pool &&
      virsh -q -c '$uri' pool-destroy $pool && virsh -q -c '$uri' pool-undefine $pool"
  done
  echo "nfs:"
  try "qemu-img create $probe" qemu-img create -q -f qcow2 "$probe" 16M
  try "qemu-img info (root namespace)" qemu-img info "$probe"
  try "qemu-img info (from ${hosts[0]})" ip netns exec "${hosts[0]}" qemu-img info "$probe"
  try "probe file in $STATE/nfs-export" test -f "$STATE/nfs-export/${probe##*/}"
  rm -f "$STATE/nfs-export/${probe##*/}"
  try "probe file deleted" bash -c "! nfs-ls nfs://$NFS_IP/export | grep -q '${probe##*/}'"
  if ((fails)); then echo "check: $fails FAILED"; return 1; fi
  echo "check: OK (${#hosts[@]} hosts over tcp, ssh and unix socket, dir pools, NFS via qemu-img)"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  check) cmd_check ;;
  *) echo "usage: $0 up [N] | down | status | check" >&2; exit 2 ;;
esac
