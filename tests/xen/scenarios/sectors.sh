#!/bin/bash
# Scenario (issue 16, 4 KiB logical sectors): one PV domU, two disks hot-plugged by `connect`:
# xvdb, a dom0 loop device with 4 KiB sectors (losetup --sector-size 4096) served by the `file`
# engine, whose sector size the daemon reads from the device; xvdc, an image file served with
# `--sector-size 4096`. Checks: the backend offers sector-size 4096 (sectors still in 512-byte
# units), Linux blkfront's disks have 4 KiB logical sectors (`blockdev --getss` says 4096) and
# the right size, both pass the disk test (marker, 4 MiB O_DIRECT md5) and 4 verified rounds,
# the data is in the image and the loop device's backing file, no blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-sectors
ROUNDS=4
ok=1
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
MB=$(make_image /tmp/sectors-loop.img 32)
MC=$(make_image /tmp/sectors-4k.img 32)
LOOP=$(losetup --sector-size 4096 --find --show /tmp/sectors-loop.img) || fail "losetup --sector-size 4096 in dom0"
log "loop device $LOOP: $(blockdev --getss "$LOOP")-byte logical sectors"
start_domu "$GUEST" xdj_disks=xvdb,xvdc xdj_loop=xvdb,xvdc:$ROUNDS xdj_unplug=xvdb,xvdc xdj_wait=300 xdj_hold=120
wait_console "$GUEST" 'DOMU-READY' 240 >/dev/null || { show_console "$GUEST"; fail "domU $GUEST did not boot"; }
D=$(xl domid "$GUEST")
xdj connect "$GUEST" --path "$LOOP" --storage file --vdev xvdb || { daemon_log_since "$mark"; fail "connect xvdb"; }
xdj connect "$GUEST" --path /tmp/sectors-4k.img --storage file --sector-size 4096 --vdev xvdc \
  || { daemon_log_since "$mark"; fail "connect xvdc"; }
BE=/local/domain/0/backend/xen-disk-java/$D
for v in 51728 51744; do
  echo "backend $v: sector-size=$(xenstore-read "$BE/$v/sector-size") physical-sector-size=$(xenstore-read "$BE/$v/physical-sector-size") sectors=$(xenstore-read "$BE/$v/sectors")"
  [ "$(xenstore-read "$BE/$v/sector-size")" = 4096 ] && [ "$(xenstore-read "$BE/$v/sectors")" = 65536 ] \
    || { echo "CHECK backend $v offers sector-size 4096, 65536 sectors of 512: FAIL"; ok=0; }
done
declare -A MK=([xvdb]=$MB [xvdc]=$MC)
declare -A LAST
for v in xvdb xvdc; do
  R=$(wait_console "$GUEST" "^DOMU-LOOP-RESULT .* disk=$v " 400) || true
  DT=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a "^DOMU-DISK $v" | tail -1)
  Q=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a "^DOMU-QUEUE $v" | tail -1)
  echo "$DT"; echo "$Q"; echo "$R"
  [[ $Q == *" getss=4096 getsize64=33554432 "* ]] || { echo "CHECK $v: blockdev --getss 4096, 32 MiB: FAIL ($Q)"; ok=0; }
  [[ $DT == "DOMU-DISK $v PASS marker=${MK[$v]} "* ]] || { echo "CHECK $v disk test and marker: FAIL"; ok=0; }
  [[ $R == "DOMU-LOOP-RESULT PASS rounds=$ROUNDS failed=0 disk=$v "* ]] || { echo "CHECK $v verified rounds: FAIL"; ok=0; }
  LAST[$v]=${R##*last=}
done
LIST=$(xdj list); echo "$LIST"
for v in xvdb xvdc; do
  xdj disconnect "$GUEST" "$v" || { echo "CHECK disconnect $v: FAIL"; ok=0; }
done
for v in xvdb xvdc; do
  U=$(wait_console "$GUEST" "^DOMU-UNPLUGGED $v " 150) || true
  [[ $U == "DOMU-UNPLUGGED $v yes"* ]] || { echo "CHECK $v unplugged: FAIL ($U)"; ok=0; }
done
sync
losetup -d "$LOOP"
for v in xvdb xvdc; do
  img=/tmp/sectors-4k.img; [ $v = xvdb ] && img=/tmp/sectors-loop.img
  o=${LAST[$v]%%:*} want=${LAST[$v]#*:}
  got=$(dd if="$img" bs=1M skip="$o" count=1 2>/dev/null | md5sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "CHECK $img holds $v's last round at ${o} MiB: FAIL ($got, want $want)"; ok=0; }
done
show_console "$GUEST" 20
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -20; echo "----"
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
