package io.xendisk.backend;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.BackRing;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.Rejection;
import io.xendisk.blkif.Request;
import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import io.xendisk.xen.EventChannel;
import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantTable;

/**
 * Serves one blkif ring on its own thread: take every published request (as
 * many as there are free response slots), copy and parse each slot once
 * (and the indirect pages of INDIRECT requests, once), move the data of the
 * whole batch, run the storage operations in ring order, answer, notify once
 * per batch, and re-arm req_event before sleeping.
 *
 * <p>Data moves between the guest's pages and local memory (the image's own
 * mapping where the storage offers it, else the slot's bounce buffer) by one
 * grant copy per direction per batch, or, for the pages of a frontend that
 * negotiated persistent grants, by a plain memory copy from the page we keep
 * mapped ({@link PersistentGrants}). A storage with vectored I/O (file: one
 * preadv/pwritev) reads into and writes from those kept pages directly.
 *
 * <p>Everything the hot path touches is allocated here, sized by the ring:
 * a Request per slot, the copy batches, the private copies of indirect
 * pages; the bounce buffers on first need, for storages that cannot be
 * reached in place.
 */
public final class RingWorker implements Runnable {
    private static final Logger LOG = LogManager.getLogger(RingWorker.class);
    /** How long to poll the ring after a batch before blocking on the event channel. */
    private static final long SPIN_NANOS = 50_000;
    /** Upper bound of one blocking wait, so stop() is noticed even without a kick. */
    private static final long WAIT_NANOS = 200_000_000L;

    private final String name;
    private final BackRing ring;
    private final EventChannel evtchn;
    private final GrantTable grants;
    private final int domid;
    private final Storage storage;
    private final Request.Limits limits;
    private final VbdStats stats;
    private final Consumer<String> onRingFailure;
    private final Request[] pool;
    private final int slotBytes;
    private ByteBuffer[] bounce;
    private final byte[] slot;
    /** Per slot: the private copy of an INDIRECT request's indirect pages (null when indirect is off). */
    private final ByteBuffer[] indirectPages;
    /** Per slot: where the request's data lives locally (bounce buffer or the image's own memory). */
    private final ByteBuffer[] local;
    private final int[] localBase;
    private final boolean[] zeroCopy;
    /** Per slot: the request's data is in the guest's kept pages, for the storage's vectored I/O. */
    private final boolean[] inGuestPages;
    private final ByteBuffer[][] pieces;
    private final int[][] pieceOffsets;
    private final int[][] pieceLengths;
    private final boolean storageVectored;
    /** Per slot: the range [first, end) of its segments in the batch being copied, first = -1 when none. */
    private final int[] firstCopied;
    private final int[] endCopied;
    private final boolean storageMapped;
    private final GrantCopyBatch copyIn;
    private final GrantCopyBatch copyOut;
    private final GrantCopyBatch copyIndirect;
    private final PersistentGrants persistent;
    private final RateLimitedLog rejections;
    /** Held while a batch uses the storage, shared by the VBD's rings (a storage serves one thread at a time). */
    private final Object storageLock;
    /** What this ring last added to the VBD's persistent-grants counter. */
    private int persistentReported;
    private volatile boolean running = true;

    /**
     * @param persistentGrants the frontend negotiated feature-persistent: keep its pages mapped
     */
    public RingWorker(String name, BackRing ring, EventChannel evtchn, GrantTable grants, int domid,
                      Storage storage, Request.Limits limits, boolean persistentGrants, VbdStats stats,
                      Consumer<String> onRingFailure) {
        this(name, ring, evtchn, grants, domid, storage, limits, persistentGrants, stats, onRingFailure, new Object());
    }

    /**
     * @param storageLock the lock every ring of the VBD takes around a batch, since they share
     *                    one storage; a ring of its own may pass any object
     */
    public RingWorker(String name, BackRing ring, EventChannel evtchn, GrantTable grants, int domid,
                      Storage storage, Request.Limits limits, boolean persistentGrants, VbdStats stats,
                      Consumer<String> onRingFailure, Object storageLock) {
        this.storageLock = storageLock;
        this.name = name;
        this.ring = ring;
        this.evtchn = evtchn;
        this.grants = grants;
        this.domid = domid;
        this.storage = storage;
        this.limits = limits;
        this.stats = stats;
        this.onRingFailure = onRingFailure;
        int n = ring.size();
        stats.ringSize(n);
        int maxSegments = limits.maxSegments();
        this.slotBytes = maxSegments * Blkif.PAGE_SIZE;
        this.pool = new Request[n];
        for (int i = 0; i < n; i++) {
            pool[i] = new Request(maxSegments);
        }
        this.slot = new byte[ring.abi().stride];
        this.indirectPages = new ByteBuffer[n];
        int indirectPageCount = Blkif.indirectPages(limits.maxIndirectSegments());
        if (indirectPageCount > 0) {
            ByteBuffer slab = ByteBuffer.allocateDirect(n * indirectPageCount * Blkif.PAGE_SIZE);
            for (int i = 0; i < n; i++) {
                indirectPages[i] = slab.slice(i * indirectPageCount * Blkif.PAGE_SIZE, indirectPageCount * Blkif.PAGE_SIZE);
            }
        }
        this.local = new ByteBuffer[n];
        this.localBase = new int[n];
        this.zeroCopy = new boolean[n];
        this.inGuestPages = new boolean[n];
        this.storageVectored = persistentGrants && storage.capabilities().vectored() && !storage.capabilities().zeroCopy();
        this.pieces = new ByteBuffer[storageVectored ? n : 0][];
        this.pieceOffsets = new int[storageVectored ? n : 0][];
        this.pieceLengths = new int[storageVectored ? n : 0][];
        for (int i = 0; i < pieces.length; i++) {
            pieces[i] = new ByteBuffer[maxSegments];
            pieceOffsets[i] = new int[maxSegments];
            pieceLengths[i] = new int[maxSegments];
        }
        this.firstCopied = new int[n];
        this.endCopied = new int[n];
        this.storageMapped = storage.capabilities().zeroCopy();
        this.copyIn = new GrantCopyBatch(n * maxSegments);
        this.copyOut = new GrantCopyBatch(n * maxSegments);
        this.copyIndirect = new GrantCopyBatch(Math.max(1, n * indirectPageCount));
        this.persistent = persistentGrants
                ? new PersistentGrants(grants, domid, PersistentGrants.capacityFor(n, maxSegments)) : null;
        this.rejections = new RateLimitedLog(LOG, 10, 1_000_000_000L);
    }

    /** Asks the loop to finish its current batch and return. */
    public void stop() {
        running = false;
    }

    @Override
    public void run() {
        try {
            loop();
        } catch (RuntimeException | Error e) {
            LOG.error("{}: ring thread failed; this VBD stops serving, the others are not affected", name, e);
            onRingFailure.accept("ring thread failed: " + e);
        } finally {
            if (persistent != null) {
                // before the connector unmaps the ring: no page of the guest stays mapped by us
                persistent.close();
                stats.persistentGrantsChanged(-persistentReported);
                persistentReported = 0;
            }
        }
    }

    private void loop() throws Error {
        while (running) {
            int n = ring.unconsumed();
            if (n == BackRing.OVERFLOW) {
                String why = "frontend's req_prod " + Integer.toUnsignedString(ring.reqProd())
                        + " is more than a ring (" + ring.size() + ") ahead of rsp_prod "
                        + Integer.toUnsignedString(ring.rspProdPvt()) + "; ring stopped";
                onRingFailure.accept(why);
                return;
            }
            if (n > 0) {
                synchronized (storageLock) {
                    serveBatch(n);
                }
                continue;
            }
            if (spinForWork()) {
                continue;
            }
            if (ring.finalCheckForRequests()) {
                continue;
            }
            try {
                if (evtchn.await(WAIT_NANOS)) {
                    stats.wakeup();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private boolean spinForWork() {
        long end = System.nanoTime() + SPIN_NANOS;
        do {
            if (ring.unconsumed() != 0) {
                return true;
            }
            Thread.onSpinWait();
        } while (System.nanoTime() < end && running);
        return false;
    }

    private void serveBatch(int available) {
        int first = ring.reqCons();
        int n = takeRequests(first, available);
        stats.batch(n);
        loadIndirectSegments(first, n);
        copyIn.clear();
        for (int i = 0; i < n; i++) {
            int s = slotOf(first, i);
            Request r = pool[s];
            firstCopied[s] = -1;
            zeroCopy[s] = false;
            inGuestPages[s] = false;
            if (r.kind() == Request.Kind.REJECTED || r.nrSegments() == 0) {
                continue;
            }
            placeData(r, s);
            if (r.kind() != Request.Kind.READ && !inGuestPages[s]) {
                moveSegments(copyIn, r, s, false);
            }
        }
        if (copyIn.count() > 0) {
            copyAndFail(copyIn, first, n);
        }
        for (int i = 0; i < n; i++) {
            execute(pool[slotOf(first, i)], slotOf(first, i));
        }
        copyOut.clear();
        for (int i = 0; i < n; i++) {
            int s = slotOf(first, i);
            firstCopied[s] = -1;
            if (pool[s].kind() == Request.Kind.READ && !inGuestPages[s]) {
                moveSegments(copyOut, pool[s], s, true);
            }
        }
        if (copyOut.count() > 0) {
            copyAndFail(copyOut, first, n);
        }
        for (int i = 0; i < n; i++) {
            Request r = pool[slotOf(first, i)];
            account(r);
            ring.putResponse(r.id(), r.operation(), r.status());
        }
        if (persistent != null) {
            int mapped = persistent.mapped();
            stats.persistentGrantsChanged(mapped - persistentReported);
            persistentReported = mapped;
        }
        if (ring.pushResponses()) {
            evtchn.notifyRemote();
            stats.notified();
        }
    }

    /** Copies and parses up to {@code available} slots; a flush or barrier closes the batch. */
    private int takeRequests(int first, int available) {
        int n = 0;
        copyIndirect.clear();
        while (n < available) {
            int s = slotOf(first, n++);
            Request r = pool[s];
            ring.takeRequest(slot);
            Request.Kind k = r.parse(slot, ring.abi(), limits);
            if (r.awaitingSegments()) {
                stats.indirect();
                fetchIndirectPages(r, s);
            }
            if (k == Request.Kind.FLUSH || k == Request.Kind.BARRIER) {
                // what follows must not be moved before it
                break;
            }
        }
        return n;
    }

    /** The pool slot of the {@code i}-th request of a batch starting at ring index {@code first}. */
    private int slotOf(int first, int i) {
        return (first + i) & (pool.length - 1);
    }

    /**
     * Copies the descriptors of an INDIRECT request's pages into the slot's
     * private buffer: from pages kept mapped now, the others by the batch's
     * indirect grant copy. They are parsed only from that copy.
     */
    private void fetchIndirectPages(Request r, int s) {
        ByteBuffer dst = indirectPages[s];
        firstCopied[s] = copyIndirect.count();
        for (int p = 0; p < r.indirectPages(); p++) {
            int len = r.indirectPageBytes(p);
            ByteBuffer page = persistent != null ? persistent.page(r.indirectGref(p)) : null;
            if (page != null) {
                dst.put(p * Blkif.PAGE_SIZE, page, 0, len);
            } else {
                copyIndirect.add(domid, r.indirectGref(p), 0, len, false, dst, p * Blkif.PAGE_SIZE);
            }
        }
        endCopied[s] = copyIndirect.count();
    }

    private void loadIndirectSegments(int first, int n) {
        if (copyIndirect.count() > 0) {
            grants.copy(copyIndirect);
        }
        for (int i = 0; i < n; i++) {
            int s = slotOf(first, i);
            Request r = pool[s];
            if (!r.awaitingSegments()) {
                continue;
            }
            int bad = firstFailed(copyIndirect, firstCopied[s], endCopied[s]);
            if (bad >= 0) {
                rejections.warn("{}: request id {} (indirect {}): indirect page grant {} of domain {} failed with status {}",
                        name, r.id(), Blkif.opName(r.operation()), copyIndirect.gref(bad), domid, copyIndirect.status(bad));
                r.fail(Rejection.BAD_GRANT);
            } else {
                r.loadIndirectSegments(indirectPages[s], 0, limits);
            }
        }
    }

    /** The index of the first failed segment in [from, to) of a batch, or -1. */
    private static int firstFailed(GrantCopyBatch batch, int from, int to) {
        for (int i = Math.max(0, from); i < to; i++) {
            if (batch.status(i) != GrantCopyBatch.GNTST_OKAY) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Zero copy where the storage maps the image: plain reads and writes move
     * straight between the guest's pages and the image's memory. Everything
     * else goes through the slot's bounce buffer.
     */
    private void placeData(Request r, int s) {
        if (storageVectored && (r.kind() == Request.Kind.READ || r.kind() == Request.Kind.WRITE) && piecesInGuestPages(r, s)) {
            inGuestPages[s] = true;
            return;
        }
        if (storageMapped && (r.kind() == Request.Kind.READ || r.kind() == Request.Kind.WRITE)) {
            ByteBuffer region = storage.region(r.sector(), bytes(r), r.kind() == Request.Kind.WRITE);
            if (region != null) {
                zeroCopy[s] = true;
                local[s] = region;
                localBase[s] = storage.regionOffset(r.sector());
                return;
            }
        }
        local[s] = bounce(s).clear(); // the last request in this slot may have left a shorter limit
        localBase[s] = 0;
    }

    /** Lists the request's segments as pieces of the kept guest pages; false when one is not kept mapped. */
    private boolean piecesInGuestPages(Request r, int s) {
        for (int seg = 0; seg < r.nrSegments(); seg++) {
            ByteBuffer page = persistent.page(r.gref(seg));
            if (page == null) {
                return false;
            }
            pieces[s][seg] = page;
            pieceOffsets[s][seg] = r.segmentPageOffset(seg);
            pieceLengths[s][seg] = r.segmentBytes(seg);
        }
        return true;
    }

    /** The slot's bounce buffer; the slab is allocated the first time any slot needs one. */
    private ByteBuffer bounce(int s) {
        if (bounce == null) {
            int n = pool.length;
            ByteBuffer slab = ByteBuffer.allocateDirect(n * slotBytes + Blkif.PAGE_SIZE).alignedSlice(Blkif.PAGE_SIZE);
            bounce = new ByteBuffer[n];
            for (int i = 0; i < n; i++) {
                bounce[i] = slab.slice(i * slotBytes, slotBytes);
            }
        }
        return bounce[s];
    }

    /**
     * Moves a request's segments between the guest and local memory: a
     * memory copy for pages kept mapped, the rest added to {@code batch}
     * (whose range for the slot is recorded). A fault of the image's mapping
     * during a memory copy (SIGBUS: image truncated, filesystem full) fails
     * the request.
     */
    private void moveSegments(GrantCopyBatch batch, Request r, int s, boolean toGuest) {
        ByteBuffer buf = local[s];
        int off = localBase[s];
        firstCopied[s] = batch.count();
        try {
            for (int seg = 0; seg < r.nrSegments(); seg++) {
                int len = r.segmentBytes(seg);
                ByteBuffer page = persistent != null ? persistent.page(r.gref(seg)) : null;
                if (page == null) {
                    batch.add(domid, r.gref(seg), r.segmentPageOffset(seg), len, toGuest, buf, off);
                } else if (toGuest) {
                    page.put(r.segmentPageOffset(seg), buf, off, len);
                } else {
                    buf.put(off, page, r.segmentPageOffset(seg), len);
                }
                off += len;
            }
        } catch (InternalError e) {
            mappedImageFault(e, toGuest);
            r.fail(Rejection.IO_ERROR);
        }
        endCopied[s] = batch.count();
    }

    private void mappedImageFault(InternalError e, boolean reads) {
        rejections.warn("{}: the mapped image faulted ({}): is the filesystem holding it full, or was it"
                + " truncated? Failing the {} with errors", name, e.getMessage(), reads ? "reads" : "writes");
    }

    /**
     * Runs one direction's grant copy for the batch and fails each request
     * owning a failed segment.
     */
    private void copyAndFail(GrantCopyBatch batch, int first, int n) {
        try {
            grants.copy(batch);
        } catch (InternalError e) {
            // SIGBUS on the image's mapping: the copy may have stopped anywhere, so every
            // request that used the image in this direction fails
            mappedImageFault(e, batch == copyOut);
            for (int i = 0; i < n; i++) {
                int s = slotOf(first, i);
                if (endCopied[s] > firstCopied[s] && firstCopied[s] >= 0 && zeroCopy[s]
                        && pool[s].kind() != Request.Kind.REJECTED) {
                    pool[s].fail(Rejection.IO_ERROR);
                }
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            int s = slotOf(first, i);
            Request r = pool[s];
            if (firstCopied[s] < 0 || r.kind() == Request.Kind.REJECTED) {
                continue;
            }
            int bad = firstFailed(batch, firstCopied[s], endCopied[s]);
            if (bad >= 0) {
                rejections.warn("{}: request id {} ({}): grant {} of domain {} failed with status {}",
                        name, r.id(), Blkif.opName(r.operation()), batch.gref(bad), domid, batch.status(bad));
                r.fail(Rejection.BAD_GRANT);
            }
        }
    }

    private void execute(Request r, int s) {
        if (r.kind() == Request.Kind.REJECTED || (zeroCopy[s] && r.nrSegments() > 0)) {
            return; // the copies were the I/O
        }
        try {
            if (inGuestPages[s]) {
                if (r.kind() == Request.Kind.READ) {
                    storage.readv(r.sector(), pieces[s], pieceOffsets[s], pieceLengths[s], r.nrSegments());
                } else {
                    storage.writev(r.sector(), pieces[s], pieceOffsets[s], pieceLengths[s], r.nrSegments());
                }
                return;
            }
            switch (r.kind()) {
                case READ -> storage.read(r.sector(), local[s].clear().limit(bytes(r)));
                case WRITE -> storage.write(r.sector(), local[s].clear().limit(bytes(r)));
                case FLUSH, BARRIER -> {
                    // everything answered before this request is already done (we run in ring order);
                    // flush makes it stable, then the request's own data follows (QEMU's presync)
                    storage.flush();
                    if (r.nrSegments() > 0) {
                        storage.write(r.sector(), local[s].clear().limit(bytes(r)));
                    }
                }
                case DISCARD -> storage.discard(r.sector(), r.nrSectors());
                default -> { }
            }
        } catch (StorageException e) {
            rejections.warn("{}: request id {} ({} sector {}): {}", name, r.id(), Blkif.opName(r.operation()),
                    r.sector(), e.getMessage());
            r.fail(Rejection.IO_ERROR);
        }
    }

    private static int bytes(Request r) {
        return (int) (r.nrSectors() << Blkif.SECTOR_SHIFT);
    }

    private void account(Request r) {
        switch (r.kind()) {
            case READ -> stats.read(bytes(r));
            case WRITE -> stats.write(bytes(r));
            case FLUSH, BARRIER -> {
                stats.flush();
                if (r.nrSegments() > 0) {
                    stats.write(bytes(r));
                }
            }
            case DISCARD -> stats.discard();
            case REJECTED -> {
                stats.error();
                stats.reject(r.rejection());
                if (r.rejection() != Rejection.BAD_GRANT && r.rejection() != Rejection.IO_ERROR) {
                    rejections.warn("{}: rejected request id {} ({}): {}", name, r.id(), Blkif.opName(r.operation()),
                            r.rejection().description);
                }
            }
            default -> { }
        }
    }
}
