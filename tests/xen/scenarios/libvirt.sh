#!/bin/bash
# xdj-lab: timeout 1500
# Scenario (issue "libvirt integration" 3-5): libvirtd with its libxl driver in dom0 and our
# hook installed by `xen-disk-java install`. A PV domain whose <metadata> declares a disk is
# defined and started with virsh: the hook hands the disk to the daemon at "start" (before the
# domain exists), the daemon connects it when libxl creates the domain (still paused), and the
# domU finds it at boot and does I/O on it. Our `attach-disk --live` / `detach-disk` hot-plug
# a second disk on the running domain; `virsh destroy` releases everything; a domain whose
# metadata names a missing image fails to start with our message; what
# `virsh attach-disk --driver xen-disk-java` does on the libxl driver is recorded; and a disk
# recorded with our `attach-disk --config` in a stopped domain is there at its start and again
# after the guest reboots itself (on_reboot=restart: libvirt destroys the domain and starts a new
# one, running the hooks again), with the data written before the reboot.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
NS=https://xen-disk-java.org/xmlns/libvirt-disks/1
BOOT=/tmp/lv-boot.img
HOT=/tmp/lv-hot.img
M_BOOT=$(make_image "$BOOT" 64)
M_HOT=$(make_image "$HOT" 32)
ok=1
# what `xen-disk-java install` puts in place (the hook must exist before libvirtd starts)
"$XDJ_DIST/bin/xen-disk-java" install > install.log 2>&1 || { cat install.log; fail "xen-disk-java install"; }
cat install.log
[ -x /etc/libvirt/hooks/libxl.d/xen-disk-java ] || { echo "CHECK install put the libvirt hook in place: FAIL"; ok=0; }
start_daemon 180 || fail "the daemon does not start on real Xen"
PID=$(daemon_pid)
mark=$(daemon_log_mark)
mkdir -p /var/log/libvirt /var/lib/libvirt /run/libvirt
# only the libxl driver (dom0's / is a tmpfs overlay: this changes nothing on the host): the qemu
# driver, pulled in by the libvirt-daemon package, probes qemu binaries for minutes under emulation
for d in /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/*.so; do
  case $d in */libvirt_driver_libxl.so) ;; *) rm -f "$d" ;; esac
done
t0=$(up)
LIBVIRT_LOG_OUTPUTS="3:file:$PWD/libvirtd.log" /usr/sbin/libvirtd --daemon --pid-file /run/libvirtd.pid > libvirtd.out 2>&1
for ((i = 0; i < 240; i++)); do virsh -c xen:///system version >/dev/null 2>&1 && break; sleep 0.5; done
virsh -c xen:///system version || { cat libvirtd.out; tail -30 /var/log/libvirt/libvirtd.log 2>/dev/null; fail "libvirtd with the libxl driver does not answer"; }
log "libvirtd up in $(awk "BEGIN{print $(up)-$t0}")s"
V="virsh -c xen:///system"
export LIBVIRT_DEFAULT_URI=xen:///system

domain_xml() { # $1 = name, $2 = domU kernel args, $3 = our disks (none: no metadata), $4 = on_reboot
  local meta=
  [ -n "$3" ] && meta="  <metadata>
    <xdj:disks xmlns:xdj='$NS'>
$3
    </xdj:disks>
  </metadata>"
  cat <<EOX
<domain type='xen'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='xenpv'>linux</type>
    <kernel>$XDJ_BOOT/vmlinuz</kernel>
    <initrd>$XDJ_BOOT/domU.cpio.gz</initrd>
    <cmdline>console=hvc0 loglevel=6 $2</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>${4:-destroy}</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <console type='pty'><target type='xen' port='0'/></console>
  </devices>
$meta
</domain>
EOX
}

# 1) virsh define + start: the metadata disk is there at boot
GUEST=lv-boot
domain_xml "$GUEST" "xdj_disks=xvdb,xvdc xdj_wait=300 xdj_unplug=xvdc xdj_hold=120 xdj_stay=1" \
  "      <xdj:disk target='xvdb' source='$BOOT' engine='mmap'/>" > "$GUEST.xml"
$V define "$GUEST.xml" || { echo "CHECK virsh define: FAIL"; ok=0; }
t0=$(up)
$V start "$GUEST" > start.log 2>&1 || { cat start.log; tail -20 /var/log/libvirt/libxl/libxl-driver.log 2>/dev/null; echo "CHECK virsh start: FAIL"; ok=0; }
log "virsh start returned in $(awk "BEGIN{print $(up)-$t0}")s"
D=$(xl domid "$GUEST" 2>/dev/null)
B=$(wait_line "$GUEST" "DOMU-DISK xvdb " 240) || true
echo "$B"
APPEARED=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a '^DOMU: xvdb appeared after' | head -1)
echo "$APPEARED"
[[ $B == *"DOMU-DISK xvdb PASS marker=$M_BOOT "* ]] || { echo "CHECK the metadata disk at boot: FAIL ($B)"; ok=0; }
[[ $APPEARED == *"appeared after 0.0s"* ]] || { echo "CHECK xvdb present when the domU's init started (not hot-plugged later): FAIL ($APPEARED)"; ok=0; }
daemon_log_since "$mark" | grep -E "lv-boot|vbd $D/" | head -5

# 2) our attach-disk --live / detach-disk on the running domain
t0=$(up)
xdj attach-disk "$GUEST" "$HOT" xvdc --driver-type cow --live > attach.log 2>&1 || { cat attach.log; echo "CHECK attach-disk --live: FAIL"; ok=0; }
cat attach.log
log "attach-disk returned in $(awk "BEGIN{print $(up)-$t0}")s"
C=$(wait_line "$GUEST" "DOMU-DISK xvdc " 240) || true
echo "$C"
[[ $C == *"DOMU-DISK xvdc PASS marker=$M_HOT "* ]] || { echo "CHECK attach-disk's xvdc in the domU: FAIL ($C)"; ok=0; }
xdj domblklist "$GUEST" | tee domblklist.txt
grep -q "xvdc" domblklist.txt || { echo "CHECK domblklist shows xvdc: FAIL"; ok=0; }
xdj detach-disk "$GUEST" xvdc --live > detach.log 2>&1 || { cat detach.log; echo "CHECK detach-disk --live: FAIL"; ok=0; }
U=$(wait_line "$GUEST" "DOMU-UNPLUGGED xvdc " 120) || true
echo "$U"
[[ $U == *"DOMU-UNPLUGGED xvdc yes"* ]] || { echo "CHECK the domU saw xvdc go: FAIL ($U)"; ok=0; }

# 3) what virsh's own attach-disk does with our driver name (recorded for the README)
$V attach-disk "$GUEST" "$HOT" xvdd --driver xen-disk-java --live > virsh-attach.log 2>&1
echo "virsh attach-disk --driver xen-disk-java: rc=$? $(tr '\n' ' ' < virsh-attach.log)" | tee -a virsh-driver.txt

# 4) virsh destroy: the stopped hook and the daemon release everything
wait_line "$GUEST" "DOMU-STAYING" 60 >/dev/null || true
$V destroy "$GUEST" || { echo "CHECK virsh destroy: FAIL"; ok=0; }
backend_released "/local/domain/0/backend/xen-disk-java/$D" "$PID" \
  || { echo "CHECK after virsh destroy: no backend, no gntdev mapping: FAIL"; ok=0; }
xdj list | grep -q "^$D/" && { echo "CHECK after virsh destroy: list no longer shows the domain's disks: FAIL"; xdj list; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
show_console "$GUEST" 30

# 5) broken metadata: the start fails with our message
BAD=lv-bad
domain_xml "$BAD" "xdj_disks=xvdb" "      <xdj:disk target='xvdb' source='/tmp/lv-missing.img' engine='file'/>" > "$BAD.xml"
$V define "$BAD.xml" >/dev/null
$V start "$BAD" > bad-start.log 2>&1; rc=$?
cat bad-start.log
{ [ $rc != 0 ] && grep -q "xen-disk-java: domain $BAD disk xvdb: image /tmp/lv-missing.img not found" bad-start.log; } \
  || { echo "CHECK virsh start of a domain with a missing image fails with our message: FAIL (rc=$rc)"; ok=0; }
xl domid "$BAD" >/dev/null 2>&1 && { echo "CHECK the bad domain is not running: FAIL"; ok=0; }
$V undefine "$BAD" >/dev/null; $V undefine "$GUEST" >/dev/null

# 6) attach-disk --config into a stopped domain; start; the guest reboots itself
RG=lv-reboot
RIMG=/tmp/lv-reboot.img
M_R=$(make_image "$RIMG" 64)
domain_xml "$RG" "xdj_disks=xvdb xdj_wait=300 xdj_reboot=xvdb xdj_stay=1" "" restart > "$RG.xml"
$V define "$RG.xml" >/dev/null || { echo "CHECK virsh define $RG: FAIL"; ok=0; }
xdj attach-disk "$RG" "$RIMG" xvdb --driver-type mmap --config > cfg-attach.log 2>&1 \
  || { cat cfg-attach.log; echo "CHECK attach-disk --config into a stopped domain: FAIL"; ok=0; }
cat cfg-attach.log
xdj domblklist "$RG" --inactive | tee cfg-domblklist.txt
grep -q "xvdb.*$RIMG" cfg-domblklist.txt || { echo "CHECK domblklist --inactive shows the --config disk: FAIL"; ok=0; }
$V dumpxml --inactive "$RG" | grep -E "xen-disk-java|xvdb" | head -5
$V start "$RG" > rstart.log 2>&1 || { cat rstart.log; echo "CHECK virsh start $RG: FAIL"; ok=0; }
D1=$(xl domid "$RG" 2>/dev/null)
W=$(wait_line "$RG" "DOMU-REBOOT first-boot" 300) || true
echo "$W"
[[ $W == *"wrote="* ]] || { echo "CHECK first boot: the disk is there, the mark written, the guest reboots: FAIL ($W)"; ok=0; }
F=
for ((i = 0; i < 1200; i++)); do
  F=$(tr -d '\r' < "$(console_of "$RG")" 2>/dev/null | grep -a '^DOMU-REBOOT second-boot' | tail -1)
  [ -n "$F" ] && break
  sleep 0.25
done
echo "$F"
D2=$(xl domid "$RG" 2>/dev/null)
log "domain $RG: id $D1 before the reboot, ${D2:-none} after"
rmark=${W#*wrote=}; rmark=${rmark%% *}
[[ -n $rmark && $F == *"found=$rmark "* ]] || { echo "CHECK second boot reads the mark written before the reboot: FAIL ($F)"; ok=0; }
[[ -n $D2 && $D2 != "$D1" ]] || { echo "CHECK libvirt restarted $RG as a new domain: FAIL ($D1 -> $D2)"; ok=0; }
B2=$(wait_line "$RG" "DOMU-DISK xvdb " 60) || true
A2=$(tr -d '\r' < "$(console_of "$RG")" | grep -a '^DOMU: xvdb appeared after' | tail -1)
echo "$B2"; echo "$A2"
n_pass=$(tr -d '\r' < "$(console_of "$RG")" | grep -ac "^DOMU-DISK xvdb PASS marker=$M_R ")
[ "$n_pass" = 2 ] || { echo "CHECK the disk passes its test on both boots: FAIL ($n_pass PASS lines)"; ok=0; }
[[ $A2 == *"appeared after 0.0s"* ]] || { echo "CHECK xvdb present at the second boot's start: FAIL ($A2)"; ok=0; }
wait_line "$RG" "DOMU-STAYING" 60 >/dev/null || true
$V destroy "$RG" >/dev/null || { echo "CHECK virsh destroy $RG: FAIL"; ok=0; }
backend_released "/local/domain/0/backend/xen-disk-java/$D2" "$PID" \
  || { echo "CHECK after virsh destroy of the rebooted $RG: no backend, no gntdev mapping: FAIL"; ok=0; }
xdj list | grep -qE "^($D1|$D2)/" && { echo "CHECK list shows neither of $RG's domains: FAIL"; xdj list; ok=0; }
got=$(dd if="$RIMG" bs=512 skip=$((40 * 2048)) count=1 2>/dev/null | tr -d '\0' | head -c 64)
[ "$got" = "XDJ-REBOOT-MARK $rmark" ] || { echo "CHECK the mark is in the image after destroy: FAIL ($got)"; ok=0; }
problems=$(domu_kernel_problems "$RG")
[ -z "$problems" ] || { echo "CHECK $RG's kernel log clean: FAIL"; echo "$problems"; ok=0; }
show_console "$RG" 25
$V undefine "$RG" >/dev/null
kill "$(cat /run/libvirtd.pid 2>/dev/null)" 2>/dev/null
mkdir -p logs; cp -r /var/log/libvirt logs/ 2>/dev/null
echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
