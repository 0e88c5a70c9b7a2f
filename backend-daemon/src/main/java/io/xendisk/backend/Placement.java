package io.xendisk.backend;

import io.xendisk.xen.GrantCopyBatch;

/**
 * Where a request's data lives while the engine works on it, and how it gets
 * there from the guest's pages and back. A ring tries its strategies in
 * order, the cheapest first ({@link GuestPagesPlacement}, then
 * {@link ImagePlacement}, then {@link BouncePlacement}, which always takes a
 * request); which ones it has follows from what the engine can do and what
 * the frontend negotiated, decided once when the ring starts.
 */
interface Placement {

    /**
     * Places {@code r} (a request with data) when this strategy can: sets its
     * pieces, or where copies go. False leaves it for the next strategy.
     */
    boolean place(RingRequest r);

    /** Before the engine writes: brings the data from the guest (memory copies now, grant copies into {@code batch}). */
    void fetch(RingRequest r, GrantCopyBatch batch);

    /** After the engine read: takes the data to the guest, likewise. */
    void deliver(RingRequest r, GrantCopyBatch batch);
}
