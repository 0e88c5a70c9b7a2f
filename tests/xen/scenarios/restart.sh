#!/bin/bash
# Scenario (issue "xl integration" 6): kill -9 of the daemon while a PV domU writes to our disk
# (xl, script=xen-disk-java, engine file). The domU runs rounds of "write 1 MiB O_DIRECT with
# fsync, read it back, compare md5". The daemon is killed in the middle and started again; it
# takes the disk back from xenstore and resumes the ring where it stands. What the guest sees: a
# pause (its requests wait, as for a slow disk), no I/O error, every round verified; the image
# holds what the last acknowledged round wrote. Then `xl destroy` releases everything.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-restart
IMG=/tmp/restart.img
MARKER=$(make_image "$IMG" 64)
ROUNDS=${RESTART_ROUNDS:-16}
install_hotplug_script
start_daemon 180 || fail "the daemon does not start on real Xen"
OLD=$(daemon_pid)
mark=$(daemon_log_mark)
ok=1
DOMU_DISKS="'vdev=xvdb,access=rw,script=xen-disk-java,target=file:$IMG'" \
  start_domu "$GUEST" xdj_disks=xvdb xdj_loop="xvdb:$ROUNDS" xdj_stay=1 xdj_wait=120
D=$(xl domid "$GUEST")
R=$(wait_line "$GUEST" "DOMU-DISK xvdb " 240) || true
echo "$R"
[[ $R == *"DOMU-DISK xvdb PASS marker=$MARKER "* ]] || { echo "CHECK xvdb at boot: FAIL ($R)"; ok=0; }
wait_line "$GUEST" "DOMU-LOOP round=3 " 120 || echo "no third round"
log "killing the daemon (pid $OLD) with SIGKILL while the domU writes"
kill -9 "$OLD"
while [ -d "/proc/$OLD" ]; do sleep 0.1; done
LOOPS_AT_KILL=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -c '^DOMU-LOOP round=')
t0=$(up)
start_daemon 180 || fail "the daemon does not start again"
NEW=$(daemon_pid)
log "daemon restarted (pid $NEW) in $(awk "BEGIN{print $(up)-$t0}")s, at round $LOOPS_AT_KILL of $ROUNDS"
L=$(wait_line "$GUEST" "DOMU-LOOP-RESULT " 300) || true
echo "$L"
[[ $L == *"DOMU-LOOP-RESULT PASS rounds=$ROUNDS failed=0 "* ]] || { echo "CHECK every round verified through the restart: FAIL ($L)"; ok=0; }
[ "$LOOPS_AT_KILL" -lt "$ROUNDS" ] || { echo "CHECK the kill came in the middle of the rounds: FAIL"; ok=0; }
daemon_log_since "$mark" | grep -E "vbd $D/51728: (serving|served)" | sed 's/^/daemon: /'
daemon_log_since "$mark" | grep -q "vbd $D/51728: serving file:$IMG .*resuming its ring" \
  || { echo "CHECK the new daemon resumed the ring: FAIL"; ok=0; }
# the last round was acknowledged (fsync'd) before the guest printed it: it is in the image
LAST=${L##*last=}; OFF=${LAST%%:*}; SUM=${LAST#*:}
GOT=$(dd if="$IMG" bs=1M skip="$OFF" count=1 2>/dev/null | md5sum | cut -d' ' -f1)
[ -n "$SUM" ] && [ "$GOT" = "$SUM" ] || { echo "CHECK the last acknowledged round is in the image: FAIL ($GOT vs $SUM)"; ok=0; }
xdj list
# xl destroy: the restarted daemon lets go of everything
xl destroy "$GUEST"
gone=
for ((i = 0; i < 80; i++)); do
  ! xenstore-exists "/local/domain/0/backend/vbd/$D" 2>/dev/null && [ "$(gntdev_maps "$NEW")" = 0 ] \
    && [ "$(xl list | awk 'NR > 1 && $1 != "Domain-0"' | wc -l)" = 0 ] && { gone=1; break; }
  sleep 0.25
done
[ -n "$gone" ] || { echo "CHECK after xl destroy: no backend, no gntdev mapping, no dying domain: FAIL"; xl list; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
show_console "$GUEST" 30
echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
