package io.xendisk.backend;

import io.xendisk.xen.GrantCopyBatch;

/**
 * A placement whose data is copied between the guest's pages and local
 * memory ({@link RingRequest#local}, set by {@link #place}): in before a
 * write, out after a read.
 */
abstract class CopyingPlacement implements Placement {
    private final GuestCopies copies;

    CopyingPlacement(GuestCopies copies) {
        this.copies = copies;
    }

    @Override
    public final void fetch(RingRequest r, GrantCopyBatch batch) {
        copies.copy(r, batch, false);
    }

    @Override
    public final void deliver(RingRequest r, GrantCopyBatch batch) {
        copies.copy(r, batch, true);
    }
}
