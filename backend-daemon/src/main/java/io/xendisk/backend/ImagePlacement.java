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
 * A range the engine cannot expose in one piece (across a 1 GiB chunk) is
 * left to the next strategy.
 */
final class ImagePlacement extends CopyingPlacement {
    private final IoEngine engine;

    ImagePlacement(IoEngine engine, GuestCopies copies) {
        super(copies);
        this.engine = engine;
    }

    @Override
    public boolean place(RingRequest r) {
        Request.Kind k = r.wire.kind();
        if (k != Request.Kind.READ && k != Request.Kind.WRITE) {
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
