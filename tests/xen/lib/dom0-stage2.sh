#!/bin/bash
# dom0 stage 2, on the host's userland (9p + overlay root). Starts what
# /etc/init.d/xen would (xenstored, xen-init-dom0, xenconsoled), then runs each
# scenario listed in /lab/scenarios in turn, then powers off.
# Per scenario S: /lab/S/out.log (its output), /lab/S/rc; console lines
# "SCENARIO S PASS|FAIL" for the host.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export HOME=/root LANG=C.UTF-8
set -a; . /lab/env; set +a
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "LAB: $* ($(up)s)"; }
# devtmpfs lacks these; the hotplug scripts' locking and bash's /dev/stdin need them
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
# a resolvable host name: without one, every JVM start waits for a DNS lookup (log4j asks for it)
hostname xdj-dom0
echo "127.0.1.1 xdj-dom0" >> /etc/hosts
mount -t xenfs xenfs /proc/xen || say "xenfs mount failed"
mkdir -p /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /var/run/xen-hotplug
/usr/lib/xen-4.17/bin/oxenstored --pid-file /run/xen/xenstored.pid >/var/log/xen/xenstored.out 2>&1
for _ in $(seq 100); do [ -S /run/xenstored/socket ] && break; sleep 0.1; done
[ -S /run/xenstored/socket ] || say "xenstored did not come up"
/usr/lib/xen-4.17/bin/xen-init-dom0 >/var/log/xen/xen-init-dom0.log 2>&1 || say "xen-init-dom0 failed"
/usr/lib/xen-4.17/bin/xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xen/xenconsoled.pid \
  || say "xenconsoled failed"
say "DOM0-READY"
for s in $(cat /lab/scenarios); do
  mkdir -p "/lab/$s"
  script=$XDJ_HARNESS/scenarios/$s.sh
  t0=$(up)
  # a scenario may ask for more time than the default: a line "# xdj-lab: timeout SECONDS"
  limit=$(sed -n 's/^# xdj-lab: timeout \([0-9][0-9]*\)$/\1/p' "$script" | head -1)
  limit=${limit:-${XDJ_SCENARIO_TIMEOUT:-360}}
  say "scenario $s starts"
  ( cd "/lab/$s" && timeout -k 5 "$limit" bash "$script" ) </dev/null 2>&1 \
    | tee "/lab/$s/out.log" | sed -u "s/^/[$s] /"
  rc=${PIPESTATUS[0]}
  echo "$rc" > "/lab/$s/rc"
  [ "$rc" = 124 ] && echo "[$s] timed out after ${limit}s"
  if [ "$rc" = 0 ]; then r=PASS; else r=FAIL; fi
  echo "SCENARIO $s $r rc=$rc time=$(awk "BEGIN{printf \"%.1f\", $(up)-$t0}")s"
done
# the daemon's log and Xen's logs go back to the host
mkdir -p /lab/logs
cp -r /var/log/xen /lab/logs/xen 2>/dev/null
cp -r /var/log/xen-disk-java /lab/logs/xen-disk-java 2>/dev/null
xenstore-ls -f > /lab/logs/xenstore-final.txt 2>&1
sync
say "LAB-DONE"
busybox poweroff -f
