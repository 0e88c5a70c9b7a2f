package io.xendisk.xen.sim.domain;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

import io.xendisk.xen.GrantMapping;

/**
 * Granted guest pages seen live through the shared memory mapping (a slice
 * of it, no copy). Holds the grants pinned (GTF_reading/GTF_writing set) until
 * closed, so the guest cannot revoke them meanwhile, as with gntdev.
 */
final class SimGrantMapping implements GrantMapping {
    private final ForeignDomain domain;
    /** Null for a mapping of scattered frames, reached page by page. */
    private final ByteBuffer buffer;
    private final ByteBuffer[] pages;
    private final int[] refs;
    private final int[] pinned;
    private final AtomicBoolean closed = new AtomicBoolean();

    SimGrantMapping(ForeignDomain domain, ByteBuffer buffer, ByteBuffer[] pages, int[] refs, int[] pinned) {
        this.domain = domain;
        this.buffer = buffer;
        this.pages = pages;
        this.refs = refs;
        this.pinned = pinned;
    }

    @Override
    public ByteBuffer buffer() {
        if (buffer == null) {
            throw new IllegalStateException("a mapping of scattered frames is reached page by page");
        }
        return buffer;
    }

    @Override
    public ByteBuffer page(int i) {
        return pages[i];
    }

    @Override
    public int pages() {
        return refs.length;
    }

    /** Unpins the grants. The buffer stays readable (Java cannot unmap a slice) but must not be used. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            for (int i = 0; i < refs.length; i++) {
                domain.unpin(refs[i], pinned[i]);
            }
        }
    }
}
