#!/bin/bash
# Scenario (issue 13, 7): a power cut. restart.sh kills only the daemon, and dom0's page cache
# keeps what the daemon wrote, so it passes even if FLUSH does nothing; here the whole machine
# goes. The images live on an ext4 on dom0's virtio disk (run.sh attaches a file of the host's
# disk with the serial xdj-powercut). One PV domU gets two disks of ours from xl, xvdb (engine
# file) and xvdc (engine mmap); on each it writes with O_DIRECT and without fsync at three
# offsets, then one fsync (a FLUSH), and prints what was flushed. dom0 writes that down in
# /lab/powercut/flushed and prints XDJ-POWERCUT-NOW; run.sh kills qemu with SIGKILL there, then
# boots the lab again with XDJ_POWERCUT_PHASE=check, and this script, in that boot, mounts the
# ext4 and checks every flushed range (and the marker dom0 wrote first) in both images.
# The run order puts it last: the first phase ends the boot.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
MNT=/mnt/powercut
GUEST=domu-powercut
ok=1

# the virtio disk run.sh attached (its serial tells it from any other)
powercut_disk() {
  local b i
  modprobe virtio_blk && modprobe ext4 || fail "modprobe virtio_blk ext4"
  for ((i = 0; i < 40; i++)); do
    for b in /sys/block/vd*; do
      [ "$(cat "$b/serial" 2>/dev/null)" = xdj-powercut ] && { echo "/dev/${b##*/}"; return 0; }
    done
    sleep 0.25
  done
  fail "no virtio disk with serial xdj-powercut (run.sh attaches it when powercut is among the scenarios)"
}

if [ "${XDJ_POWERCUT_PHASE:-}" = check ]; then
  DEV=$(powercut_disk)
  [ -s flushed ] || fail "no record of the first phase (flushed)"
  mkdir -p "$MNT"
  # the journal replay of a file system that lost its machine is part of what is tested
  mount -t ext4 "$DEV" "$MNT" || fail "mount of the ext4 on $DEV after the power cut"
  dmesg | grep -E 'EXT4-fs \(' | tail -3 | sed 's/^/dom0 kernel: /'
  while read -r what img a b c; do
    case $what in
      marker)
        got=$(head -c "${#a}" "$MNT/$img")
        if [ "$got" = "$a" ]; then echo "CHECK $img: the marker dom0 wrote and synced before: ok"
        else echo "CHECK $img: the marker dom0 wrote and synced before: FAIL (found '$got')"; ok=0; fi ;;
      before) ;;
      range)
        got=$(dd if="$MNT/$img" bs=4096 skip=$((a / 4096)) count=$((b / 4096)) 2>/dev/null | md5sum | cut -d' ' -f1)
        if [ "$got" = "$c" ]; then echo "CHECK $img bytes $a+$b flushed: ok"
        else echo "CHECK $img bytes $a+$b flushed: FAIL (md5 $got, the domU wrote $c)"; ok=0; fi ;;
    esac
  done < flushed
  # a lost write: is the image as it was before the domU wrote at all?
  while read -r what img sum; do
    [ "$what" = before ] || continue
    now=$(md5sum < "$MNT/$img" | cut -d' ' -f1)
    [ "$now" = "$sum" ] && echo "$img is byte for byte as it was before the domU wrote: every write to it was lost"
  done < flushed
  umount "$MNT"
  [ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
  echo "RESULT FAIL"; exit 1
fi

DEV=$(powercut_disk)
log "power-cut disk $DEV: $(($(cat "/sys/block/${DEV#/dev/}/size") / 2048)) MiB"
# no lazy init: no writes of its own to the disk in the background
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 $DEV"
mkdir -p "$MNT"
mount -t ext4 "$DEV" "$MNT" || fail "mount $DEV"
: > flushed
for e in file mmap; do
  m=$(make_image "$MNT/$e.img" 64)
  echo "marker $e.img $m" >> flushed
done
sync
log "ext4 and both images ready"
for e in file mmap; do echo "before $e.img $(md5sum < "$MNT/$e.img" | cut -d' ' -f1)" >> flushed; done
# Dirty pages of dom0 are written back only when something asks (a flush, a sync). Left to
# itself the kernel writes back, every 5 s, what is older than 30 s; the cut comes 40 to 60 s
# after the domU's writes (a JVM start for `list` among them), and a flush that did nothing passed.
sysctl -q -w vm.dirty_writeback_centisecs=0 vm.dirty_expire_centisecs=360000
log "vm.dirty_writeback_centisecs=$(sysctl -n vm.dirty_writeback_centisecs) vm.dirty_expire_centisecs=$(sysctl -n vm.dirty_expire_centisecs) dirty_background_ratio=$(sysctl -n vm.dirty_background_ratio) dirty_ratio=$(sysctl -n vm.dirty_ratio)"
install_hotplug_script
start_daemon 180 || fail "the daemon does not start on real Xen"
mark=$(daemon_log_mark)
DOMU_DISKS="'vdev=xvdb,access=rw,script=xen-disk-java,target=file:$MNT/file.img', 'vdev=xvdc,access=rw,script=xen-disk-java,target=mmap:$MNT/mmap.img'" \
  start_domu "$GUEST" xdj_disks=xvdb,xvdc xdj_powercut=xvdb,xvdc xdj_stay=1 xdj_wait=120
wait_line "$GUEST" "DOMU-STAYING" 300 >/dev/null || { show_console "$GUEST"; daemon_log_since "$mark"; fail "the domU did not get through its writes"; }
for d in xvdb:file xvdc:mmap; do
  n=${d%%:*} e=${d#*:}
  R=$(wait_line "$GUEST" "DOMU-DISK $n " 1)
  P=$(wait_line "$GUEST" "DOMU-POWERCUT $n " 1)
  echo "$R"; echo "$P"
  m=$(awk -v i="$e.img" '$1 == "marker" && $2 == i {print $3}' flushed)
  [[ $R == *"DOMU-DISK $n PASS marker=$m "* ]] || { echo "CHECK $n ($e) at boot: FAIL ($R)"; ok=0; }
  [[ $P == *"DOMU-POWERCUT $n flushed "* ]] || { echo "CHECK $n ($e) writes and flush: FAIL ($P)"; ok=0; }
  # the boot test's 4 MiB at 1 MiB, written with fsync, is flushed data too
  w=$(sed -n 's/.* written=\([0-9a-f]*\).*/\1/p' <<<"$R")
  [ -n "$w" ] && echo "range $e.img 1048576 4194304 $w" >> flushed
  for r in $(sed -n 's/.* flushed \(.*\) [0-9.]*s$/\1/p' <<<"$P"); do
    IFS=: read -r a b c <<<"$r"
    echo "range $e.img $a $b $c" >> flushed
  done
done
LIST=$(xdj list)
echo "$LIST"
# the domU prints its kernel log after DOMU-STAYING: read only now, a JVM start later
tr -d '\r' < "$(console_of "$GUEST")" | grep -E '^DOMU-DMESG .*blkfront: xvd[bc]:' || true
# what blkfront sent is what the daemon answered: a FLUSH on each disk
for v in 51728 51744; do
  grep "/$v " <<<"$LIST" | grep -qE ' flushes=[1-9]' || { echo "CHECK the daemon answered FLUSH on vbd $v: FAIL"; ok=0; }
done
problems=$(domu_kernel_problems "$GUEST")
[ -z "$problems" ] || { echo "CHECK domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
[ $ok = 1 ] || { show_console "$GUEST" 40; daemon_log_since "$mark"; echo "RESULT FAIL"; exit 1; }
log "$(grep -c '^range' flushed) flushed ranges recorded; cutting the power"
show_console "$GUEST" 30
echo "---- daemon log ----"; daemon_log_since "$mark"; echo "----"
# the boot ends without stage 2's last steps: the logs go to the host now
mkdir -p /lab/logs
cp -r /var/log/xen /lab/logs/xen 2>/dev/null
cp -r /var/log/xen-disk-java /lab/logs/xen-disk-java 2>/dev/null
xenstore-ls -f > /lab/logs/xenstore-final.txt 2>&1
echo XDJ-POWERCUT-NOW
sleep 120
fail "still running 120 s after XDJ-POWERCUT-NOW: only run.sh cuts the power"
