# Helpers for scenario scripts (sourced; they run in dom0 as root, cwd = /lab/<scenario>).
# Env (from /lab/env): XDJ_HARNESS (tests/xen), XDJ_DIST (the built distribution),
# XDJ_BOOT (xen, vmlinuz, initramfs), XDJ_KVER.
up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "dom0 $(up)s: $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# the project's CLI on real Xen
xdj() { "$XDJ_DIST/bin/xen-disk-java" --platform xen "$@"; }

# Starts `xen-disk-java daemon` in the background (own session, output in /lab/daemon.out) unless
# one runs already, and waits up to $1 s (default 120) for its control socket: the JVM starts
# slowly under TCG. No CLI (a JVM) runs in the wait loop, only once at the end.
start_daemon() {
  local secs=${1:-120} i t0 pid
  pid=$(daemon_pid)
  if [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ -S /run/xen-disk-java/control.sock ]; then return 0; fi
  t0=$(up)
  setsid ${XDJ_DAEMON_WRAPPER:-} "$XDJ_DIST/bin/xen-disk-java" --platform xen daemon </dev/null >>/lab/daemon.out 2>&1 &
  for ((i = 0; i < secs * 4; i++)); do
    pid=$(daemon_pid)
    if [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ -S /run/xen-disk-java/control.sock ] \
        && grep -q "daemon started: pid $pid" /var/log/xen-disk-java/daemon.log 2>/dev/null; then
      log "daemon up in $(awk "BEGIN{print $(up)-$t0}")s (pid $pid)"
      xdj status
      return 0
    fi
    sleep 0.25
  done
  cat /lab/daemon.out
  return 1
}

# $1 = file, $2 = MiB: a random image with a marker at offset 0; prints the marker
make_image() {
  local img=$1 mib=$2 marker
  marker="XDJ-MARKER-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  head -c "$((mib * 1024 * 1024))" /dev/urandom > "$img"
  { printf '%s' "$marker"; head -c $((512 - ${#marker})) /dev/zero; } | dd of="$img" bs=512 count=1 iflag=fullblock conv=notrunc 2>/dev/null
  echo "$marker"
}

# Domain-0's CPU seconds so far, as Xen counts them
dom0_cpu() { xl list 0 | awk 'NR == 2 { print $6 }'; }

console_of() { echo "/var/log/xen/console/guest-$1.log"; }

# $1 = name, rest = extra domU kernel args: a PV domU with no disk, waiting for /dev/xvdb;
# with DOMU_DISK set (an xl disk spec), that disk is in its config (served by kernel blkback);
# DOMU_DISKS: the inside of an xl disk list ('spec', 'spec'), for several disks; DOMU_VCPUS: vCPUs (1);
# DOMU_RAMDISK: another initramfs (default domU.cpio.gz), DOMU_MEMORY: MiB (default 256)
domu_cfg() {
  local name=$1; shift
  cat > "$name.cfg" <<EOC
name = "$name"
type = "pv"
kernel = "$XDJ_BOOT/vmlinuz"
ramdisk = "${DOMU_RAMDISK:-$XDJ_BOOT/domU.cpio.gz}"
extra = "console=hvc0 loglevel=6 $*"
memory = ${DOMU_MEMORY:-256}
vcpus = ${DOMU_VCPUS:-1}
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
EOC
  [ -n "${DOMU_DISK:-}" ] && echo "disk = [ '$DOMU_DISK' ]" >> "$name.cfg"
  [ -n "${DOMU_DISKS:-}" ] && echo "disk = [ $DOMU_DISKS ]" >> "$name.cfg"
  return 0
}

start_domu() {
  local name=$1 t0
  domu_cfg "$@"
  t0=$(up)
  xl create "$name.cfg" > "xl-create-$name.log" 2>&1 || { cat "xl-create-$name.log"; fail "xl create $name"; }
  log "domU $name created (domid $(xl domid "$name")) in $(awk "BEGIN{print $(up)-$t0}")s"
}

# like start_domu, for a domU that must not start: prints xl's output, returns its status
start_domu_expect_failure() {
  domu_cfg "$@"
  xl create "$1.cfg" 2>&1
}

# The xl hotplug script where xl looks for script=xen-disk-java (dom0's /etc is a tmpfs overlay)
install_hotplug_script() {
  install -m 755 "$XDJ_DIST/hooks/xen-disk-java" /etc/xen/scripts/xen-disk-java
}

# $1 = domid, $2 = devid: the driver the kernel bound to backend device vbd-$1-$2 (empty: none)
kernel_driver_of() {
  basename "$(readlink "/sys/bus/xen-backend/devices/vbd-$1-$2/driver" 2>/dev/null)" 2>/dev/null
}

# $1 = name, $2 = console line prefix (e.g. "DOMU-DISK xvdb "), $3 = seconds: waits for it, prints it
wait_line() { wait_console "$1" "^$2" "$3"; }

# $1 = name, $2 = pattern (grep -E), $3 = seconds: waits for a console line; prints it
wait_console() {
  local name=$1 pat=$2 secs=$3 i line
  for ((i = 0; i < secs * 4; i++)); do
    line=$(tr -d '\r' < "$(console_of "$name")" 2>/dev/null | grep -aE "$pat" | tail -1)
    [ -n "$line" ] && { echo "$line"; return 0; }
    xl domid "$name" >/dev/null 2>&1 || break
    sleep 0.25
  done
  return 1
}

# $1 = name, $2 = seconds: waits for the domain to power off, destroys it after that
wait_gone() {
  local name=$1 secs=$2 i
  for ((i = 0; i < secs * 4; i++)); do
    xl domid "$name" >/dev/null 2>&1 || return 0
    sleep 0.25
  done
  log "domU $name still running after ${secs}s: destroying it"
  xl destroy "$name"
  return 1
}

# $1 = name: blkfront errors or kernel warnings in the domU's console log (empty = clean)
domu_kernel_problems() {
  tr -d '\r' < "$(console_of "$1")" | grep -v '^DOMU' \
    | grep -E '(blkfront|blkif|xvd|xen.?blk).*([Ee]rror|[Ww]arn|[Ff]ail|bad |timed out|invalid)|I/O error|WARNING:|BUG:|Oops|Call Trace|end_request|critical'
  tr -d '\r' < "$(console_of "$1")" | grep '^DOMU-DMESG' \
    | grep -E -i 'error|warn|fail|bad |timed out|invalid' || true
  tr -d '\r' < "$(console_of "$1")" | grep '^DOMU-DMESG' | grep -E 'BUG:|Oops' || true
}

show_console() {
  echo "---- console of $1 ----"
  tr -d '\r' < "$(console_of "$1")" | tail -"${2:-60}"
  echo "----"
}

# the daemon's pid (from its lock file) and how many grant mappings (gntdev) its address space holds
daemon_pid() { head -1 /run/xen-disk-java/daemon.lock 2>/dev/null | tr -dc 0-9; }
gntdev_maps() { grep -c /dev/xen/gntdev "/proc/$1/maps" 2>/dev/null; }

# $1 = a backend directory, $2 = the daemon's pid: waits up to 20 s for the directory to be gone
# and the daemon to hold no grant mapping (gntdev); returns 1 if that does not happen
backend_released() {
  local i
  for ((i = 0; i < 80; i++)); do
    ! xenstore-exists "$1" 2>/dev/null && [ "$(gntdev_maps "$2")" = 0 ] && return 0
    sleep 0.25
  done
  return 1
}

# the daemon's log lines since the scenario began (the log is shared by all scenarios)
daemon_log_mark() { wc -l < /var/log/xen-disk-java/daemon.log 2>/dev/null || echo 0; }
daemon_log_since() { tail -n +"$(( $1 + 1 ))" /var/log/xen-disk-java/daemon.log 2>/dev/null; }

# serve_domu GUEST IMG ENGINE: the daemon (started if needed) serves IMG with ENGINE to a fresh
# PV domU GUEST as xvdb: connect, wait for the domU's test, disconnect, wait for the unplug and
# for the domU to end. Sets RESULT, SEEN_MARKER, WRITTEN (md5 the domU wrote at 1 MiB), UNPLUG.
# Optional: DOMU_EXTRA (more domU kernel args), SERVE_UNTIL (a console pattern to wait for, up to
# SERVE_UNTIL_SECS s, after the test and before the disconnect), SERVE_FROM (one to wait for before
# it); SERVE_CPU_FROM and SERVE_CPU_UNTIL are then Domain-0's CPU seconds when each appeared.
serve_domu() {
  local guest=$1 img=$2 engine=$3 t0 mark
  RESULT= SEEN_MARKER= WRITTEN= UNPLUG=
  start_daemon 180 || fail "the daemon does not start on real Xen"
  mark=$(daemon_log_mark)
  start_domu "$guest" xdj_wait=240 xdj_hold=90 ${DOMU_EXTRA:-}
  wait_console "$guest" 'DOMU-READY' 120 >/dev/null || { show_console "$guest"; fail "domU $guest did not boot"; }
  t0=$(up)
  xdj connect "$guest" --path "$img" --storage "$engine" --vdev xvdb || { daemon_log_since "$mark"; fail "connect"; }
  log "connect returned in $(awk "BEGIN{print $(up)-$t0}")s"
  RESULT=$(wait_console "$guest" 'DOMU-RESULT' 240) || true
  echo "$RESULT"
  SEEN_MARKER=$(tr -d '\r' < "$(console_of "$guest")" | grep -a '^DOMU-MARKER' | tail -1 | cut -d' ' -f2)
  WRITTEN=$(echo "$RESULT" | sed -n 's/.*written=\([0-9a-f]*\).*/\1/p')
  SERVE_CPU_FROM= SERVE_CPU_UNTIL=
  if [ -n "${SERVE_FROM:-}" ]; then
    wait_console "$guest" "$SERVE_FROM" "${SERVE_UNTIL_SECS:-300}" >/dev/null || echo "no console line '$SERVE_FROM' from $guest"
    SERVE_CPU_FROM=$(dom0_cpu)
  fi
  if [ -n "${SERVE_UNTIL:-}" ]; then
    wait_console "$guest" "$SERVE_UNTIL" "${SERVE_UNTIL_SECS:-300}" || echo "no console line '$SERVE_UNTIL' from $guest"
    SERVE_CPU_UNTIL=$(dom0_cpu)
  fi
  xdj list
  xenstore-ls -f /local/domain/0/backend/xen-disk-java > "backend-nodes-$guest.txt" 2>&1
  t0=$(up)
  xdj disconnect "$guest" xvdb || echo "disconnect failed"
  log "disconnect returned in $(awk "BEGIN{print $(up)-$t0}")s"
  UNPLUG=$(wait_console "$guest" 'DOMU-UNPLUGGED' 100) || true
  echo "$UNPLUG"
  wait_gone "$guest" 60
  show_console "$guest" 80
  echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"
}
