#!/bin/bash
# Scenario (issue 16, online resize): a PV domU with a `file` disk hot-plugged by `connect` (a
# 32 MiB image); once the domU has tested it, dom0 runs `xen-disk-java resize GUEST xvdb 64M`.
# Checks: the backend's sectors become 131072 and its state is written again (Connected), the
# running domU sees /sys/block/xvdb/size go from 65536 to 131072 without a detach, writes and
# reads 1 MiB at its new last MiB, and that data is in the grown image in dom0; shrinking is
# refused with the reason; `virsh`'s spelling, `blockresize GUEST xvdb 98304` (KiB), grows it to
# 96 MiB; the disk unplugs cleanly; no blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-resize
IMG=/tmp/resize.img
ok=1
MARKER=$(make_image "$IMG" 32)
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
start_domu "$GUEST" xdj_disks=xvdb xdj_resize=xvdb xdj_unplug=xvdb xdj_wait=300 xdj_hold=120
wait_console "$GUEST" 'DOMU-READY' 240 >/dev/null || { show_console "$GUEST"; fail "domU $GUEST did not boot"; }
D=$(xl domid "$GUEST")
BE=/local/domain/0/backend/xen-disk-java/$D/51728
xdj connect "$GUEST" --path "$IMG" --storage file --vdev xvdb || { daemon_log_since "$mark"; fail "connect xvdb"; }
B=$(wait_console "$GUEST" '^DOMU-RESIZE xvdb before=' 300) || true
echo "$B"
R1=$(xdj resize "$GUEST" xvdb 64M 2>&1); echo "$R1"
S1=$(xenstore-read "$BE/sectors"); ST=$(xenstore-read "$BE/state")
A=$(wait_console "$GUEST" '^DOMU-RESIZE xvdb (after|unchanged)' 150) || true
IO=$(wait_console "$GUEST" '^DOMU-RESIZE-IO xvdb ' 150) || true
echo "$A"; echo "$IO"
SHRINK=$(xdj resize "$GUEST" xvdb 16M 2>&1); SRC=$?
echo "shrink (rc=$SRC): $SHRINK"
R2=$(xdj blockresize "$GUEST" xvdb 98304 2>&1); echo "$R2"
S2=$(xenstore-read "$BE/sectors")
LIST=$(xdj list); echo "$LIST"
xdj disconnect "$GUEST" xvdb || { echo "CHECK disconnect: FAIL"; ok=0; }
U=$(wait_console "$GUEST" '^DOMU-UNPLUGGED xvdb ' 150) || true
echo "$U"
show_console "$GUEST" 20
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -20; echo "----"

DT=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a '^DOMU-DISK xvdb' | tail -1)
[[ $DT == "DOMU-DISK xvdb PASS marker=$MARKER "* ]] || { echo "CHECK disk test and marker: FAIL ($DT)"; ok=0; }
[[ $B == "DOMU-RESIZE xvdb before=65536 "* ]] || { echo "CHECK domU saw 65536 sectors first: FAIL"; ok=0; }
[[ $R1 == "resized xvdb of domain $D from 32 MiB to 64 MiB" ]] || { echo "CHECK resize said so: FAIL"; ok=0; }
[ "$S1" = 131072 ] && [ "$ST" = 4 ] || { echo "CHECK backend sectors 131072, state 4: FAIL ($S1, $ST)"; ok=0; }
[[ $A == "DOMU-RESIZE xvdb after=131072 "* ]] || { echo "CHECK the running domU sees 131072 sectors: FAIL"; ok=0; }
[[ $IO == "DOMU-RESIZE-IO xvdb PASS offset=63 "* ]] || { echo "CHECK domU I/O at its new last MiB: FAIL"; ok=0; }
want=$(echo "$IO" | sed -n 's/.* md5=\([0-9a-f]*\).*/\1/p')
got=$(dd if="$IMG" bs=1M skip=63 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$got" = "$want" ] || { echo "CHECK the grown image holds it at 63 MiB: FAIL ($got, want $want)"; ok=0; }
[ "$SRC" != 0 ] && [[ $SHRINK == *"cannot shrink file:$IMG from 64 MiB to 16 MiB"* ]] \
  || { echo "CHECK shrinking refused with the reason: FAIL"; ok=0; }
[ "$S2" = 196608 ] && [ "$(stat -c %s "$IMG")" = $((96 << 20)) ] || { echo "CHECK blockresize (KiB) to 96 MiB: FAIL ($S2)"; ok=0; }
[[ $U == "DOMU-UNPLUGGED xvdb yes"* ]] || { echo "CHECK unplugged: FAIL"; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
