#!/bin/bash
# xdj-lab: opt-in (not in the default run: `tests/xen/run.sh bench`)
# xdj-lab: timeout 1500
# Scenario (issue "Real Xen" 5): throughput in a PV domU, our daemon vs kernel xen-blkback, same
# image (dom0 tmpfs), same boot. Each backend gets a fresh domU that runs the disk test, then
# BENCH_ROUNDS rounds of busybox `dd bs=1M oflag=direct` (write) and `dd bs=1M iflag=direct`
# (read) of BENCH_MIB MiB from 8 MiB on, timed with /proc/uptime (DOMU-BENCH lines). Kernel
# blkback serves a normal xl disk (backend/vbd, loop device on the image); ours serve
# backend/xen-disk-java, so both coexist. Speed is reported, never asserted: the scenario
# fails only when a figure is missing or a domU's I/O or kernel log is wrong.
# The summary is the mean of the warm rounds (after BENCH_WARMUP rounds: our JVM's JIT compiles the
# hot path and the mmap engine faults each page of the image in during the first ones), and round 1
# alone (cold) for each backend.
# QEMU's qdisk (xl backendtype=qdisk, Debian's qemu-system-xen) is the userspace peer: `qdisk`
# serves the raw image, `qdisk-qcow2` and our `qcow2` each a fresh qcow2 overlay over it (so both
# allocate in round 1), checked by qemu-img check afterwards.
# BENCH_PASSES=N repeats the whole list N times, interleaved (blkback, file, ..., blkback, file, ...):
# every pass is a fresh domU with a fresh disk connection per backend, as each VM start is, so
# round 1 of every pass is the first I/O of a new connection ("new conn." in the summary).
# dom0's CPU: Xen's count of Domain-0's CPU seconds (xl list) when the domU prints round 1 and when
# it prints its last round, over the GiB those rounds moved: every backend's work in dom0 (our
# daemon, QEMU's qdisk, blkback's kernel threads, their hypercalls) plus the harness's console
# polling (4 small processes a second, alike for all), so compare it between backends.
# Env: BENCH_MIB (default 64), BENCH_ROUNDS (default 6), BENCH_WARMUP (default 2), BENCH_PASSES (1),
#      BENCH_BACKENDS (default "blkback file mmap"; also qdisk, qdisk-qcow2, qcow2, cow),
#      BENCH_JFR=1: dump a Java Flight Recording of the daemon to bench/daemon.jfr at the end (start the
#      recording with XEN_DISK_JAVA_DAEMON_OPTS=-XX:StartFlightRecording=settings=profile).
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
MIB=${BENCH_MIB:-64}
ROUNDS=${BENCH_ROUNDS:-6}
WARMUP=${BENCH_WARMUP:-2}
PASSES=${BENCH_PASSES:-1}
IMG=/tmp/bench.img
rm -f "$IMG"; truncate -s 128M "$IMG"
MARKER="XDJ-BENCH-MARKER"
printf '%s' "$MARKER" | dd of="$IMG" conv=notrunc 2>/dev/null
log "image $IMG 128 MiB (tmpfs), $PASSES pass(es) of $ROUNDS rounds of $MIB MiB per backend"
# a CPU line from two dom0_cpu readings taken at rounds 1 and $ROUNDS
cpu_line() {
  [ -n "$2" ] && [ -n "$3" ] || { echo "CHECK $1: dom0 CPU not read: FAIL"; ok=0; return; }
  echo "CPU backend=$1 pass=$pass seconds=$(awk "BEGIN { print $3 - $2 }") GiB=$(awk "BEGIN { print ($ROUNDS - 1) * $MIB * 2 / 1024 }")" | tee -a bench.txt
}
modprobe xen-blkback || fail "modprobe xen-blkback"
ok=1
n=0
for pass in $(seq 1 "$PASSES"); do
for b in ${BENCH_BACKENDS:-blkback file mmap}; do
  n=$((n + 1)); guest=bench$n-$b
  target=$IMG
  case $b in
    qcow2|qdisk-qcow2)
      target=/tmp/bench-$guest.qcow2
      qemu-img create -q -f qcow2 -b "$IMG" -F raw "$target" || fail "qemu-img create $target" ;;
  esac
  case $b in
    blkback|qdisk|qdisk-qcow2)
      case $b in
        blkback) spec="format=raw,vdev=xvdb,access=rw,target=$target" ;;
        qdisk) spec="format=raw,vdev=xvdb,access=rw,backendtype=qdisk,target=$target" ;;
        *) spec="format=qcow2,vdev=xvdb,access=rw,backendtype=qdisk,target=$target" ;;
      esac
      DOMU_DISK=$spec start_domu "$guest" xdj_wait=60 xdj_hold=1 xdj_bench="$MIB" xdj_bench_rounds="$ROUNDS"
      RESULT=$(wait_console "$guest" 'DOMU-RESULT' 240) || true
      wait_console "$guest" "DOMU-BENCH round=1 " 300 >/dev/null || echo "$b: no first DOMU-BENCH line"
      cpu0=$(dom0_cpu)
      wait_console "$guest" "DOMU-BENCH round=$ROUNDS " 300 >/dev/null || echo "$b: no last DOMU-BENCH line"
      cpu_line "$b" "$cpu0" "$(dom0_cpu)"
      wait_gone "$guest" 60
      SEEN_MARKER=$(tr -d '\r' < "$(console_of "$guest")" | grep -a '^DOMU-MARKER' | tail -1 | cut -d' ' -f2) ;;
    *)
      DOMU_EXTRA="xdj_bench=$MIB xdj_bench_rounds=$ROUNDS" SERVE_FROM="DOMU-BENCH round=1 " \
        SERVE_UNTIL="DOMU-BENCH round=$ROUNDS " serve_domu "$guest" "$target" "$b" > "serve-$guest.log" 2>&1
      cpu_line "$b" "${SERVE_CPU_FROM:-}" "${SERVE_CPU_UNTIL:-}"
      grep -E '^DOMU-RESULT|^connected|^disconnected|dom0 ' "serve-$guest.log" ;;
  esac
  if [ "$target" != "$IMG" ]; then
    qemu-img check -q "$target" > "check-$guest.txt" 2>&1 \
      || { echo "CHECK $b: qemu-img check $target: FAIL"; cat "check-$guest.txt"; ok=0; }
    rm -f "$target"
  fi
  [[ $RESULT == *"DOMU-RESULT PASS"* ]] && [ "$SEEN_MARKER" = "$MARKER" ] \
    || { echo "CHECK $b: domU I/O: FAIL ($RESULT; marker '$SEEN_MARKER')"; ok=0; }
  problems=$(domu_kernel_problems "$guest")
  [ -z "$problems" ] || { echo "CHECK $b: domU kernel log clean: FAIL"; echo "$problems"; ok=0; }
  tr -d '\r' < "$(console_of "$guest")" | grep -a -E '^DOMU-QUEUE|^DOMU-DMESG.*blkfront: xvdb' | sed "s/^/$b: /"
  tr -d '\r' < "$(console_of "$guest")" | grep -a '^DOMU-BENCH' | sed "s/^DOMU-BENCH/BENCH backend=$b pass=$pass/" | tee -a bench.txt
  [ "$(grep -c "^BENCH backend=$b pass=$pass " bench.txt)" = "$ROUNDS" ] || { echo "CHECK $b: $ROUNDS bench rounds: FAIL"; ok=0; }
done
done
if [ "${BENCH_JFR:-0}" = 1 ]; then
  jcmd "$(daemon_pid)" JFR.dump filename="$PWD/daemon.jfr" > jfr.log 2>&1 || cat jfr.log
fi
# summary: mean of the warm rounds (after WARMUP; all of them when there are no more) of every pass,
# round 1 of pass 1 (cold: the first I/O after the daemon starts), round 1 of every pass (the first
# I/O of each new connection), dom0 CPU seconds per GiB over the rounds after the first
echo "---- summary (MB/s = 10^6 B/s; warm = mean of rounds $((WARMUP + 1))..$ROUNDS, cold = round 1 of pass 1, new conn. = round 1 of every pass) ----"
awk -v rounds="$ROUNDS" -v warmup="$WARMUP" '
  /^BENCH|^CPU/ { delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } b = f["backend"] }
  /^CPU/ { cs[b] += f["seconds"]; cg[b] += f["GiB"]; next }
  /^BENCH/ {
    if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
    if (f["round"] > warmup || rounds <= warmup) { w[b] += f["write_MBps"]; r[b] += f["read_MBps"]; c[b]++ }
    if (f["round"] == 1 && f["pass"] == 1) { cw[b] = f["write_MBps"]; cr[b] = f["read_MBps"] }
    if (f["round"] == 1) { nw[b] += f["write_MBps"]; nr[b] += f["read_MBps"]; nc[b]++ }
  }
  function x(v, base) { return base > 0 ? sprintf("%.2f", v / base) : "-" }
  END {
    for (i = 1; i <= nb; i++) {
      b = order[i]; if (!c[b]) continue
      W[b] = w[b] / c[b]; R[b] = r[b] / c[b]; NEWW[b] = nw[b] / nc[b]; NEWR[b] = nr[b] / nc[b]
      CPU[b] = cg[b] > 0 ? cs[b] / cg[b] : 0
    }
    for (i = 1; i <= nb; i++) {
      b = order[i]; if (!c[b]) continue
      line = sprintf("SUMMARY backend=%s write_MBps=%.1f read_MBps=%.1f cold_write_MBps=%.1f cold_read_MBps=%.1f newconn_write_MBps=%.1f newconn_read_MBps=%.1f dom0_cpu_s_per_GiB=%.2f", b, W[b], R[b], cw[b], cr[b], NEWW[b], NEWR[b], CPU[b])
      if (c["blkback"] && b != "blkback")
        line = line " write_x_blkback=" x(W[b], W["blkback"]) " read_x_blkback=" x(R[b], R["blkback"]) " cold_write_x=" x(cw[b], cw["blkback"]) " cold_read_x=" x(cr[b], cr["blkback"]) " newconn_write_x=" x(NEWW[b], NEWW["blkback"]) " newconn_read_x=" x(NEWR[b], NEWR["blkback"]) " cpu_x_blkback=" x(CPU[b], CPU["blkback"])
      # the userspace peer serving the same format: qdisk-qcow2 for qcow2, qdisk for the raw engines
      q = (b == "qcow2") ? "qdisk-qcow2" : "qdisk"
      if (c[q] && b != q && b !~ /^(blkback|qdisk)/)
        line = line " write_x_" q "=" x(W[b], W[q]) " read_x_" q "=" x(R[b], R[q]) " cold_write_x_" q "=" x(cw[b], cw[q]) " cold_read_x_" q "=" x(cr[b], cr[q]) " cpu_x_" q "=" x(CPU[b], CPU[q])
      print line
    }
}' bench.txt | tee summary.txt
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
