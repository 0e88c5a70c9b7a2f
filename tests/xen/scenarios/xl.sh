#!/bin/bash
# Scenario (issue "xl integration" 1-4): disks with script=xen-disk-java in xl, beside kernel
# blkback. One PV domU with 2 vCPUs (so Linux blkfront takes 2 queues of the 4 we offer) is created
# with two disks: xvdb, an ordinary file disk that kernel
# xen-blkback serves (loop device), and xvdc, `script=xen-disk-java,target=mmap:IMG`; both are
# seen at boot and tested at the same time (marker + 4 MiB O_DIRECT md5). Then `xl block-attach`
# of a cow disk xvdd (tested), `xl block-detach` of it (the domU sees it go), and `xl shutdown`:
# everything of ours is released (no gntdev mapping, backend directories gone, `list` empty) and
# blkback's disk went its usual way. Finally `xl create` with a missing image and with an unknown
# engine fails, printing our message. A fourth disk at boot, xvde, is an NBD export:
# `target=nbd+unix:///?socket=...` of nbdkit's file plugin in dom0; its data is checked in the
# exported file after shutdown. The domU's kernel log has no blkfront errors. The hotplug
# script is put in place by `xen-disk-java install` and taken away by `uninstall`.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-xl
BLK=/tmp/xl-blkback.img
OURS=/tmp/xl-ours.img
GOLD=/tmp/xl-gold.img
M_BLK=$(make_image "$BLK" 64)
M_OURS=$(make_image "$OURS" 64)
M_GOLD=$(make_image "$GOLD" 32)
NBDIMG=/tmp/xl-nbd.img
NBDSOCK=/tmp/xl-nbd.sock
M_NBD=$(make_image "$NBDIMG" 64)
command -v nbdkit >/dev/null || fail "nbdkit is missing on the host (bash .ci/setup installs it)"
nbdkit -f -U "$NBDSOCK" file "$NBDIMG" > nbdkit.log 2>&1 &
NBDKIT_PID=$!
for _ in $(seq 100); do [ -S "$NBDSOCK" ] && break; sleep 0.1; done
[ -S "$NBDSOCK" ] || { cat nbdkit.log; fail "nbdkit made no socket"; }
SHA_GOLD=$(sha256sum "$GOLD" | cut -d' ' -f1)
modprobe xen-blkback || fail "modprobe xen-blkback"
# the hotplug script where xl looks for script=xen-disk-java, as an operator installs it
"$XDJ_DIST/bin/xen-disk-java" install > install.log 2>&1 || { cat install.log; fail "xen-disk-java install"; }
grep -q "/etc/xen/scripts/xen-disk-java" install.log || { cat install.log; fail "install did not put the hotplug script in place"; }
start_daemon 180 || fail "the daemon does not start on real Xen"
PID=$(daemon_pid)
mark=$(daemon_log_mark)
ok=1

# 1) xl create: blkback's disk and ours side by side, both seen at boot
t0=$(up)
DOMU_VCPUS=2 DOMU_DISKS="'format=raw,vdev=xvdb,access=rw,target=$BLK', 'vdev=xvdc,access=rw,script=xen-disk-java,target=mmap:$OURS', 'vdev=xvde,access=rw,script=xen-disk-java,target=nbd+unix:///?socket=$NBDSOCK'" \
  start_domu "$GUEST" xdj_disks=xvdb,xvdc,xvdd,xvde xdj_wait=300 xdj_unplug=xvdd xdj_hold=120 xdj_stay=1
log "xl create with a script=xen-disk-java disk took $(awk "BEGIN{print $(up)-$t0}")s"
D=$(xl domid "$GUEST")
B=$(wait_line "$GUEST" "DOMU-DISK xvdb " 240) || true
C=$(wait_line "$GUEST" "DOMU-DISK xvdc " 240) || true
E=$(wait_line "$GUEST" "DOMU-DISK xvde " 240) || true
echo "$B"; echo "$C"; echo "$E"
BE_B=/local/domain/0/backend/vbd/$D/51728
BE_C=/local/domain/0/backend/vbd/$D/51744
log "xvdb: kernel driver '$(kernel_driver_of "$D" 51728)', physical-device $(xenstore-read "$BE_B/physical-device" 2>&1)"
log "xvdc: kernel driver '$(kernel_driver_of "$D" 51744)', hotplug-status $(xenstore-read "$BE_C/hotplug-status" 2>&1)"
xenstore-ls -f "$BE_C" > backend-xvdc.txt 2>&1
LIST_RUNNING=$(xdj list)
echo "$LIST_RUNNING"
[[ $B == *"DOMU-DISK xvdb PASS marker=$M_BLK "* ]] || { echo "CHECK blkback's xvdb at boot: FAIL ($B)"; ok=0; }
[[ $C == *"DOMU-DISK xvdc PASS marker=$M_OURS "* ]] || { echo "CHECK our xvdc at boot: FAIL ($C)"; ok=0; }
[ "$(kernel_driver_of "$D" 51728)" = vbd ] || { echo "CHECK xen-blkback still serves xvdb: FAIL"; ok=0; }
[ -z "$(kernel_driver_of "$D" 51744)" ] || { echo "CHECK xvdc taken from xen-blkback: FAIL"; ok=0; }
grep -q "^$D/51744 xvdc Connected mmap:$OURS" <<<"$LIST_RUNNING" || { echo "CHECK list shows xvdc Connected: FAIL"; ok=0; }
grep "^$D/51744 " <<<"$LIST_RUNNING" | grep -qE " queues=2( |$)" \
  || { echo "CHECK the 2-vCPU domU's blkfront uses 2 queues (rings) on xvdc: FAIL"; ok=0; }
W_OURS=$(sed -n 's/.*written=\([0-9a-f]*\).*/\1/p' <<<"$C")
[[ $E == *"DOMU-DISK xvde PASS marker=$M_NBD "* ]] || { echo "CHECK our NBD disk xvde at boot: FAIL ($E)"; ok=0; }
grep -q "^$D/51776 xvde Connected nbd:nbd+unix:///?socket=$NBDSOCK" <<<"$LIST_RUNNING" \
  || { echo "CHECK list shows xvde Connected from the NBD server: FAIL"; ok=0; }
W_NBD=$(sed -n 's/.*written=\([0-9a-f]*\).*/\1/p' <<<"$E")

# 2) xl block-attach / block-detach of a cow disk on the running domU
t0=$(up)
xl block-attach "$GUEST" "vdev=xvdd,access=rw,script=xen-disk-java,target=cow:$GOLD" > block-attach.log 2>&1 \
  || { cat block-attach.log; echo "CHECK xl block-attach: FAIL"; ok=0; }
log "xl block-attach returned in $(awk "BEGIN{print $(up)-$t0}")s"
DD=$(wait_line "$GUEST" "DOMU-DISK xvdd " 240) || true
echo "$DD"
[[ $DD == *"DOMU-DISK xvdd PASS marker=$M_GOLD "* ]] || { echo "CHECK block-attached xvdd: FAIL ($DD)"; ok=0; }
t0=$(up)
xl block-detach "$GUEST" xvdd > block-detach.log 2>&1 || { cat block-detach.log; echo "CHECK xl block-detach: FAIL"; ok=0; }
log "xl block-detach returned in $(awk "BEGIN{print $(up)-$t0}")s"
U=$(wait_line "$GUEST" "DOMU-UNPLUGGED xvdd " 120) || true
echo "$U"
[[ $U == *"DOMU-UNPLUGGED xvdd yes"* ]] || { echo "CHECK the domU saw xvdd go: FAIL ($U)"; ok=0; }
[ "$(sha256sum "$GOLD" | cut -d' ' -f1)" = "$SHA_GOLD" ] || { echo "CHECK gold image unchanged: FAIL"; ok=0; }

# 3) xl shutdown: the domU powers off, libxl detaches everything, we let go of it all
wait_line "$GUEST" "DOMU-STAYING" 60 >/dev/null || echo "no DOMU-STAYING line"
t0=$(up)
timeout 60 xl shutdown -w "$GUEST" > shutdown.log 2>&1 || { cat shutdown.log; echo "CHECK xl shutdown -w: FAIL"; ok=0; }
log "xl shutdown -w returned in $(awk "BEGIN{print $(up)-$t0}")s"
backend_released "$BE_C" "$PID" \
  || { echo "CHECK after xl shutdown: backend gone, no gntdev mapping: FAIL"; xenstore-ls -f "$BE_C"; ok=0; }
xdj list | grep -q "^$D/" && { echo "CHECK after xl shutdown: list no longer shows the domain's disks: FAIL"; ok=0; }
[ -d "/proc/$PID" ] || { echo "CHECK the daemon is still up: FAIL"; ok=0; }
# the domU's data is in our image (mmap), as in blkback's
GOT=$(dd if="$OURS" bs=1M skip=1 count=4 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$GOT" = "$W_OURS" ] || { echo "CHECK xvdc's data in $OURS: FAIL ($GOT, domU wrote $W_OURS)"; ok=0; }
GOT=$(dd if="$NBDIMG" bs=1M skip=1 count=4 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$GOT" = "$W_NBD" ] || { echo "CHECK xvde's data in nbdkit's file $NBDIMG: FAIL ($GOT, domU wrote $W_NBD)"; ok=0; }
kill "$NBDKIT_PID" 2>/dev/null
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
show_console "$GUEST" 40

# 4) bad targets: xl create fails and prints our reason
n=0
for bad in "target=/tmp/xl-missing.img|/tmp/xl-missing.img" "target=qcow9:$OURS|unknown storage engine 'qcow9'"; do
  spec=${bad%%|*}; want=${bad#*|}
  name=domu-bad-$((++n))
  t0=$(up)
  DOMU_DISKS="'vdev=xvdb,access=rw,script=xen-disk-java,$spec'" start_domu_expect_failure "$name" > "bad-$n.log" 2>&1
  rc=$?
  log "xl create with $spec: rc=$rc in $(awk "BEGIN{print $(up)-$t0}")s"
  grep -E 'xen-disk-java|hotplug|libxl: error' "bad-$n.log" | head -8
  { [ $rc != 0 ] && grep -qF "$want" "bad-$n.log"; } || { echo "CHECK xl create fails naming '$want': FAIL"; cat "bad-$n.log"; ok=0; }
  xl domid "$name" >/dev/null 2>&1 && { echo "CHECK the failed domain is gone: FAIL"; xl destroy "$name"; ok=0; }
done
sleep 1
xdj list | grep -q '^[0-9]' && { echo "CHECK nothing left in list: FAIL"; xdj list; ok=0; }
# 5) uninstall takes away what install put there
"$XDJ_DIST/bin/xen-disk-java" uninstall > uninstall.log 2>&1 || { cat uninstall.log; echo "CHECK uninstall: FAIL"; ok=0; }
cat uninstall.log
[ ! -e /etc/xen/scripts/xen-disk-java ] && [ ! -e /etc/libvirt/hooks/libxl.d/xen-disk-java ] \
  || { echo "CHECK uninstall removed the hotplug script and the libvirt hook: FAIL"; ok=0; }
echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
