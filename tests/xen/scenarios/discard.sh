#!/bin/bash
# Scenario (issue 16, discard): Linux blkfront's discard through our daemon. One PV domU, two
# disks hot-plugged by `connect`: xvdb (`file` engine), where the domU writes 8 MiB at 16 MiB and
# runs `blkdiscard` on the 4 MiB at 18 MiB; xvdc (`mmap`), where it makes an ext2 filesystem,
# writes a 16 MiB file, removes it and runs `fstrim`. Checks: blkfront saw feature-discard (the
# queue's discard_granularity), the discarded range reads zeros in the domU and in the image
# while both ends keep the data, the images' allocated blocks in dom0 shrank (the file's
# blkdiscarded 4 MiB and the removed 16 MiB are not allocated), `list` counts discards, no
# blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GUEST=domu-discard
ok=1
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
declare -A MK
for v in xvdb xvdc; do
  img=/tmp/discard-$v.img
  rm -f "$img"; truncate -s 64M "$img"
  MK[$v]="XDJ-DISCARD-$v"
  printf '%s' "${MK[$v]}" | dd of="$img" bs=512 count=1 conv=notrunc 2>/dev/null
done
start_domu "$GUEST" xdj_disks=xvdb,xvdc xdj_discard=xvdb xdj_fstrim=xvdc xdj_unplug=xvdb,xvdc xdj_wait=300 xdj_hold=120
wait_console "$GUEST" 'DOMU-READY' 240 >/dev/null || { show_console "$GUEST"; fail "domU $GUEST did not boot"; }
D=$(xl domid "$GUEST")
xdj connect "$GUEST" --path /tmp/discard-xvdb.img --storage file --vdev xvdb || { daemon_log_since "$mark"; fail "connect xvdb"; }
xdj connect "$GUEST" --path /tmp/discard-xvdc.img --storage mmap --vdev xvdc || { daemon_log_since "$mark"; fail "connect xvdc"; }
BE=/local/domain/0/backend/xen-disk-java/$D
for v in 51728 51744; do
  echo "backend $v: feature-discard=$(xenstore-read "$BE/$v/feature-discard" 2>&1)" \
    "discard-granularity=$(xenstore-read "$BE/$v/discard-granularity" 2>&1)" \
    "discard-alignment=$(xenstore-read "$BE/$v/discard-alignment" 2>&1)"
done
DISC=$(wait_console "$GUEST" '^DOMU-DISCARD xvdb ' 300) || true
TRIM=$(wait_console "$GUEST" '^DOMU-FSTRIM xvdc ' 300) || true
echo "$DISC"; echo "$TRIM"
LIST=$(xdj list); echo "$LIST"
ALLOC_B=$(( $(stat -c %b /tmp/discard-xvdb.img) * 512 ))
ALLOC_C=$(( $(stat -c %b /tmp/discard-xvdc.img) * 512 ))
log "allocated in dom0: xvdb image $ALLOC_B bytes, xvdc image $ALLOC_C bytes (of 64 MiB each)"
for v in xvdb xvdc; do
  xdj disconnect "$GUEST" "$v" || { echo "CHECK disconnect $v: FAIL"; ok=0; }
done
for v in xvdb xvdc; do
  u=$(wait_console "$GUEST" "^DOMU-UNPLUGGED $v " 150) || true
  [[ $u == "DOMU-UNPLUGGED $v yes"* ]] || { echo "CHECK $v unplugged: FAIL ($u)"; ok=0; }
done
show_console "$GUEST" 40
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -40; echo "----"

for v in xvdb xvdc; do
  d=$(tr -d '\r' < "$(console_of "$GUEST")" | grep -a "^DOMU-DISK $v" | tail -1)
  [[ $d == "DOMU-DISK $v PASS marker=${MK[$v]} "* ]] || { echo "CHECK $v disk test and marker: FAIL ($d)"; ok=0; }
done
[[ $DISC == "DOMU-DISCARD xvdb PASS zeros=yes kept=yes granularity=4096 "* ]] \
  || { echo "CHECK domU: blkdiscard range reads zeros, ends kept, granularity 4096: FAIL"; ok=0; }
[[ $TRIM == "DOMU-FSTRIM xvdc /mnt/xvdc: "*" bytes trimmed"* ]] || { echo "CHECK domU: fstrim trimmed: FAIL"; ok=0; }
cmp -s -n $((4 << 20)) -i $((18 << 20)):0 /tmp/discard-xvdb.img /dev/zero \
  || { echo "CHECK the xvdb image holds zeros at 18 MiB + 4 MiB: FAIL"; ok=0; }
cmp -s -n $((2 << 20)) -i $((16 << 20)):0 /tmp/discard-xvdb.img /dev/zero \
  && { echo "CHECK the xvdb image keeps the data at 16 MiB: FAIL (zeros)"; ok=0; }
# written: the disk test's 4 MiB at 1 MiB and 8 MiB at 16 MiB, of which 4 MiB discarded: 8 MiB left
[ "$ALLOC_B" -le $((9 << 20)) ] || { echo "CHECK the xvdb image's blocks shrank to about 8 MiB: FAIL ($ALLOC_B)"; ok=0; }
# the removed 16 MiB file (and what else is free) was trimmed: far less than 16 MiB stays allocated
[ "$ALLOC_C" -le $((10 << 20)) ] || { echo "CHECK the xvdc image's blocks shrank after fstrim: FAIL ($ALLOC_C)"; ok=0; }
n=$(echo "$LIST" | grep " xvdb " | grep -o 'discards=[0-9]*')
[ "$n" = discards=1 ] || { echo "CHECK list counts the blkdiscard (1 discard): FAIL ($n)"; ok=0; }
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
