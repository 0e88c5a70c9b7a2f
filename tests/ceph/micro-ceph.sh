#!/bin/bash
# A single-node Ceph cluster on loopback for the rbd tests: one mon, one mgr, one
# memstore OSD and a pool "rbd", all under one directory, no authentication.
#   micro-ceph.sh start DIR   start it (prints the seconds it took); DIR/ceph.conf is its conf
#   micro-ceph.sh stop DIR    stop its daemons (DIR stays, for the logs)
# The layout follows go-ceph's micro-osd.sh; it needs ceph-mon, ceph-osd, ceph-mgr and
# ceph-common from Debian.
set -euo pipefail
cmd=${1:?usage: micro-ceph.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: micro-ceph.sh start|stop DIR}")

stop() {
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
  done
  for pidfile in "$dir"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "micro-ceph.sh: unknown command $cmd (start or stop)" >&2; exit 2 ;;
esac

for tool in ceph-mon ceph-osd ceph-mgr ceph rbd; do
  command -v "$tool" >/dev/null || { echo "micro-ceph.sh: $tool is missing; install ceph-mon ceph-osd ceph-mgr ceph-common (sudo bash .ci/setup)" >&2; exit 1; }
done

start=$EPOCHREALTIME
stop
rm -rf "$dir"
mkdir -p "$dir"/mon "$dir"/osd "$dir"/mgr "$dir"/run "$dir"/log
port=${MICRO_CEPH_PORT:-$((20000 + RANDOM % 20000))}
cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = 127.0.0.1:$port
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon allow pool delete = true
mon data avail crit = 0
mon data avail warn = 0
[mon.a]
mon data = $dir/mon
mon addr = 127.0.0.1:$port
[mgr.x]
mgr data = $dir/mgr
[osd.0]
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = ${MICRO_CEPH_BYTES:-2147483648}
osd class load list = *
osd class default list = *
CONF
export CEPH_CONF="$dir/ceph.conf"
ceph-mon --id a --mkfs --keyring /dev/null >"$dir/log/mkfs-mon.out" 2>&1
ceph-mon --id a
ceph --connect-timeout 30 osd create >/dev/null
ceph osd crush add osd.0 1 root=default >/dev/null 2>&1
ceph-osd --id 0 --mkfs >"$dir/log/mkfs-osd.out" 2>&1
ceph-osd --id 0 2>>"$dir/log/osd.0.out"
ceph-mgr --id x
ceph osd pool create rbd 8 >/dev/null 2>&1
rbd pool init rbd
# the pool serves once its placement groups are active
clean() { ceph pg stat 2>/dev/null | grep -Eq '^([0-9]+) pgs: \1 active\+clean'; }
# up to 3 minutes: a loaded 2-core host may take more than one
for _ in $(seq 1800); do clean && break; sleep 0.1; done
clean || { echo "micro-ceph.sh: the pool's placement groups are not active; see $dir/log" >&2; ceph -s >&2; exit 1; }
end=$EPOCHREALTIME
awk -v s="$start" -v e="$end" -v c="$dir/ceph.conf" 'BEGIN { printf "micro-ceph: started in %.1f s, conf %s\n", e - s, c }'
