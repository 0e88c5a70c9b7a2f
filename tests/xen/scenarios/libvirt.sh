#!/bin/bash
# xdj-lab: timeout 1500
# Scenario (issue "libvirt integration" 3-5): libvirtd with its libxl driver in dom0 and our
# hook installed by `xen-disk-java install`. A PV domain is defined with virsh whose <metadata>
# declares a disk (xvdb: a qcow2 overlay made by qemu-img over a raw gold image, engine qcow2),
# and our `attach-disk --config` adds a second one (xvdc, cow) while it is
# stopped. At `virsh start` the hook hands both to the daemon at "start" (before the domain
# exists), the daemon connects them when libxl creates the domain (still paused), and the domU
# finds them at boot and does I/O on them. Our `attach-disk --live` / `detach-disk` hot-plug a
# third disk on the running domain; what `virsh attach-disk --driver xen-disk-java` does on the
# libxl driver is recorded. The guest then reboots itself (on_reboot=restart: libvirt destroys
# the domain and starts a new one, running the hooks again): both disks are there at the new
# boot, with the data written before the reboot, which stays in the overlay after `virsh destroy`
# (qemu-img reads it and calls the overlay clean; the gold is unchanged). `virsh destroy` releases everything; a domain
# whose metadata names a missing image fails to start with our message. (One domain does all of
# this: each domain boot and each hook's JVM costs tens of seconds under TCG.)
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
NS=https://xen-disk-java.org/xmlns/libvirt-disks/1
BOOT=/tmp/lv-boot.img
HOT=/tmp/lv-hot.img
M_BOOT=$(make_image "$BOOT" 64)
OVERLAY=/tmp/lv-boot.qcow2
qemu-img create -q -f qcow2 -b "$BOOT" -F raw "$OVERLAY" || fail "qemu-img create of the qcow2 overlay"
GOLD_SHA=$(sha256sum < "$BOOT")
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

# 1) virsh define; attach-disk --config into the stopped domain; virsh start: both disks at boot
GUEST=lv
CFG=/tmp/lv-config.img
M_CFG=$(make_image "$CFG" 32)
domain_xml "$GUEST" "xdj_disks=xvdb,xvdc,xvdd xdj_wait=300 xdj_unplug=xvdd xdj_hold=120 xdj_reboot=xvdb xdj_stay=1" \
  "      <xdj:disk target='xvdb' source='$OVERLAY' engine='qcow2'/>" restart > "$GUEST.xml"
$V define "$GUEST.xml" || { echo "CHECK virsh define: FAIL"; ok=0; }
xdj attach-disk "$GUEST" "$CFG" xvdc --driver-type cow --config > cfg-attach.log 2>&1 \
  || { cat cfg-attach.log; echo "CHECK attach-disk --config into a stopped domain: FAIL"; ok=0; }
cat cfg-attach.log
xdj domblklist "$GUEST" --inactive | tee cfg-domblklist.txt
grep -q "xvdb.*$OVERLAY" cfg-domblklist.txt && grep -q "xvdc.*$CFG" cfg-domblklist.txt \
  || { echo "CHECK domblklist --inactive shows the metadata disk and the --config disk: FAIL"; ok=0; }
$V dumpxml --inactive "$GUEST" | grep -E "xen-disk-java|xvd" | head -5
t0=$(up)
$V start "$GUEST" > start.log 2>&1 || { cat start.log; tail -20 /var/log/libvirt/libxl/libxl-driver.log 2>/dev/null; echo "CHECK virsh start: FAIL"; ok=0; }
log "virsh start returned in $(awk "BEGIN{print $(up)-$t0}")s"
D1=$(xl domid "$GUEST" 2>/dev/null)
# $1 = disk, $2 = its marker, $3 = which boot: its test passed and it was there when init began
at_boot() {
  local r a
  r=$(wait_line "$GUEST" "DOMU-DISK $1 " 240) || true
  a=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a "^DOMU: $1 appeared after" | tail -1)
  echo "$3 boot: $r / $a"
  [[ $r == *"DOMU-DISK $1 PASS marker=$2 "* ]] || { echo "CHECK $1 at the $3 boot: FAIL ($r)"; ok=0; }
  [[ $a == *"appeared after 0.0s"* ]] || { echo "CHECK $1 present when the domU's init began, at the $3 boot (not hot-plugged later): FAIL ($a)"; ok=0; }
}
at_boot xvdb "$M_BOOT" first
at_boot xvdc "$M_CFG" first
daemon_log_since "$mark" | grep -E "$GUEST|vbd $D1/" | head -5

# 2) our attach-disk --live / detach-disk on the running domain; virsh's own attach-disk
t0=$(up)
xdj attach-disk "$GUEST" "$HOT" xvdd --driver-type file --live > attach.log 2>&1 || { cat attach.log; echo "CHECK attach-disk --live: FAIL"; ok=0; }
cat attach.log
log "attach-disk returned in $(awk "BEGIN{print $(up)-$t0}")s"
C=$(wait_line "$GUEST" "DOMU-DISK xvdd " 240) || true
echo "$C"
[[ $C == *"DOMU-DISK xvdd PASS marker=$M_HOT "* ]] || { echo "CHECK attach-disk's xvdd in the domU: FAIL ($C)"; ok=0; }
xdj domblklist "$GUEST" | tee domblklist.txt
grep -q "xvdd" domblklist.txt || { echo "CHECK domblklist shows xvdd: FAIL"; ok=0; }
# what virsh's own attach-disk does with our driver name (recorded for the README)
$V attach-disk "$GUEST" "$HOT" xvde --driver xen-disk-java --live > virsh-attach.log 2>&1
echo "virsh attach-disk --driver xen-disk-java: rc=$? $(tr '\n' ' ' < virsh-attach.log)" | tee -a virsh-driver.txt
xdj detach-disk "$GUEST" xvdd --live > detach.log 2>&1 || { cat detach.log; echo "CHECK detach-disk --live: FAIL"; ok=0; }
U=$(wait_line "$GUEST" "DOMU-UNPLUGGED xvdd " 120) || true
echo "$U"
[[ $U == *"DOMU-UNPLUGGED xvdd yes"* ]] || { echo "CHECK the domU saw xvdd go: FAIL ($U)"; ok=0; }

# 3) the guest reboots itself: libvirt starts a new domain, the hooks give it both disks again
W=$(wait_line "$GUEST" "DOMU-REBOOT first-boot" 120) || true
echo "$W"
[[ $W == *"wrote="* ]] || { echo "CHECK first boot: the mark written, the guest reboots: FAIL ($W)"; ok=0; }
F=
for ((i = 0; i < 1200; i++)); do
  F=$(tr -d '\r' < "$(console_of "$GUEST")" 2>/dev/null | grep -a '^DOMU-REBOOT second-boot' | tail -1)
  [ -n "$F" ] && break
  sleep 0.25
done
echo "$F"
D2=$(xl domid "$GUEST" 2>/dev/null)
log "domain $GUEST: id $D1 before the reboot, ${D2:-none} after"
rmark=${W#*wrote=}; rmark=${rmark%% *}
[[ -n $rmark && $F == *"found=$rmark "* ]] || { echo "CHECK second boot reads the mark written before the reboot: FAIL ($F)"; ok=0; }
[[ -n $D2 && $D2 != "$D1" ]] || { echo "CHECK libvirt restarted $GUEST as a new domain: FAIL ($D1 -> $D2)"; ok=0; }
wait_line "$GUEST" "DOMU-STAYING" 240 >/dev/null || true
at_boot xvdb "$M_BOOT" second
at_boot xvdc "$M_CFG" second
for d in xvdb xvdc; do
  n_pass=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -ac "^DOMU-DISK $d PASS ")
  [ "$n_pass" = 2 ] || { echo "CHECK $d passes its test on both boots: FAIL ($n_pass PASS lines)"; ok=0; }
done

# 4) virsh destroy: the stopped hook and the daemon release everything
$V destroy "$GUEST" || { echo "CHECK virsh destroy: FAIL"; ok=0; }
backend_released "/local/domain/0/backend/xen-disk-java/$D2" "$PID" \
  || { echo "CHECK after virsh destroy: no backend, no gntdev mapping: FAIL"; ok=0; }
xdj list | grep -qE "^($D1|$D2)/" && { echo "CHECK after virsh destroy: list shows neither of the domain's ids: FAIL"; xdj list; ok=0; }
qemu-img check "$OVERLAY" || { echo "CHECK qemu-img check of the qcow2 overlay after destroy: FAIL"; ok=0; }
qemu-img convert -O raw "$OVERLAY" /tmp/lv-boot-flat.raw || { echo "CHECK qemu-img convert of the overlay: FAIL"; ok=0; }
got=$(dd if=/tmp/lv-boot-flat.raw bs=512 skip=$((40 * 2048)) count=1 2>/dev/null | tr -d '\0' | head -c 64)
rm -f /tmp/lv-boot-flat.raw
[ "$got" = "XDJ-REBOOT-MARK $rmark" ] || { echo "CHECK the mark is in the qcow2 overlay after destroy (read by qemu-img): FAIL ($got)"; ok=0; }
[ "$(sha256sum < "$BOOT")" = "$GOLD_SHA" ] || { echo "CHECK the overlay's gold image unchanged: FAIL"; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
show_console "$GUEST" 40

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
kill "$(cat /run/libvirtd.pid 2>/dev/null)" 2>/dev/null
mkdir -p logs; cp -r /var/log/libvirt logs/ 2>/dev/null
echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
