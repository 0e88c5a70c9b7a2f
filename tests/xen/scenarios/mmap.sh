#!/bin/bash
# Scenario (issue "Real Xen" 4b): `xen-disk-java connect --storage mmap` serves an image
# mapped shared: what the domU wrote is in the image file after `disconnect`.
set -u
. "$XDJ_HARNESS/lib/dom0-lib.sh"
IMG=/tmp/mmap.img
MARKER=$(make_image "$IMG" 64)
BEFORE=$(dd if="$IMG" bs=1M skip=1 count=4 2>/dev/null | md5sum | cut -d' ' -f1)
log "image $IMG 64 MiB, marker $MARKER, md5 of 1..5 MiB $BEFORE"
serve_domu domu-mmap "$IMG" mmap
AFTER=$(dd if="$IMG" bs=1M skip=1 count=4 2>/dev/null | md5sum | cut -d' ' -f1)
ok=1
check_domu domu-mmap "$MARKER"
[ -n "$WRITTEN" ] && [ "$AFTER" = "$WRITTEN" ] || { echo "CHECK image holds the domU's data: FAIL (image $AFTER, domU wrote '$WRITTEN')"; ok=0; }
echo "image md5 of 1..5 MiB before=$BEFORE after=$AFTER domU wrote=$WRITTEN"
[ $ok = 1 ] && { echo "RESULT PASS"; exit 0; }
echo "RESULT FAIL"; exit 1
