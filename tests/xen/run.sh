#!/bin/bash
# The project's real-Xen harness: boots Debian's Xen 4.17 and a Debian dom0 under
# qemu-system-x86_64 (TCG), dom0 running this host's userland read-only over 9p, so
# the freshly built distribution (src/target/xen-disk-java, from `mvn package`) and
# the host's java are used in dom0 as they are. Runs scenarios (tests/xen/scenarios/
# NAME.sh) one after the other in one boot, each starting its own PV domU.
#
#   tests/xen/run.sh [SCENARIO...]        default: every scenario but the opt-in ones (a line
#                                         "# xdj-lab: opt-in" in the script, e.g. bench)
#
# Prints "SCENARIO name PASS|FAIL" per scenario; exit 0 when all pass, 1 when one
# fails, 2 when the lab cannot be built, 124 on a hang (with the serial log's tail).
# powercut runs last whatever the order given: its first phase ends the boot (this script kills
# qemu with SIGKILL when dom0 prints XDJ-POWERCUT-NOW), and a second, short boot on the same
# virtio disk (a file in the run dir) runs its check phase (run dir: check/, serial-check.log).
# Env: XDJ_LAB_DIR   work dir (default /var/tmp/xen-disk-java-lab): packages, boot files, runs/
#      XDJ_TIMEOUT   seconds for the whole boot (default 3000: a slow TCG host needs about 2300)
#      XDJ_SCENARIO_TIMEOUT  seconds per scenario inside dom0 (default 480; a scenario's own line
#                            "# xdj-lab: timeout SECONDS" overrides it: libvirt's, whose domain boots twice)
#      XDJ_DOM0_VCPUS  dom0's vCPUs (default 1: see below)
#      XDJ_CPU, XDJ_TCG  qemu -cpu and -accel (defaults Westmere and tcg,thread=multi: see below)
#      XDJ_DIST      the distribution to test (default: src/target/xen-disk-java of this clone)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=${XDJ_LAB_DIR:-/var/tmp/xen-disk-java-lab}
DIST=${XDJ_DIST:-$ROOT/src/target/xen-disk-java}
TIMEOUT=${XDJ_TIMEOUT:-3000}
T0=$(date +%s.%N)
el() { awk -v t0="$T0" -v t="$(date +%s.%N)" 'BEGIN{printf "%.1f", t-t0}'; }
say() { echo "[xen-lab $(el)s] $*"; }

if [ $# -gt 0 ]; then SCENARIOS=("$@"); else
  SCENARIOS=(); for f in "$HERE"/scenarios/*.sh; do
    grep -q '^# xdj-lab: opt-in' "$f" || SCENARIOS+=("$(basename "$f" .sh)")
  done
fi
POWERCUT=
for s in "${SCENARIOS[@]}"; do [ "$s" = powercut ] && POWERCUT=1; done
if [ -n "$POWERCUT" ]; then
  rest=(); for s in "${SCENARIOS[@]}"; do [ "$s" = powercut ] || rest+=("$s"); done
  SCENARIOS=("${rest[@]}" powercut)
fi
for s in "${SCENARIOS[@]}"; do
  [ -f "$HERE/scenarios/$s.sh" ] || { echo "no scenario '$s' (have: $(cd "$HERE/scenarios" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' '))"; exit 2; }
done
if [ ! -x "$DIST/bin/xen-disk-java" ]; then
  # a fresh clone: build the distribution the lab serves from
  echo "no distribution at $DIST yet: mvn -B -q -DskipTests package"
  (cd "$ROOT" && mvn -B -q -DskipTests package) || { echo "the build failed; fix it and run again"; exit 2; }
fi
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, 9p export of /)"; exit 2; }

XDJ_LAB_DIR=$LAB "$HERE/lib/build.sh" || { echo "RESULT: FAIL (lab build)"; exit 2; }
say "lab ready in $LAB"

RUN=$LAB/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN/share"
ln -sfn "$RUN" "$LAB/runs/latest"
printf '%s\n' "${SCENARIOS[@]}" > "$RUN/share/scenarios"
DRIVE=()
if [ -n "$POWERCUT" ]; then
  # dom0's disk for the power cut: a file on the host's disk, so that what dom0 wrote to it
  # before the kill is there for the second boot, and only that
  truncate -s 256M "$RUN/powercut.raw"
  DRIVE=(-drive "file=$RUN/powercut.raw,format=raw,if=none,id=powercut,cache=writeback"
         -device virtio-blk-pci,drive=powercut,serial=xdj-powercut)
fi
cat > "$RUN/share/env" <<EOV
XDJ_HARNESS=$HERE
XDJ_DIST=$DIST
XDJ_BOOT=$LAB/boot
XDJ_KVER=$(cat "$LAB/boot/kver")
XDJ_SCENARIO_TIMEOUT=${XDJ_SCENARIO_TIMEOUT:-480}
EOV
# scenario knobs (BENCH_*) and JVM options (XEN_DISK_JAVA_OPTS, XEN_DISK_JAVA_DAEMON_OPTS) reach dom0 as they are
env | grep -E '^(BENCH_[A-Z_]+|XEN_DISK_JAVA_OPTS|XEN_DISK_JAVA_DAEMON_OPTS|RESTART_ROUNDS)=' | sed "s/=\(.*\)/='\1'/" >> "$RUN/share/env" || true

QEMU_PID=
cleanup() {
  # only the qemu this run started: its pid file, and its command line naming this run
  local q
  q=$(cat "$RUN/qemu.pid" 2>/dev/null) || return 0
  if [ -n "$q" ] && grep -qa "$RUN" "/proc/$q/cmdline" 2>/dev/null; then
    kill "$q" 2>/dev/null; sleep 1; kill -9 "$q" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

XEN_CMDLINE="console=com1 com1=115200,8n1 dom0_mem=2048M,max:2048M dom0_max_vcpus=${XDJ_DOM0_VCPUS:-1} loglvl=all guest_loglvl=all"
DOM0_CMDLINE="console=hvc0 earlyprintk=xen loglevel=6 xdj_stage2=$HERE/lib/dom0-stage2.sh xdj_modules=$LAB/root"
# -cpu Westmere: a named model whose features libvirt knows. With -cpu max, libvirtd's libxl driver
# fails to start ("Cannot find suitable CPU model for given data" decoding Xen's host features),
# and SMAP (which max has) makes the PV dom0 fault on its first instructions under TCG.
# dom0_max_vcpus=1: with 2 dom0 vCPUs (on -cpu max), multi-threaded processes in dom0 (every JVM)
# died of memory corruption within a minute or two ("malloc(): unsorted double linked list
# corrupted", SIGSEGV and guarantee failures in the JIT), before and after our native code ran:
# cross-vCPU TLB coherence of a PV guest under TCG is the suspect. The domU gets the second CPU.
# thread=multi: each emulated CPU on its own host thread, so dom0 (the backends) and the domU run
# at the same time, as on hardware; one dom0 vCPU has been stable with it.
CPU=${XDJ_CPU:-Westmere}
TCG=${XDJ_TCG:-tcg,thread=multi}
# SIGKILL: the machine goes at once, and whatever dom0 held in memory (its page cache) with it
power_cut() {
  local q
  [ -e "$RUN/powercut.cut" ] && return 0
  q=$(cat "$RUN/qemu.pid" 2>/dev/null)
  if [ -n "$q" ] && grep -qa "$RUN" "/proc/$q/cmdline" 2>/dev/null && kill -9 "$q"; then
    date +%s.%N > "$RUN/powercut.cut"
    say "power cut: qemu (pid $q) killed with SIGKILL"
  fi
}
# $1 = dom0's /lab (9p), $2 = serial log, $3 = seconds; returns qemu's status (124: the limit)
boot_lab() {
  local share=$1 serial=$2 limit=$3
  timeout -k 10 "$limit" qemu-system-x86_64 -M pc -accel "$TCG" -cpu "$CPU" -smp 2 -m 4096 \
    -name "xen-disk-java-lab" -display none -vga none -nic none -no-reboot -monitor none \
    -pidfile "$RUN/qemu.pid" -serial stdio \
    -kernel "$LAB/boot/xen" -append "$XEN_CMDLINE" \
    -initrd "$LAB/boot/vmlinuz $DOM0_CMDLINE,$LAB/boot/dom0.cpio.gz" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$share",mount_tag=labshare,security_model=none,multidevs=remap \
    "${DRIVE[@]}" \
    < /dev/null 2>> "$RUN/qemu.stderr" | while IFS= read -r line; do
      line=${line//$'\r'/}
      printf '%7s %s\n' "$(el)" "$line" >> "$serial"
      case $line in
        *"[powercut] XDJ-POWERCUT-NOW"*)
          say "$line"; power_cut ;;
        *"SCENARIO "*|*DOMU-RESULT*|*"LAB: DOM0-READY"*|*"scenario "*" starts"*|*"RESULT "*|*"CHECK "*|*"FAILED"*|*"Kernel panic"*|*"Panic on CPU"*|*"timed out after"*)
          say "$line" ;;
      esac
    done
  return "${PIPESTATUS[0]}"
}
say "booting Xen + dom0 (run dir $RUN; scenarios: ${SCENARIOS[*]})"
# stderr: bash's "Killed" notice for the power cut's qemu goes with qemu's own
boot_lab "$RUN/share" "$RUN/serial.log" "$TIMEOUT" 2>> "$RUN/qemu.stderr"
QRC=$?
CUT=; [ -e "$RUN/powercut.cut" ] && CUT=1
say "qemu exited rc=$QRC${CUT:+ (the power cut)}"
QRC2=
if [ -n "$CUT" ]; then
  # the second boot: only powercut's check phase, with the first phase's record
  mkdir -p "$RUN/check/powercut"
  echo powercut > "$RUN/check/scenarios"
  { cat "$RUN/share/env"; echo XDJ_POWERCUT_PHASE=check; } > "$RUN/check/env"
  cp "$RUN/share/powercut/flushed" "$RUN/check/powercut/" 2>/dev/null
  say "booting Xen + dom0 again on the same disk: powercut's check phase"
  # it only mounts and reads: about 50 s
  LIMIT2=$((TIMEOUT < 900 ? TIMEOUT : 900))
  boot_lab "$RUN/check" "$RUN/serial-check.log" "$LIMIT2" 2>> "$RUN/qemu.stderr"
  QRC2=$?
  say "qemu exited rc=$QRC2"
fi

rc=0
for s in "${SCENARIOS[@]}"; do
  src=$(cat "$RUN/share/$s/rc" 2>/dev/null || echo none)
  log=$RUN/share/$s/out.log
  if [ "$s" = powercut ] && [ -n "$CUT" ]; then
    src=$(cat "$RUN/check/$s/rc" 2>/dev/null || echo none); log="$log, $RUN/check/$s/out.log"
  fi
  if [ "$src" = 0 ]; then echo "SCENARIO $s PASS"; else echo "SCENARIO $s FAIL (rc=$src; $log)"; rc=1; fi
done
# $1 = qemu's status, $2 = serial log, $3 = its limit: the lab hung or did not get to its end
unfinished() {
  [ "$1" = 124 ] || [ "$1" = 137 ] || ! grep -q 'LAB: LAB-DONE' "$2" || return 1
  echo "the lab did not finish (qemu rc=$1, limit $3s); last lines of $2:"
  tail -40 "$2"
  [ "$1" = 124 ] && rc=124 || { [ "$rc" = 124 ] || rc=1; }
}
[ -n "$CUT" ] || unfinished "$QRC" "$RUN/serial.log" "$TIMEOUT"
[ -z "$QRC2" ] || unfinished "$QRC2" "$RUN/serial-check.log" "$LIMIT2"
# 256 MiB a run otherwise; a failed run keeps it for a look
[ "$rc" = 0 ] && [ -n "$CUT" ] && rm -f "$RUN/powercut.raw"
echo "total $(el)s; logs in $RUN (serial.log, share/<scenario>/out.log, share/logs/)"
exit $rc
