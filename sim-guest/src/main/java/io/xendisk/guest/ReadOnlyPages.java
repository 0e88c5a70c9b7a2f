package io.xendisk.guest;

import java.nio.ByteBuffer;

import io.xendisk.blkif.Blkif;
import io.xendisk.xen.XenPage;
import io.xendisk.xen.sim.domain.GuestGrants;
import io.xendisk.xen.sim.domain.GuestMemory;
import io.xendisk.xen.sim.domain.SimDomain;

/**
 * Pages granted read-only, as Linux blkfront grants the data of a write
 * without persistent grants: eleven to write from and one to hold the
 * descriptors of an INDIRECT request (a backend only reads those). Valid
 * requests, which the backend must serve. One request uses them at a time.
 */
final class ReadOnlyPages implements AutoCloseable {
    static final int DATA_PAGES = Blkif.MAX_SEGMENTS_PER_REQUEST;

    private final GuestGrants grants;
    private final GuestMemory memory;
    private final int firstFrame;
    private final int[] refs = new int[DATA_PAGES + 1];
    private final ByteBuffer pages;
    private boolean busy;

    ReadOnlyPages(SimDomain domain, int backendDomid) {
        this.grants = domain.grants();
        this.memory = domain.memory();
        this.firstFrame = memory.allocate(DATA_PAGES + 1);
        this.pages = memory.pages(firstFrame, DATA_PAGES + 1);
        for (int i = 0; i <= DATA_PAGES; i++) {
            refs[i] = grants.grantAccess(firstFrame + i, backendDomid, true);
        }
    }

    /** All the pages, data page {@code i} at {@code i * 4096}, the descriptor page after them. */
    ByteBuffer pages() {
        return pages;
    }

    int dataRef(int i) {
        return refs[i];
    }

    int descriptorRef() {
        return refs[DATA_PAGES];
    }

    /** Offset of the descriptor page in {@link #pages()}. */
    int descriptorOffset() {
        return DATA_PAGES * XenPage.SIZE;
    }

    boolean busy() {
        return busy;
    }

    void busy(boolean b) {
        busy = b;
    }

    @Override
    public void close() {
        boolean all = true;
        for (int ref : refs) {
            all &= grants.endAccess(ref);
        }
        if (all) {
            memory.free(firstFrame, DATA_PAGES + 1);
        }
    }
}
