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
# Env: XDJ_LAB_DIR   work dir (default /var/tmp/xen-disk-java-lab): packages, boot files, runs/
#      XDJ_TIMEOUT   seconds for the whole boot (default 3000: a slow TCG host needs about 2300)
#      XDJ_SCENARIO_TIMEOUT  seconds per scenario inside dom0 (default 480; a scenario's own line
#                            "# xdj-lab: timeout SECONDS" overrides it: libvirt's, which boots three domains)
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
for s in "${SCENARIOS[@]}"; do
  [ -f "$HERE/scenarios/$s.sh" ] || { echo "no scenario '$s' (have: $(cd "$HERE/scenarios" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' '))"; exit 2; }
done
[ -x "$DIST/bin/xen-disk-java" ] || { echo "no distribution at $DIST: run 'mvn -B -DskipTests package' first"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, 9p export of /)"; exit 2; }

XDJ_LAB_DIR=$LAB "$HERE/lib/build.sh" || { echo "RESULT: FAIL (lab build)"; exit 2; }
say "lab ready in $LAB"

RUN=$LAB/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN/share"
ln -sfn "$RUN" "$LAB/runs/latest"
printf '%s\n' "${SCENARIOS[@]}" > "$RUN/share/scenarios"
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
say "booting Xen + dom0 (run dir $RUN; scenarios: ${SCENARIOS[*]})"
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
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -M pc -accel "$TCG" -cpu "$CPU" -smp 2 -m 4096 \
  -name "xen-disk-java-lab" -display none -vga none -nic none -no-reboot -monitor none \
  -pidfile "$RUN/qemu.pid" -serial stdio \
  -kernel "$LAB/boot/xen" -append "$XEN_CMDLINE" \
  -initrd "$LAB/boot/vmlinuz $DOM0_CMDLINE,$LAB/boot/dom0.cpio.gz" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$RUN/share",mount_tag=labshare,security_model=none,multidevs=remap \
  < /dev/null 2> "$RUN/qemu.stderr" | while IFS= read -r line; do
    line=${line//$'\r'/}
    printf '%7s %s\n' "$(el)" "$line" >> "$RUN/serial.log"
    case $line in
      *"SCENARIO "*|*DOMU-RESULT*|*"LAB: DOM0-READY"*|*"scenario "*" starts"*|*"RESULT "*|*"CHECK "*|*"FAILED"*|*"Kernel panic"*|*"Panic on CPU"*|*"timed out after"*)
        say "$line" ;;
    esac
  done
QRC=${PIPESTATUS[0]}
say "qemu exited rc=$QRC"

rc=0
for s in "${SCENARIOS[@]}"; do
  src=$(cat "$RUN/share/$s/rc" 2>/dev/null || echo none)
  if [ "$src" = 0 ]; then echo "SCENARIO $s PASS"; else echo "SCENARIO $s FAIL (rc=$src; $RUN/share/$s/out.log)"; rc=1; fi
done
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ] || ! grep -q 'LAB: LAB-DONE' "$RUN/serial.log"; then
  echo "the lab did not finish (qemu rc=$QRC, limit ${TIMEOUT}s); last lines of $RUN/serial.log:"
  tail -40 "$RUN/serial.log"
  [ "$QRC" = 124 ] && rc=124 || rc=1
fi
echo "total $(el)s; logs in $RUN (serial.log, share/<scenario>/out.log, share/logs/)"
exit $rc
