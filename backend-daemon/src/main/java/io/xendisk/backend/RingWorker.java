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
 * many as there are free response slots), copy and parse each slot once,
 * move the data of the whole batch with one grant copy each way, run the
 * storage operations in ring order, answer, notify once per batch, and
 * re-arm req_event before sleeping.
 *
 * <p>Everything the hot path touches is allocated here, sized by the ring:
 * a Request and an 11-page bounce buffer per slot, and two copy batches.
 */
public final class RingWorker implements Runnable {
    private static final Logger LOG = LogManager.getLogger(RingWorker.class);
    /** How long to poll the ring after a batch before blocking on the event channel. */
    private static final long SPIN_NANOS = 50_000;
    /** Upper bound of one blocking wait, so stop() is noticed even without a kick. */
    private static final long WAIT_NANOS = 200_000_000L;
    private static final int SEGMENT_BYTES_MAX = Blkif.MAX_SEGMENTS_PER_REQUEST * Blkif.PAGE_SIZE;

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
    private final ByteBuffer[] bounce;
    private final byte[] slot;
    /** Per slot: where the request's data lives locally (bounce buffer or the image's own memory). */
    private final ByteBuffer[] local;
    private final int[] localBase;
    private final boolean[] zeroCopy;
    /** Per slot: index of its first segment in copyIn / copyOut of the current batch, or -1. */
    private final int[] firstIn;
    private final int[] firstOut;
    private final boolean storageMapped;
    private final GrantCopyBatch copyIn;
    private final GrantCopyBatch copyOut;
    private final RateLimitedLog rejections;
    private volatile boolean running = true;

    public RingWorker(String name, BackRing ring, EventChannel evtchn, GrantTable grants, int domid,
                      Storage storage, Request.Limits limits, VbdStats stats, Consumer<String> onRingFailure) {
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
        this.pool = new Request[n];
        this.bounce = new ByteBuffer[n];
        // one slab, page aligned, sliced per slot: the copy targets of the grant table
        ByteBuffer slab = ByteBuffer.allocateDirect(n * SEGMENT_BYTES_MAX + Blkif.PAGE_SIZE).alignedSlice(Blkif.PAGE_SIZE);
        for (int i = 0; i < n; i++) {
            pool[i] = new Request();
            bounce[i] = slab.slice(i * SEGMENT_BYTES_MAX, SEGMENT_BYTES_MAX);
        }
        this.slot = new byte[ring.abi().stride];
        this.local = new ByteBuffer[n];
        this.localBase = new int[n];
        this.zeroCopy = new boolean[n];
        this.firstIn = new int[n];
        this.firstOut = new int[n];
        this.storageMapped = storage.capabilities().zeroCopy();
        this.copyIn = new GrantCopyBatch(n * Blkif.MAX_SEGMENTS_PER_REQUEST);
        this.copyOut = new GrantCopyBatch(n * Blkif.MAX_SEGMENTS_PER_REQUEST);
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
                serveBatch(n);
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
        copyIn.clear();
        copyOut.clear();
        int first = ring.reqCons();
        int n = 0;
        while (n < available) {
            int s = slotOf(first, n++);
            Request r = pool[s];
            ring.takeRequest(slot);
            Request.Kind k = r.parse(slot, ring.abi(), limits);
            firstIn[s] = -1;
            firstOut[s] = -1;
            if (k == Request.Kind.REJECTED) {
                continue;
            }
            placeData(r, s);
            if (r.nrSegments() > 0 && k != Request.Kind.READ) {
                firstIn[s] = addSegments(copyIn, r, s, false);
            }
            if (k == Request.Kind.FLUSH || k == Request.Kind.BARRIER) {
                // a flush closes the batch: what follows it must not be moved before it
                break;
            }
        }
        stats.batch(n);
        if (copyIn.count() > 0) {
            copyAndFail(copyIn, firstIn, first, n);
        }
        for (int i = 0; i < n; i++) {
            execute(pool[slotOf(first, i)], slotOf(first, i));
        }
        for (int i = 0; i < n; i++) {
            int s = slotOf(first, i);
            if (pool[s].kind() == Request.Kind.READ) {
                firstOut[s] = addSegments(copyOut, pool[s], s, true);
            }
        }
        if (copyOut.count() > 0) {
            copyAndFail(copyOut, firstOut, first, n);
        }
        for (int i = 0; i < n; i++) {
            Request r = pool[slotOf(first, i)];
            account(r);
            ring.putResponse(r.id(), r.operation(), r.status());
        }
        if (ring.pushResponses()) {
            evtchn.notifyRemote();
            stats.notified();
        }
    }

    /** The pool slot of the {@code i}-th request of a batch starting at ring index {@code first}. */
    private int slotOf(int first, int i) {
        return (first + i) & (pool.length - 1);
    }

    /**
     * Zero copy where the storage maps the image: plain reads and writes are
     * grant-copied straight between the guest's pages and the image's memory.
     * Everything else goes through the slot's bounce buffer.
     */
    private void placeData(Request r, int s) {
        zeroCopy[s] = false;
        local[s] = bounce[s].clear(); // the last request in this slot may have left a shorter limit
        localBase[s] = 0;
        if (storageMapped && (r.kind() == Request.Kind.READ || r.kind() == Request.Kind.WRITE)) {
            ByteBuffer region = storage.region(r.sector(), bytes(r), r.kind() == Request.Kind.WRITE);
            if (region != null) {
                zeroCopy[s] = true;
                local[s] = region;
                localBase[s] = storage.regionOffset(r.sector());
            }
        }
    }

    /** Adds the request's segments; returns the index of the first one in the batch. */
    private int addSegments(GrantCopyBatch batch, Request r, int slotIndex, boolean toGuest) {
        int firstSegment = batch.count();
        ByteBuffer buf = local[slotIndex];
        int off = localBase[slotIndex];
        for (int seg = 0; seg < r.nrSegments(); seg++) {
            int len = r.segmentBytes(seg);
            batch.add(domid, r.gref(seg), r.segmentPageOffset(seg), len, toGuest, buf, off);
            off += len;
        }
        return firstSegment;
    }

    /**
     * Runs one direction's grant copy for the batch and fails each request
     * owning a failed segment ({@code firstSegment[slot]} says where each
     * request's segments are, -1 when it has none in this batch).
     */
    private void copyAndFail(GrantCopyBatch batch, int[] firstSegment, int first, int n) {
        int failed;
        try {
            failed = grants.copy(batch);
        } catch (InternalError e) {
            // SIGBUS on the image's mapping (image truncated): the copy may have stopped
            // anywhere, so every request that used the image in this direction fails
            rejections.warn("{}: the mapped image faulted ({}): is the filesystem holding it full, or was it"
                    + " truncated? Failing the batch's {} with errors", name, e.getMessage(),
                    batch == copyOut ? "reads" : "writes");
            for (int i = 0; i < n; i++) {
                int s = slotOf(first, i);
                if (firstSegment[s] >= 0 && zeroCopy[s]) {
                    pool[s].fail(Rejection.IO_ERROR);
                }
            }
            return;
        }
        if (failed == 0) {
            return;
        }
        for (int i = 0; i < n; i++) {
            int s = slotOf(first, i);
            Request r = pool[s];
            for (int seg = 0; firstSegment[s] >= 0 && seg < r.nrSegments(); seg++) {
                short st = batch.status(firstSegment[s] + seg);
                if (st != GrantCopyBatch.GNTST_OKAY && r.kind() != Request.Kind.REJECTED) {
                    rejections.warn("{}: request id {} ({}): grant {} of domain {} failed with status {}",
                            name, r.id(), Blkif.opName(r.operation()), r.gref(seg), domid, st);
                    r.fail(Rejection.BAD_GRANT);
                }
            }
        }
    }

    private void execute(Request r, int s) {
        if (zeroCopy[s] && r.kind() != Request.Kind.REJECTED) {
            return; // the grant copies were the I/O
        }
        ByteBuffer buf = bounce[s];
        try {
            switch (r.kind()) {
                case READ -> storage.read(r.sector(), buf.clear().limit(bytes(r)));
                case WRITE -> storage.write(r.sector(), buf.clear().limit(bytes(r)));
                case FLUSH, BARRIER -> {
                    // everything answered before this request is already done (we run in ring order);
                    // flush makes it stable, then the request's own data follows (QEMU's presync)
                    storage.flush();
                    if (r.nrSegments() > 0) {
                        storage.write(r.sector(), buf.clear().limit(bytes(r)));
                    }
                }
                case DISCARD -> storage.discard(r.sector(), r.nrSectors());
                case REJECTED -> { }
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
