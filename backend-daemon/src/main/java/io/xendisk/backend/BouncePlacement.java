package io.xendisk.backend;

import java.nio.ByteBuffer;

import io.xendisk.xen.XenPage;

/**
 * The data in a buffer of the request's own (page aligned, one per pool
 * entry), copied in from the guest before a write and out after a read.
 * Takes every request: the strategy of last resort, and the only one for an
 * engine that can neither take the guest's pages nor offer its memory. The
 * buffers are allocated the first time any request needs one.
 */
final class BouncePlacement extends CopyingPlacement {
    private final int poolSize;
    private final int bytesPerRequest;
    private ByteBuffer[] buffers;

    BouncePlacement(GuestCopies copies, int poolSize, int maxSegments) {
        super(copies);
        this.poolSize = poolSize;
        this.bytesPerRequest = maxSegments * XenPage.SIZE;
    }

    @Override
    public boolean place(RingRequest r) {
        // the engine may have consumed it for the last request in this entry: copies check its limit
        ByteBuffer b = buffer(r.index).clear();
        r.local = b;
        r.localBase = 0;
        r.owned = b;
        r.onePiece(b, 0);
        return true;
    }

    private ByteBuffer buffer(int i) {
        if (buffers == null) {
            ByteBuffer slab = ByteBuffer.allocateDirect(poolSize * bytesPerRequest + XenPage.SIZE)
                    .alignedSlice(XenPage.SIZE);
            buffers = new ByteBuffer[poolSize];
            for (int j = 0; j < poolSize; j++) {
                buffers[j] = slab.slice(j * bytesPerRequest, bytesPerRequest);
            }
        }
        return buffers[i];
    }
}
