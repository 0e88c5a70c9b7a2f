#!/bin/bash
# Scenario (issue 16, multi-page rings and 1 MiB requests), two PV domUs at once, each with a
# `file` disk hot-plugged by `connect` (their /init passes the kernel command line's
# xen_blkfront.* to insmod, as modprobe would):
#   domu-rings, booted with xen_blkfront.max_ring_page_order=4: the daemon offers
#     max-ring-page-order 4, so blkfront sets up a 16-page ring (512 requests): the frontend's
#     ring-page-order is 4 with ring-ref0..15 in xenstore;
#   domu-big, booted with xen_blkfront.max_indirect_segments=256: the daemon offers 256 segments,
#     so blkfront's queue takes 1 MiB requests (max_hw_sectors_kb 1024), which its 1 MiB O_DIRECT
#     dd blocks then are. (Both at once in one domU would need 512 MiB of blkfront's persistent
#     pages: 512 requests x 256 pages; a 256 MiB domU dies of it.)
# Each runs the disk test and 8 verified write+read rounds with fsync, then its disk is unplugged
# cleanly; each image holds its last round; no blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
ROUNDS=8
G=(domu-rings domu-big)
ARGS=(xen_blkfront.max_ring_page_order=4 xen_blkfront.max_indirect_segments=256)
ok=1
declare -A MK
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
for i in 0 1; do
  MK[$i]=$(make_image "/tmp/rings-$i.img" 32)
  start_domu "${G[$i]}" "${ARGS[$i]}" xdj_disks=xvdb xdj_loop=xvdb:$ROUNDS xdj_unplug=xvdb xdj_wait=300 xdj_hold=120
done
declare -A ORDER REFS OFFER SEGS
for i in 0 1; do
  g=${G[$i]}
  wait_console "$g" 'DOMU-READY' 240 >/dev/null || { show_console "$g"; fail "domU $g did not boot"; }
  echo "$g: $(tr -d '\r' < "$(console_of "$g")" | grep -a '^DOMU-BLKFRONT' | tail -1)"
  xdj connect "$g" --path "/tmp/rings-$i.img" --storage file --vdev xvdb || { daemon_log_since "$mark"; fail "connect $g"; }
  D=$(xl domid "$g")
  FE=/local/domain/$D/device/vbd/51728
  BE=/local/domain/0/backend/xen-disk-java/$D/51728
  OFFER[$i]=$(xenstore-read "$BE/max-ring-page-order" 2>&1)
  SEGS[$i]=$(xenstore-read "$BE/feature-max-indirect-segments" 2>&1)
  ORDER[$i]=$(xenstore-read "$FE/ring-page-order" 2>/dev/null || echo 0)
  REFS[$i]=$(xenstore-list "$FE" | grep -c '^ring-ref[0-9]')
  log "$g: backend offers max-ring-page-order=${OFFER[$i]}, feature-max-indirect-segments=${SEGS[$i]};" \
    "frontend ring-page-order=${ORDER[$i]} with ${REFS[$i]} ring-refN nodes"
done
declare -A LAST
for i in 0 1; do
  g=${G[$i]}
  R=$(wait_console "$g" '^DOMU-LOOP-RESULT .* disk=xvdb ' 400) || true
  DT=$(tr -d '\r' < "$(console_of "$g")" | grep -a '^DOMU-DISK xvdb' | tail -1)
  Q=$(tr -d '\r' < "$(console_of "$g")" | grep -a '^DOMU-QUEUE xvdb' | tail -1)
  echo "$g: $DT"; echo "$g: $Q"; echo "$g: $R"
  [[ $DT == "DOMU-DISK xvdb PASS marker=${MK[$i]} "* ]] || { echo "CHECK $g disk test and marker: FAIL"; ok=0; }
  [[ $R == "DOMU-LOOP-RESULT PASS rounds=$ROUNDS failed=0 disk=xvdb "* ]] || { echo "CHECK $g verified rounds: FAIL"; ok=0; }
  [ "${OFFER[$i]}" = 4 ] && [ "${SEGS[$i]}" = 256 ] || { echo "CHECK $g backend offers order 4 and 256 segments: FAIL"; ok=0; }
  if [ $i = 0 ]; then
    [ "${ORDER[$i]}" = 4 ] && [ "${REFS[$i]}" = 16 ] \
      || { echo "CHECK $g a 16-page ring (ring-page-order 4, ring-ref0..15): FAIL (${ORDER[$i]}, ${REFS[$i]})"; ok=0; }
  else
    [[ $Q == "DOMU-QUEUE xvdb max_hw_sectors_kb=1024 "* ]] || { echo "CHECK $g blkfront takes 1 MiB requests: FAIL ($Q)"; ok=0; }
  fi
  LAST[$i]=${R##*last=}
done
LIST=$(xdj list); echo "$LIST"
for i in 0 1; do
  xdj disconnect "${G[$i]}" xvdb || { echo "CHECK disconnect ${G[$i]}: FAIL"; ok=0; }
done
for i in 0 1; do
  g=${G[$i]}
  U=$(wait_console "$g" '^DOMU-UNPLUGGED xvdb ' 150) || true
  echo "$g: $U"
  [[ $U == "DOMU-UNPLUGGED xvdb yes"* ]] || { echo "CHECK $g unplugged: FAIL"; ok=0; }
  o=${LAST[$i]%%:*} want=${LAST[$i]#*:}
  got=$(dd if="/tmp/rings-$i.img" bs=1M skip="$o" count=1 2>/dev/null | md5sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "CHECK $g's image holds the last round at ${o} MiB: FAIL ($got, want $want)"; ok=0; }
  problems=$(domu_kernel_problems "$g")
  [ -z "$problems" ] || { echo "CHECK $g kernel log clean: FAIL"; echo "$problems"; ok=0; }
  show_console "$g" 12
done
echo "---- daemon log ----"; daemon_log_since "$mark" | tail -30; echo "----"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
