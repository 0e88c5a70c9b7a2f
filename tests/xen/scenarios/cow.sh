#!/bin/bash
# Scenario (issue "Real Xen" 4a): `xen-disk-java connect --storage cow` hot-plugs a
# copy-on-write view of a gold image into a running PV domU. The domU reads dom0's
# marker, writes + reads back 4 MiB with O_DIRECT (md5 must match); `disconnect`
# unplugs it cleanly; the gold image is byte-identical afterwards; no blkfront errors.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
GOLD=/tmp/gold.img
MARKER=$(make_image "$GOLD" 64)
SHA_BEFORE=$(sha256sum "$GOLD" | cut -d' ' -f1)
log "gold image $GOLD 64 MiB, marker $MARKER, sha256 $SHA_BEFORE"
serve_domu domu-cow "$GOLD" cow
SHA_AFTER=$(sha256sum "$GOLD" | cut -d' ' -f1)
ok=1
check_domu domu-cow "$MARKER"
[ "$SHA_BEFORE" = "$SHA_AFTER" ] || { echo "CHECK gold image unchanged: FAIL ($SHA_BEFORE -> $SHA_AFTER)"; ok=0; }
echo "gold sha256 before=$SHA_BEFORE after=$SHA_AFTER"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
