#!/bin/bash
# Scenario (issue 16, CD-ROM): dom0 makes an ISO 9660 image with genisoimage (a random
# DATA.BIN on it, Rock Ridge names) and `connect --cdrom` serves it to a running PV domU as xvdd. Checks: both
# ends say device-type cdrom, the backend's mode is r and info 7 (VDISK_CDROM | VDISK_REMOVABLE |
# VDISK_READONLY);
# Linux blkfront makes a read-only removable disk of it (sysfs ro=1, removable=1), the domU mounts
# it as iso9660 and reads DATA.BIN with the md5 dom0 wrote; the ISO is byte-identical afterwards;
# it unplugs cleanly; no blkfront errors. (A write's error response is checked on the simulated
# platform, CdromE2ETest: a write from Linux would also fill the domU's log with I/O errors.)
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-cdrom
ok=1
command -v genisoimage >/dev/null || fail "genisoimage is missing in dom0 (Debian's genisoimage on the host: tests/xen/lib/build.sh)"
rm -rf /tmp/isotree; mkdir -p /tmp/isotree
head -c $((3 << 20)) /dev/urandom > /tmp/isotree/DATA.BIN
WANT=$(md5sum /tmp/isotree/DATA.BIN | cut -d' ' -f1)
genisoimage -quiet -R -V XDJ-TOOLS -o /tmp/tools.iso /tmp/isotree || fail "genisoimage"
SHA=$(sha256sum /tmp/tools.iso | cut -d' ' -f1)
log "ISO /tmp/tools.iso: $(stat -c %s /tmp/tools.iso) bytes, DATA.BIN md5 $WANT"
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
start_domu "$GUEST" xdj_disks=xvdd xdj_iso=xvdd xdj_unplug=xvdd xdj_wait=300 xdj_hold=120
wait_console "$GUEST" 'DOMU-READY' 240 >/dev/null || { show_console "$GUEST"; fail "domU $GUEST did not boot"; }
D=$(xl domid "$GUEST")
xdj connect "$GUEST" --path /tmp/tools.iso --cdrom --vdev xvdd || { daemon_log_since "$mark"; fail "connect --cdrom"; }
FE=/local/domain/$D/device/vbd/51760
BE=/local/domain/0/backend/xen-disk-java/$D/51760
FT=$(xenstore-read "$FE/device-type"); BT=$(xenstore-read "$BE/device-type")
MODE=$(xenstore-read "$BE/mode"); INFO=$(xenstore-read "$BE/info")
log "frontend device-type=$FT, backend device-type=$BT mode=$MODE info=$INFO"
ISO=$(wait_console "$GUEST" '^DOMU-ISO xvdd ' 300) || true
echo "$ISO"
LIST=$(xdj list); echo "$LIST"
xdj disconnect "$GUEST" xvdd || { echo "CHECK disconnect: FAIL"; ok=0; }
U=$(wait_console "$GUEST" '^DOMU-UNPLUGGED xvdd ' 150) || true
echo "$U"
show_console "$GUEST" 20
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -15; echo "----"

[ "$FT" = cdrom ] && [ "$BT" = cdrom ] && [ "$MODE" = r ] && [ "$INFO" = 7 ] \
  || { echo "CHECK device-type cdrom on both ends, mode r, info 7: FAIL"; ok=0; }
[[ $ISO == "DOMU-ISO xvdd ro=1 removable=1 md5=$WANT "* ]] \
  || { echo "CHECK domU: a read-only removable disk, DATA.BIN read from the mounted ISO: FAIL"; ok=0; }
[ "$(sha256sum /tmp/tools.iso | cut -d' ' -f1)" = "$SHA" ] || { echo "CHECK the ISO is byte-identical: FAIL"; ok=0; }
[[ $U == "DOMU-UNPLUGGED xvdd yes"* ]] || { echo "CHECK unplugged: FAIL"; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
