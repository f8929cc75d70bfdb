#!/usr/bin/env bash
# Builds a tiny test guest for Bastida's end-to-end tests: the installed Debian kernel and an
# initramfs made of busybox-static, the virtio modules that kernel needs and the QEMU guest agent.
#
#   hack/guest/build-initramfs.sh [OUT_DIR]     (default /var/cache/bastida/guest)
#
# Writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.cpio.gz (world-readable: QEMU runs as
# libvirt-qemu). Idempotent and fast on re-run: nothing is rebuilt while the kernel version and
# this script are unchanged (OUT_DIR/stamp). Needs packages linux-image-amd64, busybox-static and
# qemu-guest-agent.
# Environment: BASTIDA_GUEST_KERNEL=<version> picks a kernel of /boot (default: the newest).
# What the guest does, and its kernel command line options: hack/guest/README.md.
set -euo pipefail

OUT=${1:-/var/cache/bastida/guest}
BUSYBOX=${BASTIDA_GUEST_BUSYBOX:-/bin/busybox}
QEMU_GA=/usr/sbin/qemu-ga
log() { echo "guest: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

KVER=${BASTIDA_GUEST_KERNEL:-$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' |
                                 sed 's/^vmlinuz-//' | sort -V | tail -n1)}
[[ -n $KVER && -r /boot/vmlinuz-$KVER ]] ||
  die "no kernel in /boot (install linux-image-amd64)"
[[ -d /lib/modules/$KVER ]] || die "no /lib/modules/$KVER for kernel $KVER"
# busybox-static: a dynamically linked busybox would need its libraries in the initramfs.
# (grep without -q: quitting early would kill busybox with SIGPIPE and fail the pipeline.)
if ! "$BUSYBOX" --list 2>/dev/null | grep -x acpid >/dev/null \
  || file -L "$BUSYBOX" 2>/dev/null | grep dynamic >/dev/null; then
  die "$BUSYBOX is not a static busybox with acpid (install busybox-static)"
fi
[[ -x $QEMU_GA ]] || die "no $QEMU_GA (install qemu-guest-agent)"

SELF_HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
STAMP="kernel=$KVER script=$SELF_HASH busybox=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)"
STAMP+=" qemu-ga=$(sha256sum "$QEMU_GA" | cut -d' ' -f1)"
if [[ -f $OUT/stamp && -f $OUT/vmlinuz && -f $OUT/initramfs.cpio.gz ]] &&
   [[ $(cat "$OUT/stamp") == "$STAMP" ]]; then
  log "up to date in $OUT (kernel $KVER)"
  exit 0
fi

# Modules in load order: each after the modules it depends on (modinfo's depends field).
# virtio_pci / virtio_net / virtio_blk / virtio_console: the devices the domain XML renders;
# virtio_balloon, virtio_rng: its memballoon and rng; button + evdev: the ACPI power button as
# /dev/input/event* for acpid.
WANTED=(virtio_ring virtio virtio_pci virtio_net virtio_blk virtio_console virtio_balloon
        virtio_rng button evdev pvpanic_mmio)
ORDER=()
declare -A SEEN=()
add_module() {
  local m=${1//-/_} dep deps file
  [[ -n ${SEEN[$m]:-} ]] && return 0
  SEEN[$m]=1
  file=$(modinfo -k "$KVER" -F filename "$m" 2>/dev/null) || die "kernel $KVER has no module $m"
  [[ $file == /* ]] || return 0   # built into the kernel ("(builtin)"): nothing to load
  deps=$(modinfo -k "$KVER" -F depends "$m")
  for dep in ${deps//,/ }; do add_module "$dep"; done
  ORDER+=("$m:$file")
}
for m in "${WANTED[@]}"; do add_module "$m"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bastida-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,run,tmp,etc/acpi/PWRF,www,lib/modules}
cp "$BUSYBOX" "$ROOT/bin/busybox"
# The kernel opens /dev/console of the initramfs for /init, before devtmpfs is mounted.
mknod -m 600 "$ROOT/dev/console" c 5 1
for applet in $("$BUSYBOX" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$ROOT/bin/$applet"
done
: >"$ROOT/lib/modules/order"
for entry in "${ORDER[@]}"; do
  m=${entry%%:*} file=${entry#*:}
  case $file in
    *.ko) cp "$file" "$ROOT/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$file" >"$ROOT/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$file" >"$ROOT/lib/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$file" >"$ROOT/lib/modules/$m.ko" ;;
    *) die "unknown module format: $file" ;;
  esac
  echo "$m" >>"$ROOT/lib/modules/order"
done

# The guest agent is dynamically linked: copy it with every library ldd names, the dynamic loader
# (/lib64/ld-linux-x86-64.so.2) included, each at its absolute path inside the root and
# dereferenced (on the host many are symlinks: libudev.so.1 -> libudev.so.1.7.x, the loader ->
# /lib/x86_64-linux-gnu/...). The loader finds them in its default directory
# /lib/x86_64-linux-gnu, no ld.so.cache needed.
LDD_OUT=$(ldd "$QEMU_GA") || die "ldd $QEMU_GA failed"
[[ $LDD_OUT != *"not found"* ]] || die "$QEMU_GA: libraries not found on this machine: $LDD_OUT"
mkdir -p "$ROOT/usr/sbin"
cp "$QEMU_GA" "$ROOT/usr/sbin/qemu-ga"
# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)";
# linux-vdso.so.1 has no file.
mapfile -t LIBS < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }
                         $1 ~ /^\// { print $1 }' <<<"$LDD_OUT")
for lib in "${LIBS[@]}"; do
  mkdir -p "$ROOT${lib%/*}"
  cp -L "$lib" "$ROOT$lib"
done
# Fail here, not in a guest: the copy must run on its own.
chroot "$ROOT" /usr/sbin/qemu-ga --version >/dev/null ||
  die "$QEMU_GA does not run inside the initramfs root: a library is missing"

# The power button: busybox acpid maps KEY_POWER to /etc/acpi/PWRF/00000080 and runs it.
cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "BASTIDA-GUEST-POWER-BUTTON boot_id=$(cat /proc/sys/kernel/random/boot_id): powering off" >/dev/console
sync
poweroff -f
EOF
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

# GET /cgi-bin/crash panics the kernel a moment after answering: tests of crash handling.
mkdir -p "$ROOT/www/cgi-bin"
cat >"$ROOT/www/cgi-bin/crash" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\ncrashing\n'
echo "BASTIDA-GUEST-CRASH boot_id=$(cat /proc/sys/kernel/random/boot_id)" >/dev/console
( sleep 1; echo c >/proc/sysrq-trigger ) </dev/null >/dev/null 2>&1 &
EOF
chmod 755 "$ROOT/www/cgi-bin/crash"

# GET /cgi-bin/write?offset=MiB&size=MiB[&byte=0-255] fills that range of the first virtio disk
# with the byte (random data without one): tests of snapshots and backups. It answers only once
# the data is flushed to the host's image, so a backup or snapshot started after it sees the data.
cat >"$ROOT/www/cgi-bin/write" <<'EOF'
#!/bin/sh
DISK=/dev/vda
reject() {
  # busybox httpd passes a CGI's own status line through; "Status:" headers it does not know.
  printf 'HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n%s\n' "$1"
  exit 0
}
is_count() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
OFFSET= SIZE= BYTE=
IFS='&'
for pair in $QUERY_STRING; do
  case $pair in
    offset=*) OFFSET=${pair#offset=} ;;
    size=*) SIZE=${pair#size=} ;;
    byte=*) BYTE=${pair#byte=} ;;
  esac
done
unset IFS
is_count "$OFFSET" || reject "offset: a whole number of MiB, got '$OFFSET'"
is_count "$SIZE" && [ "$SIZE" -gt 0 ] || reject "size: a positive whole number of MiB, got '$SIZE'"
[ -b $DISK ] || reject "no disk $DISK"
DISK_MIB=$(($(cat /sys/block/vda/size) / 2048))
[ $((OFFSET + SIZE)) -le "$DISK_MIB" ] || reject "offset+size beyond the ${DISK_MIB} MiB disk"
# fullblock: reads from a pipe come in pieces smaller than 1 MiB, which dd would count as blocks.
if [ -n "$BYTE" ]; then
  is_count "$BYTE" && [ "$BYTE" -le 255 ] || reject "byte: 0 to 255, got '$BYTE'"
  dd if=/dev/zero bs=1M count="$SIZE" 2>/dev/null | tr '\000' "\\$(printf %03o "$BYTE")" |
    dd of=$DISK bs=1M seek="$OFFSET" count="$SIZE" iflag=fullblock conv=notrunc,fsync 2>/dev/null
else
  dd if=/dev/urandom of=$DISK bs=1M seek="$OFFSET" count="$SIZE" iflag=fullblock \
    conv=notrunc,fsync 2>/dev/null
fi || reject "dd to $DISK failed"
sync
printf 'Content-Type: text/plain\r\n\r\nwrote %s MiB at offset %s MiB\n' "$SIZE" "$OFFSET"
EOF
chmod 755 "$ROOT/www/cgi-bin/write"

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# Bastida test guest (hack/guest/build-initramfs.sh). PID 1; never exits.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=755 tmpfs /run
exec </dev/console >/dev/console 2>&1
BOOT_ID=$(cat /proc/sys/kernel/random/boot_id)
echo "BASTIDA-GUEST-INIT boot_id=$BOOT_ID"

for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" || echo "BASTIDA-GUEST-WARN could not load $m"
done

# Kernel command line: ip=ADDR/PREFIX[,GATEWAY] or the kernel's
# ip=CLIENT::GATEWAY:NETMASK[:HOSTNAME[:DEVICE]]; bastida.tick=SECONDS (0: no ticks).
IP= TICK=0
for arg in $(cat /proc/cmdline); do
  case $arg in
    ip=*) IP=${arg#ip=} ;;
    bastida.tick=*) TICK=${arg#bastida.tick=} ;;
  esac
done
ip link set lo up
if [ -n "$IP" ]; then
  DEV=eth0
  i=0
  while [ ! -e /sys/class/net/$DEV ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  case $IP in
    */*)
      ADDR=${IP%%,*} GW=
      case $IP in *,*) GW=${IP#*,} ;; esac
      ip addr add "$ADDR" dev $DEV && ip link set $DEV up
      [ -n "$GW" ] && ip route add default via "$GW"
      ;;
    *:*)
      IFS=: read -r CLIENT _SERVER GW MASK NAME DEVICE _REST <<IPEOF
$IP
IPEOF
      [ -n "$DEVICE" ] && DEV=$DEVICE
      [ -n "$NAME" ] && hostname "$NAME"
      ifconfig $DEV "$CLIENT" netmask "${MASK:-255.255.255.0}" up
      [ -n "$GW" ] && route add default gw "$GW"
      ;;
    *) echo "BASTIDA-GUEST-WARN ip=$IP not understood (want ADDR/PREFIX[,GW])" ;;
  esac
  echo "BASTIDA-GUEST-NET $(ip -4 -o addr show dev $DEV 2>&1 | awk '{print $2, $4}')"
fi

# State served on :8080 (index.html): the boot id and a counter kept in memory, which goes on
# across a live migration and starts again at a reboot.
COUNTER=0
write_state() {
  echo "boot_id=$BOOT_ID counter=$COUNTER" >/www/.index.html
  mv /www/.index.html /www/index.html
}
write_state
httpd -p 8080 -h /www
( while :; do
    sleep 1
    COUNTER=$((COUNTER + 1))
    write_state
    if [ "$TICK" -gt 0 ] 2>/dev/null && [ $((COUNTER % TICK)) -eq 0 ]; then
      echo "BASTIDA-GUEST-TICK counter=$COUNTER"
    fi
  done ) &

# acpid opens the event devices it finds when it starts: wait for the power button's.
i=0
while ! grep -qs "Power Button" /sys/class/input/event*/device/name && [ $i -lt 50 ]; do
  sleep 0.1; i=$((i + 1))
done
acpid -c /etc/acpi -l /run/acpid.log

# QEMU guest agent, when the domain has a channel named org.qemu.guest_agent.0. No udev here, so
# no /dev/virtio-ports/<name> links: find the port vportNpM by its name in sysfs; devtmpfs makes
# /dev/vportNpM. The host announces ports and their names after virtio_console is loaded, so wait
# for it, but only with a virtio-serial device (virtio device id 3): most domains have none.
if grep -qsx 0x0003 /sys/bus/virtio/devices/*/device; then
  PORT= i=0
  while [ -z "$PORT" ] && [ $i -lt 50 ]; do
    for f in /sys/class/virtio-ports/*/name; do
      [ "$(cat "$f" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
      p=${f%/name}
      [ -c "/dev/${p##*/}" ] && PORT=/dev/${p##*/}
    done
    [ -n "$PORT" ] || { sleep 0.1; i=$((i + 1)); }
  done
  if [ -n "$PORT" ]; then
    # -t: state dir (default /var/run, missing here). -d returns once the daemon is forked, so
    # READY waits (up to ~5 s) until the daemon holds the port open.
    /usr/sbin/qemu-ga -m virtio-serial -p "$PORT" -t /run -f /run/qemu-ga.pid \
      -l /run/qemu-ga.log -d
    i=0
    until ls -l /proc/"$(cat /run/qemu-ga.pid 2>/dev/null)"/fd 2>/dev/null | grep -q " $PORT\$" ||
          [ $i -ge 50 ]; do
      sleep 0.1; i=$((i + 1))
    done
    if [ $i -lt 50 ]; then
      echo "BASTIDA-GUEST-AGENT started on $PORT"
    else
      echo "BASTIDA-GUEST-WARN qemu-ga did not open $PORT:" \
        "$(tail -n 3 /run/qemu-ga.log 2>/dev/null)"
    fi
  fi
fi
echo "BASTIDA-GUEST-READY boot_id=$BOOT_ID"
while :; do sleep 3600; done
EOF
chmod 755 "$ROOT/init"

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z |
   cpio --quiet --null -o -H newc --owner=0:0 --reproducible) | gzip -9n >"$WORK/initramfs.cpio.gz"
cp "/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
chmod 644 "$WORK/vmlinuz" "$WORK/initramfs.cpio.gz"
echo "$STAMP" >"$WORK/stamp"

# Replace by rename: a QEMU that is starting from the old files keeps reading those.
mkdir -p "$OUT"
chmod 755 "$OUT"
for f in vmlinuz initramfs.cpio.gz stamp; do
  cp "$WORK/$f" "$OUT/.$f.new"
  mv -f "$OUT/.$f.new" "$OUT/$f"
done
log "built $OUT/{vmlinuz,initramfs.cpio.gz} (kernel $KVER, modules: $(tr '\n' ' ' <"$ROOT/lib/modules/order"))"
