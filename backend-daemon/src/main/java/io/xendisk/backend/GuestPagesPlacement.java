package io.xendisk.backend;

import java.nio.ByteBuffer;

import io.xendisk.blkif.Request;
import io.xendisk.xen.GrantCopyBatch;

/**
 * The data stays in the guest's own pages, which a frontend with persistent
 * grants lets us keep mapped: the engine reads into and writes from them
 * directly (file: one preadv/pwritev), with no copy on either side. Plain
 * reads and writes whose every segment is a kept page; the others are left
 * to the next strategy.
 */
final class GuestPagesPlacement implements Placement {
    private final GuestCopies copies;

    GuestPagesPlacement(GuestCopies copies) {
        this.copies = copies;
    }

    @Override
    public boolean place(RingRequest r) {
        Request w = r.wire;
        if (w.kind() != Request.Kind.READ && w.kind() != Request.Kind.WRITE) {
            return false;
        }
        for (int seg = 0; seg < w.nrSegments(); seg++) {
            ByteBuffer page = copies.keptPage(w.gref(seg));
            if (page == null) {
                for (int i = 0; i < seg; i++) {
                    r.pieceBuffers[i] = null;
                }
                return false;
            }
            r.pieceBuffers[seg] = page;
            r.pieceOffsets[seg] = w.segmentPageOffset(seg);
            r.pieceLengths[seg] = w.segmentBytes(seg);
        }
        r.pieces = w.nrSegments();
        return true;
    }

    @Override
    public void fetch(RingRequest r, GrantCopyBatch batch) {
        // already where the engine takes it
    }

    @Override
    public void deliver(RingRequest r, GrantCopyBatch batch) {
        // the engine read into the guest's pages
    }
}
