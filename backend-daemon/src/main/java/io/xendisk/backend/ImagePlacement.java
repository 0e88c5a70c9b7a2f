package io.xendisk.backend;

import java.nio.ByteBuffer;

import io.xendisk.blkif.Request;
import io.xendisk.storage.IoEngine;

/**
 * Zero copy for an engine whose image is memory (mmap, cow): the guest's
 * segments are copied straight to and from the image's own mapping, so that
 * copy is the read or the write, and the engine only records a write as done
 * ({@link io.xendisk.storage.IoRequest#inPlace()}). Plain reads and writes
 * only: the data of a flush must not reach the image before the flush does.
 * An engine that maps its image for reading only (file) gets its reads placed
 * here and its writes left to the next strategy, as is a range the engine
 * cannot expose in one piece (across a 1 GiB chunk).
 */
final class ImagePlacement extends CopyingPlacement {
    private final IoEngine engine;
    private final boolean writes;

    /** {@code writes}: the engine takes writes in place too ({@link io.xendisk.storage.Capabilities#zeroCopy()}). */
    ImagePlacement(IoEngine engine, GuestCopies copies, boolean writes) {
        super(copies);
        this.engine = engine;
        this.writes = writes;
    }

    @Override
    public boolean place(RingRequest r) {
        Request.Kind k = r.wire.kind();
        if (k != Request.Kind.READ && (k != Request.Kind.WRITE || !writes)) {
            return false;
        }
        ByteBuffer region = engine.region(r.wire.sector(), r.bytes());
        if (region == null) {
            return false;
        }
        r.local = region;
        r.localBase = engine.regionOffset(r.wire.sector());
        r.inPlace = true;
        return true;
    }
}
