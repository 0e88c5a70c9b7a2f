#!/bin/bash
# xdj-lab: opt-in (not in the default run: `tests/xen/run.sh bench`)
# xdj-lab: timeout 5400
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
# fio (BENCH_FIO=S, default 5; 0 = none): after the dd rounds each domU runs Debian's fio (the bench
# initramfs, domU-fio.cpio.gz, 512 MiB domUs) over the same MiB: 4 KiB random read and write at QD1
# and QD32, 128 KiB sequential read and write at QD8, S seconds each (FIO lines; the summary gives
# the median IOPS over the passes, its spread, and the ratios of the medians). dom0's CPU window then
# runs to the end of fio, and its GiB count fio's bytes too.
# Whole-boot time: about a minute per backend and pass plus 6 * S s; more than 45 minutes needs
# XDJ_TIMEOUT (run.sh) above its default of 3000 s.
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
FIO=${BENCH_FIO:-5}
END="DOMU-BENCH round=$ROUNDS "
FIO_ARG=
if [ "$FIO" != 0 ]; then
  [ -s "$XDJ_BOOT/domU-fio.cpio.gz" ] || fail "no $XDJ_BOOT/domU-fio.cpio.gz (tests/xen/lib/build.sh makes it)"
  DOMU_RAMDISK=$XDJ_BOOT/domU-fio.cpio.gz DOMU_MEMORY=512
  END="DOMU-FIO-END" FIO_ARG="xdj_fio=$FIO"
fi
FIO_JOBS=6
IMG=/tmp/bench.img
rm -f "$IMG"; truncate -s 128M "$IMG"
MARKER="XDJ-BENCH-MARKER"
printf '%s' "$MARKER" | dd of="$IMG" conv=notrunc 2>/dev/null
log "image $IMG 128 MiB (tmpfs), $PASSES pass(es) of $ROUNDS rounds of $MIB MiB per backend"
# a CPU line from two dom0_cpu readings taken at round 1 and at the end ($END), over the GiB moved
# between them: the dd rounds after the first and fio's bytes (its FIO lines of this pass, already in
# bench.txt)
cpu_line() {
  [ -n "$2" ] && [ -n "$3" ] || { echo "CHECK $1: dom0 CPU not read: FAIL"; ok=0; return; }
  local fio_kib
  fio_kib=$(awk -v b="$1" -v p="$pass" '$1 == "FIO" && $2 == "backend=" b && $3 == "pass=" p { split($5, kv, "="); s += kv[2] } END { print s + 0 }' bench.txt)
  echo "CPU backend=$1 pass=$pass seconds=$(awk "BEGIN { print $3 - $2 }") GiB=$(awk "BEGIN { print ($ROUNDS - 1) * $MIB * 2 / 1024 + $fio_kib / 1048576 }")" | tee -a bench.txt
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
      DOMU_DISK=$spec start_domu "$guest" xdj_wait=60 xdj_hold=1 xdj_bench="$MIB" xdj_bench_rounds="$ROUNDS" $FIO_ARG
      RESULT=$(wait_console "$guest" 'DOMU-RESULT' 240) || true
      wait_console "$guest" "DOMU-BENCH round=1 " 300 >/dev/null || echo "$b: no first DOMU-BENCH line"
      cpu0=$(dom0_cpu)
      wait_console "$guest" "$END" 900 >/dev/null || echo "$b: no '$END' line"
      cpu1=$(dom0_cpu)
      wait_gone "$guest" 60
      SEEN_MARKER=$(tr -d '\r' < "$(console_of "$guest")" | grep -a '^DOMU-MARKER' | tail -1 | cut -d' ' -f2) ;;
    *)
      DOMU_EXTRA="xdj_bench=$MIB xdj_bench_rounds=$ROUNDS $FIO_ARG" SERVE_FROM="DOMU-BENCH round=1 " \
        SERVE_UNTIL="$END" SERVE_UNTIL_SECS=900 serve_domu "$guest" "$target" "$b" > "serve-$guest.log" 2>&1
      cpu0=${SERVE_CPU_FROM:-} cpu1=${SERVE_CPU_UNTIL:-}
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
  if [ "$FIO" != 0 ]; then
    tr -d '\r' < "$(console_of "$guest")" | grep -a '^DOMU-FIO job=' | sed "s/^DOMU-FIO/FIO backend=$b pass=$pass/" | tee -a bench.txt
    tr -d '\r' < "$(console_of "$guest")" | grep -a '^DOMU: fio' && { echo "CHECK $b: fio ran: FAIL"; ok=0; }
    [ "$(grep -c "^FIO backend=$b pass=$pass " bench.txt)" = "$FIO_JOBS" ] || { echo "CHECK $b: $FIO_JOBS fio jobs: FAIL"; ok=0; }
  fi
  cpu_line "$b" "$cpu0" "$cpu1"
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
# fio: per backend and job, the median over the passes (and the lowest and highest) of IOPS, MB/s
# and mean latency; ratios of the medians to blkback's and to the userspace peer's of the same format
if [ "$FIO" != 0 ]; then
  echo "---- fio summary (${FIO} s per job per pass; median over the passes, IOPS spread min-max) ----"
  awk '
    /^FIO/ {
      delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      b = f["backend"]; j = f["job"]
      if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
      if (!(j in jseen)) { jseen[j] = 1; jobs[++nj] = j }
      k = b SUBSEP j; n[k]++
      iops[k, n[k]] = f["iops"]; mbps[k, n[k]] = f["MBps"]; lat[k, n[k]] = f["lat_us"]
    }
    # the median of the n values v[k, 1..n] (mawk has no asort: an insertion sort of a copy); sets
    # lo and hi, the lowest and highest, for the caller
    function median(v, k, m,   i, j, t, a) {
      for (i = 1; i <= m; i++) a[i] = v[k, i] + 0
      for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      lo = a[1]; hi = a[m]
      return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function x(v, base) { return base > 0 ? sprintf("%.2f", v / base) : "-" }
    END {
      for (i = 1; i <= nb; i++) for (jj = 1; jj <= nj; jj++) {
        b = order[i]; j = jobs[jj]; k = b SUBSEP j; if (!n[k]) continue
        MI[k] = median(iops, k, n[k]); LO[k] = lo; HI[k] = hi
        MB[k] = median(mbps, k, n[k]); ML[k] = median(lat, k, n[k])
      }
      for (i = 1; i <= nb; i++) for (jj = 1; jj <= nj; jj++) {
        b = order[i]; j = jobs[jj]; k = b SUBSEP j; if (!n[k]) continue
        line = sprintf("FIO-SUMMARY backend=%s job=%s passes=%d iops=%.0f iops_min=%.0f iops_max=%.0f MBps=%.1f lat_us=%.0f", b, j, n[k], MI[k], LO[k], HI[k], MB[k], ML[k])
        kb = "blkback" SUBSEP j
        if (b != "blkback" && n[kb]) line = line " x_blkback=" x(MI[k], MI[kb])
        q = (b == "qcow2") ? "qdisk-qcow2" : "qdisk"; kq = q SUBSEP j
        if (b !~ /^(blkback|qdisk)/ && n[kq]) line = line " x_" q "=" x(MI[k], MI[kq])
        print line
      }
    }' bench.txt | tee fio-summary.txt
fi
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
