package io.xendisk.backend;

import java.nio.ByteBuffer;

import io.xendisk.xen.XenPage;

/**
 * The data in a buffer of the request's own (page aligned, one per pool
 * entry), copied in from the guest before a write and out after a read.
 * Takes every request: the strategy of last resort, and the only one for an
 * engine that can neither take the guest's pages nor offer its memory.
 *
 * <p>An entry's buffer is made when a request first needs one, as large as the
 * largest request it has carried (a power of two from {@value #MIN_BYTES}), and
 * only grows: a ring offering 256 segments per request would otherwise hold 1 MiB
 * per entry (512 MiB on a 16-page ring) for a guest that sends 128 KiB at most,
 * as Linux blkfront does by default. Once a ring has seen its largest requests
 * nothing more is allocated.
 */
final class BouncePlacement extends CopyingPlacement {
    /** A direct request's 11 pages fit. */
    static final int MIN_BYTES = 64 * 1024;
    private final int maxBytes;
    private final ByteBuffer[] buffers;

    BouncePlacement(GuestCopies copies, int poolSize, int maxSegments) {
        super(copies);
        this.maxBytes = maxSegments * XenPage.SIZE;
        this.buffers = new ByteBuffer[poolSize];
    }

    @Override
    public boolean place(RingRequest r) {
        // the engine may have consumed it for the last request in this entry: copies check its limit
        ByteBuffer b = buffer(r.index, r.bytes()).clear();
        r.local = b;
        r.localBase = 0;
        r.owned = b;
        r.onePiece(b, 0);
        return true;
    }

    private ByteBuffer buffer(int i, int bytes) {
        ByteBuffer b = buffers[i];
        if (b == null || b.capacity() < bytes) {
            int size = Math.min(maxBytes, Math.max(MIN_BYTES, Integer.highestOneBit(Math.max(1, bytes - 1)) << 1));
            b = ByteBuffer.allocateDirect(size + XenPage.SIZE).alignedSlice(XenPage.SIZE).limit(size).slice();
            buffers[i] = b;
        }
        return b;
    }

    /** Bytes of bounce buffers this ring holds now, for tests. */
    long heldBytes() {
        long n = 0;
        for (ByteBuffer b : buffers) {
            n += b == null ? 0 : b.capacity();
        }
        return n;
    }
}
