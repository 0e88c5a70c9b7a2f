#!/bin/bash
# Scenario (issue 16, multi-page rings): a PV domU booted with xen_blkfront.max_ring_page_order=4
# (the domU's /init passes it to insmod, as modprobe would) gets a `file` disk hot-plugged by
# `connect`; the daemon offers max-ring-page-order 4, so blkfront sets up a 16-page ring (512
# requests): the frontend's ring-page-order is 4 with ring-ref0..15 in xenstore. The domU runs the
# disk test and 8 verified write+read rounds with fsync on it, then the disk is unplugged cleanly;
# the image holds the last round; no blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-rings
ROUNDS=8
ok=1
IMG=/tmp/rings.img
MARKER=$(make_image "$IMG" 32)
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
start_domu "$GUEST" xen_blkfront.max_ring_page_order=4 xdj_disks=xvdb xdj_loop=xvdb:$ROUNDS xdj_unplug=xvdb \
  xdj_wait=300 xdj_hold=120
wait_console "$GUEST" 'DOMU-READY' 240 >/dev/null || { show_console "$GUEST"; fail "domU $GUEST did not boot"; }
BF=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a '^DOMU-BLKFRONT' | tail -1)
echo "$BF"
D=$(xl domid "$GUEST")
xdj connect "$GUEST" --path "$IMG" --storage file --vdev xvdb || { daemon_log_since "$mark"; fail "connect xvdb"; }
FE=/local/domain/$D/device/vbd/51728
BE=/local/domain/0/backend/xen-disk-java/$D/51728
OFFER=$(xenstore-read "$BE/max-ring-page-order" 2>&1)
ORDER=$(xenstore-read "$FE/ring-page-order" 2>&1)
REFS=$(xenstore-list "$FE" | grep -c '^ring-ref[0-9]')
log "backend offers max-ring-page-order=$OFFER; frontend ring-page-order=$ORDER with $REFS ring-refN nodes"
xenstore-ls -f "$FE" | grep -E '/(ring-page-order|ring-ref[0-9]*|event-channel|protocol) '
R=$(wait_console "$GUEST" '^DOMU-LOOP-RESULT .* disk=xvdb ' 400) || true
DT=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a '^DOMU-DISK xvdb' | tail -1)
echo "$DT"; echo "$R"
LIST=$(xdj list); echo "$LIST"
xdj disconnect "$GUEST" xvdb || { echo "CHECK disconnect: FAIL"; ok=0; }
U=$(wait_console "$GUEST" '^DOMU-UNPLUGGED xvdb ' 150) || true
echo "$U"
show_console "$GUEST" 30
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -30; echo "----"

[[ $BF == *"max_ring_page_order=4 "* ]] || { echo "CHECK domU's blkfront takes rings of 16 pages: FAIL ($BF)"; ok=0; }
[ "$OFFER" = 4 ] || { echo "CHECK backend offers max-ring-page-order 4: FAIL ($OFFER)"; ok=0; }
[ "$ORDER" = 4 ] && [ "$REFS" = 16 ] || { echo "CHECK a 16-page ring (ring-page-order 4, ring-ref0..15): FAIL ($ORDER, $REFS)"; ok=0; }
[[ $DT == "DOMU-DISK xvdb PASS marker=$MARKER "* ]] || { echo "CHECK disk test and marker: FAIL"; ok=0; }
[[ $R == "DOMU-LOOP-RESULT PASS rounds=$ROUNDS failed=0 disk=xvdb "* ]] || { echo "CHECK verified rounds: FAIL"; ok=0; }
[[ $U == "DOMU-UNPLUGGED xvdb yes"* ]] || { echo "CHECK unplugged: FAIL"; ok=0; }
last=${R##*last=}
o=${last%%:*} want=${last#*:}
got=$(dd if="$IMG" bs=1M skip="$o" count=1 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "CHECK the image holds the last round at ${o} MiB: FAIL ($got, want $want)"; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
