#!/bin/bash
# Scenario (issue "Real Xen" 4c): `xl destroy` of a PV domU while our disk is connected and
# the domU is doing O_DIRECT I/O on it. The daemon must notice on its own (the domain is gone:
# @releaseDomain, or the frontend directory libxl removes), release the grant mappings and
# the event channel (so the domain does not linger as a dying "(null)" domain), remove its
# backend directory, drop the disk from `list`, and stay up. The gold image of the cow disk is
# unchanged, and the domU's kernel log (up to its death) has no blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-destroy
GOLD=/tmp/destroy-gold.img
MARKER=$(make_image "$GOLD" 64)
SHA_BEFORE=$(sha256sum "$GOLD" | cut -d' ' -f1)
log "gold image $GOLD 64 MiB, marker $MARKER"
start_daemon 180 || fail "the daemon does not start on real Xen"
PID=$(daemon_pid)
mark=$(daemon_log_mark)
start_domu "$GUEST" xdj_wait=240 xdj_hold=90 xdj_busy=1
D=$(xl domid "$GUEST")
wait_console "$GUEST" 'DOMU-READY' 120 >/dev/null || { show_console "$GUEST"; fail "domU $GUEST did not boot"; }
xdj connect "$GUEST" --path "$GOLD" --storage cow --vdev xvdb || { daemon_log_since "$mark"; fail "connect"; }
RESULT=$(wait_console "$GUEST" 'DOMU-RESULT' 240) || true
echo "$RESULT"
wait_console "$GUEST" 'DOMU-BUSY loops=' 120 || echo "no DOMU-BUSY progress line"
BE=/local/domain/0/backend/xen-disk-java/$D
MAPS_BEFORE=$(gntdev_maps "$PID")
log "domain $D busy on xvdb; daemon pid $PID holds $MAPS_BEFORE gntdev mapping(s); backend nodes:"
xenstore-ls -f "$BE" | grep -E '/(state|ring-ref|event-channel|frontend-id)' 
# the destroy, with I/O in flight
t0=$(up)
xl destroy "$GUEST" || echo "xl destroy failed"
log "xl destroy returned in $(awk "BEGIN{print $(up)-$t0}")s"
# what the daemon must do on its own, within 30 s
ended= be_gone= i=
for ((i = 0; i < 120; i++)); do
  [ -z "$ended" ] && daemon_log_since "$mark" | grep -q "vbd $D/51728 ended" && { ended=1; log "daemon: vbd $D/51728 ended"; }
  [ -z "$be_gone" ] && ! xenstore-exists "$BE" 2>/dev/null && { be_gone=1; log "backend directory $BE gone"; }
  [ -n "$ended" ] && [ -n "$be_gone" ] && break
  sleep 0.25
done
# the domain must be released by Xen: no dying "(null)" domain kept alive by our grant mappings
released=
for ((i = 0; i < 60; i++)); do
  [ "$(xl list | awk 'NR > 1 && $1 != "Domain-0"' | wc -l)" = 0 ] && { released=1; break; }
  sleep 0.25
done
log "xl list after the destroy:"; xl list
MAPS_AFTER=$(gntdev_maps "$PID")
STATUS=$(xdj status); STATUS_RC=$?
echo "$STATUS"
LIST=$(xdj list); LIST_RC=$?
echo "list (rc=$LIST_RC): $LIST"
SHA_AFTER=$(sha256sum "$GOLD" | cut -d' ' -f1)
show_console "$GUEST" 40
echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"

ok=1
[[ $RESULT == *"DOMU-RESULT PASS"* ]] || { echo "CHECK domU I/O before the destroy: FAIL ($RESULT)"; ok=0; }
tr -d '\r' < "$(console_of "$GUEST")" | grep -q '^DOMU-BUSY loops=' || { echo "CHECK domU busy on the disk when destroyed: FAIL"; ok=0; }
[ -n "$ended" ] || { echo "CHECK daemon ended vbd $D/51728 by itself: FAIL"; ok=0; }
WHY=$(daemon_log_since "$mark" | grep -E "vbd $D/51728 (ended|: torn down)" | sed 's/.*\] //')
echo "why the VBD ended (daemon log): $WHY"
grep -q "domain $D is gone" <<<"$WHY" || { echo "CHECK daemon log says the domain is gone: FAIL"; ok=0; }
[ -n "$be_gone" ] || { echo "CHECK backend directory $BE removed: FAIL"; xenstore-ls -f "$BE"; ok=0; }
[ -n "$released" ] || { echo "CHECK no dying domain left (xl list): FAIL"; ok=0; }
[ "${MAPS_AFTER:-x}" = 0 ] || { echo "CHECK daemon holds no grant mapping: FAIL ($MAPS_AFTER gntdev mappings, $MAPS_BEFORE before)"; ok=0; }
[ -n "$PID" ] && [ -d "/proc/$PID" ] && [ "$STATUS_RC" = 0 ] || { echo "CHECK daemon still up (status rc=$STATUS_RC, pid $PID): FAIL"; ok=0; }
[ "$LIST_RC" = 0 ] && ! grep -q "^$D/" <<<"$LIST" || { echo "CHECK list no longer shows the disk: FAIL"; ok=0; }
[ "$SHA_BEFORE" = "$SHA_AFTER" ] || { echo "CHECK gold image unchanged: FAIL"; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean (up to its destroy): FAIL"; echo "$problems"; ok=0; }
echo "gntdev mappings of the daemon: $MAPS_BEFORE while connected, $MAPS_AFTER after the destroy"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
