#!/bin/bash
# The data path benchmark: real daemon + simulated guest (separate JVMs), per storage engine.
#   tests/bench/run-bench.sh [engines=discard,file,mmap,cow,qcow2] [imageMiB=256] [seconds=3]
# (qcow2-gold: a qcow2 overlay over a raw gold image; BENCH_DIR=/var/tmp puts the images on disk)
# What an event storm from one guest costs the daemon and another guest:
#   tests/bench/run-bench.sh storm [seconds=10] [rounds=3]
# A guest's disk on an NBD server (nbdkit memory) or an RBD image (a one-node Ceph) against fio's
# nbd or rbd engine on the same store:
#   tests/bench/run-bench.sh nbd|rbd [seconds=5] [rounds=3] [imageMiB=256]
# What I/O limits give a limited disk, and whether they hold up an unlimited one beside it:
#   tests/bench/run-bench.sh limits [seconds=10] [rounds=3]
# What the daemon allocates per request in steady state (its ring thread's and all its threads'
# allocated bytes, read through the JDK's attach API), per engine:
#   tests/bench/run-bench.sh alloc [engines=discard,file,mmap,cow,qcow2,nbd] [ops=1000000]
# BENCH_GUEST_SEGMENTS=256 makes the guest take up to 256 segments per request (1 MiB, as Linux
# booted with xen_blkfront.max_indirect_segments=256); XEN_DISK_JAVA_CONFIG=FILE gives the daemon a
# config.xml (e.g. <max-indirect-segments>32</max-indirect-segments> for the other half of an A/B).
# BENCH_SEQ_ONLY=1 runs the 1 MiB cells alone.
# Prints markdown tables; record them in docs/BENCHMARKS.md with the date and the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -DskipTests package   # compiles the test classes too (only their run is skipped)
MAIN=io.xendisk.bench.BlkifBench
if [ "${1:-}" = storm ]; then MAIN=io.xendisk.bench.StormBench; shift; fi
if [ "${1:-}" = nbd ] || [ "${1:-}" = rbd ]; then MAIN=io.xendisk.bench.RemoteBench; fi
if [ "${1:-}" = limits ]; then MAIN=io.xendisk.bench.LimitsBench; fi
if [ "${1:-}" = alloc ]; then MAIN=io.xendisk.bench.AllocBench; shift; fi
exec java -XX:+UseSerialGC -cp "tests/target/test-classes:src/target/xen-disk-java/lib/*" \
  -Dxendisk.dist=src/target/xen-disk-java -Dxdj.bench.dir="${BENCH_DIR:-/dev/shm}" "$MAIN" "$@"
