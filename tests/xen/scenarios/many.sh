#!/bin/bash
# Scenario (issue 13, host scale on real Xen; and the engines' own checks): two PV domUs with two
# disks of ours each, four rings connected and doing verified I/O at once, on engines file and
# mmap (many-1), cow and qcow2 (many-2: an overlay made by qemu-img over a raw gold), all hot-plugged by `connect` into the running domUs. Each
# domU tests its disks (marker, 4 MiB O_DIRECT md5), runs 8 verified write+read rounds with fsync
# on both disks at the same time, then waits for the unplugs. Checks: every disk and every round
# passes, `list` shows the four VBDs Connected at the same time, disconnect unplugs each cleanly,
# the daemon holds no gntdev mapping afterwards, no blkfront errors; the file, mmap and qcow2 images
# hold each disk's last round after the disconnect (the qcow2 one read by qemu-img, whose check
# must call it clean), and the gold images under cow and qcow2 are byte-identical.
# xdj-lab: timeout 900
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
ROUNDS=8
G=(many-1 many-1 many-2 many-2)
V=(xvdb xvdc xvdb xvdc)
E=(file mmap cow qcow2)
ok=1
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
declare -A MK
command -v qemu-img >/dev/null || fail "qemu-img is missing in dom0 (Debian's qemu-utils on the host: bash .ci/setup)"
for i in 0 1 2; do MK[$i]=$(make_image "/tmp/many-$i.img" 32); done
MK[3]=$(make_image /tmp/many-3-gold.raw 32)
qemu-img create -q -f qcow2 -b many-3-gold.raw -F raw /tmp/many-3.img || fail "qemu-img create of the qcow2 overlay"
GOLD_SHA=$(sha256sum /tmp/many-2.img | cut -d' ' -f1)
QGOLD_SHA=$(sha256sum /tmp/many-3-gold.raw | cut -d' ' -f1)
for g in many-1 many-2; do
  start_domu "$g" xdj_disks=xvdb,xvdc xdj_loop=xvdb,xvdc:$ROUNDS xdj_unplug=xvdb,xvdc xdj_wait=400 xdj_hold=120
done
for g in many-1 many-2; do
  wait_console "$g" 'DOMU-READY' 240 >/dev/null || { show_console "$g"; fail "domU $g did not boot"; }
done
for i in 0 1 2 3; do
  t0=$(up)
  xdj connect "${G[$i]}" --path "/tmp/many-$i.img" --storage "${E[$i]}" --vdev "${V[$i]}" \
    || { daemon_log_since "$mark"; fail "connect ${G[$i]} ${V[$i]}"; }
  log "connect ${G[$i]} ${V[$i]} (${E[$i]}) returned in $(awk "BEGIN{print $(up)-$t0}")s"
done
LIST=$(xdj list); echo "$LIST"
n=$(echo "$LIST" | grep -cE ' xvd[bc] Connected ')
[ "$n" = 4 ] || { echo "CHECK four VBDs Connected at once: FAIL ($n)"; ok=0; }
declare -A LAST
for i in 0 1 2 3; do
  g=${G[$i]} v=${V[$i]}
  r=$(wait_console "$g" "^DOMU-LOOP-RESULT .* disk=$v " 400) || true
  d=$(tr -d '\r' < "$(console_of "$g")" | grep -a "^DOMU-DISK $v" | tail -1)
  echo "$g $v (${E[$i]}): $d / $r"
  [[ $d == "DOMU-DISK $v PASS marker=${MK[$i]} "* ]] || { echo "CHECK $g $v disk test and marker: FAIL"; ok=0; }
  [[ $r == "DOMU-LOOP-RESULT PASS rounds=$ROUNDS failed=0 disk=$v "* ]] || { echo "CHECK $g $v verified rounds: FAIL"; ok=0; }
  LAST[$i]=${r##*last=}
done
xdj list
for i in 0 1 2 3; do
  xdj disconnect "${G[$i]}" "${V[$i]}" || { echo "CHECK disconnect ${G[$i]} ${V[$i]}: FAIL"; ok=0; }
done
for g in many-1 many-2; do
  for v in xvdb xvdc; do
    u=$(wait_console "$g" "DOMU-UNPLUGGED $v" 120) || true
    [[ $u == *"DOMU-UNPLUGGED $v yes"* ]] || { echo "CHECK $g $v clean unplug: FAIL ($u)"; ok=0; }
  done
  wait_gone "$g" 90
  problems=$(domu_kernel_problems "$g")
  [ -z "$problems" ] || { echo "CHECK $g kernel log clean: FAIL"; echo "$problems"; ok=0; }
done
maps=$(gntdev_maps "$(daemon_pid)")
[ "${maps:-0}" = 0 ] || { echo "CHECK no gntdev mapping left: FAIL ($maps)"; ok=0; }
# what the engines left in the images: the last round of each file, mmap and qcow2 disk; the golds untouched
qemu-img check /tmp/many-3.img || { echo "CHECK qemu-img check of the qcow2 overlay: FAIL"; ok=0; }
qemu-img convert -O raw /tmp/many-3.img /tmp/many-3-flat.raw || { echo "CHECK qemu-img convert: FAIL"; ok=0; }
for i in 0 1 3; do
  off=${LAST[$i]%%:*} sum=${LAST[$i]#*:} img=/tmp/many-$i.img
  [ "$i" = 3 ] && img=/tmp/many-3-flat.raw
  got=$(dd if="$img" bs=1M skip="$off" count=1 2>/dev/null | md5sum | cut -d' ' -f1)
  echo "image $img (${E[$i]}) at ${off} MiB: $got, the domU's last round: $sum"
  [ -n "$sum" ] && [ "$got" = "$sum" ] || { echo "CHECK the ${E[$i]} image holds the last round: FAIL"; ok=0; }
done
sha=$(sha256sum /tmp/many-2.img | cut -d' ' -f1)
echo "cow gold image sha256 before=$GOLD_SHA after=$sha"
[ "$sha" = "$GOLD_SHA" ] || { echo "CHECK the cow disk's gold image unchanged: FAIL"; ok=0; }
sha=$(sha256sum /tmp/many-3-gold.raw | cut -d' ' -f1)
echo "qcow2 overlay's gold image sha256 before=$QGOLD_SHA after=$sha"
[ "$sha" = "$QGOLD_SHA" ] || { echo "CHECK the qcow2 overlay's gold image unchanged: FAIL"; ok=0; }
rm -f /tmp/many-3-flat.raw
xdj status
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -60; echo "----"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
