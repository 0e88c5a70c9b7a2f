package io.xendisk.backend;

import java.nio.ByteBuffer;

import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.Rejection;
import io.xendisk.blkif.Request;
import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.XenPage;

/**
 * Moves requests' segments between the guest's pages and local memory
 * ({@link RingRequest#local} from {@link RingRequest#localBase}): a memory
 * copy for a page kept mapped ({@link PersistentGrants}), a grant copy added
 * to the batch for the others; then runs a batch in one go and fails each
 * request that owned a failed segment.
 *
 * <p>A fault of the image's mapping during a copy (SIGBUS: the image was
 * truncated or its filesystem is full) fails the requests that used it.
 */
final class GuestCopies {
    private final String name;
    private final GrantTable grants;
    private final int domid;
    private final PersistentGrants persistent;
    private final RateLimitedLog log;

    GuestCopies(String name, GrantTable grants, int domid, PersistentGrants persistent, RateLimitedLog log) {
        this.name = name;
        this.grants = grants;
        this.domid = domid;
        this.persistent = persistent;
        this.log = log;
    }

    /** The kept page of {@code gref}, mapping it on first use; null when it is grant-copied. */
    ByteBuffer keptPage(int gref) {
        return persistent == null ? null : persistent.page(gref);
    }

    /**
     * Maps, in one mapping, the pages the batch's reads and writes name that
     * are not kept yet, so the placements find them kept.
     */
    void keepSegmentPages(RingRequest[] requests, int n) {
        if (persistent == null) {
            return;
        }
        for (int i = 0; i < n; i++) {
            Request w = requests[i].wire;
            if (w.kind() == Request.Kind.READ || w.kind() == Request.Kind.WRITE) {
                for (int seg = 0; seg < w.nrSegments(); seg++) {
                    persistent.want(w.gref(seg));
                }
            }
        }
        persistent.keepWanted();
    }

    /** Like {@link #keepSegmentPages} for the descriptor pages of the batch's INDIRECT requests. */
    void keepIndirectPages(RingRequest[] requests, int n) {
        if (persistent == null) {
            return;
        }
        for (int i = 0; i < n; i++) {
            Request w = requests[i].wire;
            if (w.awaitingSegments()) {
                for (int p = 0; p < w.indirectPages(); p++) {
                    persistent.want(w.indirectGref(p));
                }
            }
        }
        persistent.keepWanted();
    }

    /** Copies {@code r}'s segments towards the guest ({@code toGuest}) or from it, recording its range in {@code batch}. */
    void copy(RingRequest r, GrantCopyBatch batch, boolean toGuest) {
        Request w = r.wire;
        ByteBuffer buf = r.local;
        int off = r.localBase;
        r.copyFrom = batch.count();
        try {
            for (int seg = 0; seg < w.nrSegments(); seg++) {
                int len = w.segmentBytes(seg);
                ByteBuffer page = keptPage(w.gref(seg));
                if (page == null) {
                    batch.add(domid, w.gref(seg), w.segmentPageOffset(seg), len, toGuest, buf, off);
                } else if (toGuest) {
                    page.put(w.segmentPageOffset(seg), buf, off, len);
                } else {
                    buf.put(off, page, w.segmentPageOffset(seg), len);
                }
                off += len;
            }
        } catch (InternalError e) {
            mappedImageFault(e, toGuest);
            w.fail(Rejection.IO_ERROR);
        }
        r.copyTo = batch.count();
    }

    /**
     * Runs {@code batch} and fails each of {@code requests[0..n)} owning a
     * failed segment.
     */
    void run(GrantCopyBatch batch, RingRequest[] requests, int n) {
        if (batch.count() == 0) {
            return;
        }
        try {
            grants.copy(batch);
        } catch (InternalError e) {
            // SIGBUS on the image's mapping: the copy may have stopped anywhere, so every
            // request that copied straight to or from the image in this batch fails
            mappedImageFault(e, batch.count() > 0 && batch.toGuest(0));
            for (int i = 0; i < n; i++) {
                RingRequest r = requests[i];
                if (r.copyFrom >= 0 && r.copyTo > r.copyFrom && r.inPlace && !rejected(r)) {
                    r.wire.fail(Rejection.IO_ERROR);
                }
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            RingRequest r = requests[i];
            if (r.copyFrom < 0 || rejected(r)) {
                continue;
            }
            for (int c = r.copyFrom; c < r.copyTo; c++) {
                if (batch.status(c) != GrantCopyBatch.GNTST_OKAY) {
                    log.warn("{}: {}: grant {} of domain {} failed with status {}", name, r, batch.gref(c), domid,
                            batch.status(c));
                    r.wire.fail(Rejection.BAD_GRANT);
                    break;
                }
            }
        }
    }

    private static boolean rejected(RingRequest r) {
        return r.wire.kind() == Request.Kind.REJECTED;
    }

    private void mappedImageFault(InternalError e, boolean reads) {
        log.warn("{}: the mapped image faulted ({}): is the filesystem holding it full, or was it"
                + " truncated? Failing the {} with errors", name, e.getMessage(), reads ? "reads" : "writes");
    }

    /** The grant copies of INDIRECT requests' descriptor pages, the ones not kept mapped. */
    void fetchIndirectPages(RingRequest r, GrantCopyBatch batch) {
        Request w = r.wire;
        ByteBuffer dst = r.indirectPages;
        r.copyFrom = batch.count();
        for (int p = 0; p < w.indirectPages(); p++) {
            int len = w.indirectPageBytes(p);
            ByteBuffer page = keptPage(w.indirectGref(p));
            if (page != null) {
                dst.put(p * XenPage.SIZE, page, 0, len);
            } else {
                batch.add(domid, w.indirectGref(p), 0, len, false, dst, p * XenPage.SIZE);
            }
        }
        r.copyTo = batch.count();
    }
}
