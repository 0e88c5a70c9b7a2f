package io.xendisk.guest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.FrontRing;
import io.xendisk.blkif.SharedRing;
import io.xendisk.xen.XenPage;
import io.xendisk.xen.sim.domain.GuestMemory;
import io.xendisk.xen.sim.domain.SimDomain;
import io.xendisk.xen.sim.domain.SimEventChannel;

/**
 * The data path of one frontend: the shared ring (one page), its event
 * channel, and one request slot per ring entry, each with its data pages
 * (11, or as many as an INDIRECT request may carry when the backend offers
 * them, plus the slot's indirect pages) granted read-write to the backend
 * once, for the life of the ring (as Linux blkfront does with
 * feature-persistent). A request's id is its slot number.
 *
 * <p>Usage by one thread at a time: {@link #acquire()} a slot, put data in
 * {@link #buffer(int)}, {@link #queue} it, {@link #push()} once for the batch,
 * and {@link #complete} responses. Nothing here allocates per request.
 *
 * <p>Responses are not trusted (hardened Linux blkfront): an id that is not an
 * outstanding request, an operation that is not the request's (the
 * indirect_op for an INDIRECT one), or more responses than requests disable
 * the ring with "backend sent bad response".
 *
 * <p>A hostile test may put two requests with one id in flight
 * ({@link #shareId}); the id then stands for two responses, handed out to the
 * two slots in the order they were queued, since nothing on the wire tells
 * them apart.
 */
public final class BlkfrontIo implements AutoCloseable {
    /** Bytes one direct request can carry: 11 segments of a page each. */
    /** Linux's XENBUS_MAX_RING_GRANT_ORDER: rings of at most 16 pages. */
    public static final int MAX_RING_PAGE_ORDER = 4;
    public static final int MAX_REQUEST_BYTES = Blkif.MAX_SEGMENTS_PER_REQUEST * XenPage.SIZE;
    /** How long {@link #complete} polls the ring before sleeping on the event channel. */
    private static final long SPIN_NANOS = 20_000;

    /** Called for each response, in ring order, before its slot is freed. Must not queue requests. */
    @FunctionalInterface
    public interface Completion {
        void done(int slot, int status, long latencyNanos);
    }

    private final String name;
    private final SimDomain domain;
    private final int backendDomid;
    private final Abi abi;
    private final int handle;
    private final int ringFrame;
    private final int dataFrame;
    private int indirectFrame = -1;
    private boolean memoryFreed;
    private final int[] ringRefs;
    private int offeredSegments;
    private final FrontRing ring;
    private final SimEventChannel evtchn;
    private final int slots;
    private final int maxSegments;
    private final ByteBuffer[] data;
    private final int[][] grefs;
    /** Per slot: its indirect pages (descriptors) and their grants; empty without indirect requests. */
    private final ByteBuffer[] indirect;
    private final int[][] indirectGrefs;
    private final int[] zeros;
    private final int[] last;
    private final int[] ops;
    private final boolean[] inFlight;
    /** The id each slot's request carries: its own number, or that of the slot it shares an id with. */
    private final int[] wireId;
    /** The slot whose request carries this slot's id too, or -1. */
    private final int[] sharer;
    private final long[] started;
    private final int[] free;
    private int freeCount;
    private int outstanding;
    private volatile String broken;
    private boolean closed;
    private int[] unrevoked;
    private int unrevokedCount;

    /** A ring of direct requests only. */
    public BlkfrontIo(String name, SimDomain domain, int backendDomid, Abi abi, int handle) {
        this(name, domain, backendDomid, abi, handle, Blkif.MAX_SEGMENTS_PER_REQUEST);
    }

    /**
     * Allocates and initialises the ring page (SHARED_RING_INIT), grants it and
     * the data pages to {@code backendDomid} and allocates the unbound event
     * channel for it.
     * @param maxSegments segments per request: 11, or more to use INDIRECT requests of up to that many
     */
    public BlkfrontIo(String name, SimDomain domain, int backendDomid, Abi abi, int handle, int maxSegments) {
        this(name, domain, backendDomid, abi, handle, maxSegments, 0);
    }

    /**
     * The same with a ring of {@code 2^ringPageOrder} pages (blkif.h ring-page-order;
     * 32 requests a page up to 512 for 16), granted page by page as ring-ref0..N-1.
     */
    public BlkfrontIo(String name, SimDomain domain, int backendDomid, Abi abi, int handle, int maxSegments,
                      int ringPageOrder) {
        if (ringPageOrder < 0 || ringPageOrder > MAX_RING_PAGE_ORDER) {
            throw new IllegalArgumentException(name + ": ring page order 0.." + MAX_RING_PAGE_ORDER + ", not " + ringPageOrder);
        }
        if (maxSegments < Blkif.MAX_SEGMENTS_PER_REQUEST
                || maxSegments > Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * Blkif.SEGMENTS_PER_INDIRECT_PAGE) {
            throw new IllegalArgumentException(name + ": segments per request: 11.."
                    + Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * Blkif.SEGMENTS_PER_INDIRECT_PAGE + ", not " + maxSegments);
        }
        this.name = name;
        this.domain = domain;
        this.backendDomid = backendDomid;
        this.abi = abi;
        this.handle = handle & 0xFFFF;
        this.maxSegments = maxSegments;
        this.offeredSegments = maxSegments;
        GuestMemory mem = domain.memory();
        int ringPages = 1 << ringPageOrder;
        this.ringFrame = mem.allocate(ringPages);
        this.ring = FrontRing.init(mem.pages(ringFrame, ringPages), abi, ringPages);
        this.slots = ring.size();
        this.ringRefs = new int[ringPages];
        for (int p = 0; p < ringPages; p++) {
            ringRefs[p] = domain.grants().grantAccess(ringFrame + p, backendDomid, false);
        }
        int pages = maxSegments;
        int first = mem.allocate(slots * pages);
        this.dataFrame = first;
        this.data = new ByteBuffer[slots];
        this.grefs = new int[slots][pages];
        for (int s = 0; s < slots; s++) {
            data[s] = mem.pages(first + s * pages, pages).order(ByteOrder.LITTLE_ENDIAN);
            for (int p = 0; p < pages; p++) {
                // read-write for every request: the backend writes read data into them
                grefs[s][p] = domain.grants().grantAccess(first + s * pages + p, backendDomid, false);
            }
        }
        int indirectPages = maxSegments > Blkif.MAX_SEGMENTS_PER_REQUEST ? Blkif.indirectPages(maxSegments) : 0;
        this.indirect = new ByteBuffer[slots];
        this.indirectGrefs = new int[slots][indirectPages];
        if (indirectPages > 0) {
            int firstIndirect = mem.allocate(slots * indirectPages);
            this.indirectFrame = firstIndirect;
            for (int s = 0; s < slots; s++) {
                indirect[s] = mem.pages(firstIndirect + s * indirectPages, indirectPages).order(ByteOrder.LITTLE_ENDIAN);
                for (int p = 0; p < indirectPages; p++) {
                    // read-write as Linux grants them, so a backend may keep them mapped
                    indirectGrefs[s][p] = domain.grants().grantAccess(firstIndirect + s * indirectPages + p, backendDomid, false);
                }
            }
        }
        this.zeros = new int[maxSegments];
        this.last = new int[maxSegments];
        this.evtchn = domain.allocUnbound(backendDomid);
        this.ops = new int[slots];
        this.inFlight = new boolean[slots];
        this.wireId = new int[slots];
        this.sharer = new int[slots];
        for (int s = 0; s < slots; s++) {
            wireId[s] = s;
            sharer[s] = -1;
        }
        this.started = new long[slots];
        this.free = new int[slots];
        for (int s = slots - 1; s >= 0; s--) {
            free[freeCount++] = s;
        }
    }

    /** The grant of the ring's first page: a one-page ring's ring-ref. */
    public int ringRef() {
        return ringRefs[0];
    }

    /** The grants of the ring's pages in order, ring-ref0..N-1 of a multi-page ring. */
    public int[] ringRefs() {
        return ringRefs.clone();
    }

    /** log2 of the ring's pages: what the frontend publishes as ring-page-order. */
    public int ringPageOrder() {
        return Integer.numberOfTrailingZeros(ringRefs.length);
    }

    public int eventChannel() {
        return evtchn.localPort();
    }

    /** The domain the ring and pages are granted to. */
    public int backendDomid() {
        return backendDomid;
    }

    public Abi abi() {
        return abi;
    }

    /** Request slots (= ring entries): the deepest queue possible. */
    public int slots() {
        return slots;
    }

    /** Requests queued and not yet answered. */
    public int outstanding() {
        return outstanding;
    }

    /** Why the ring was disabled, or null while usable. */
    public String broken() {
        return broken;
    }

    /** Disables the ring for good (a bad response, or a hostile test that corrupted it). */
    public void disable(String why) {
        if (broken == null) {
            broken = why;
        }
    }

    /** A free slot, or -1 when all are in flight. */
    public int acquire() {
        checkUsable();
        return freeCount == 0 ? -1 : free[--freeCount];
    }

    /** Slots free to acquire now (a slot whose id another request still carries is not). */
    public int freeSlots() {
        return freeCount;
    }

    /** Gives back a slot that was acquired but not queued. */
    public void release(int slot) {
        if (!inFlight[slot]) {
            if (wireId[slot] != slot) {
                sharer[wireId[slot]] = -1;
                wireId[slot] = slot;
            }
            free[freeCount++] = slot;
        }
    }

    /** Segments one request can carry (11 without INDIRECT requests). */
    /**
     * What the backend offered per request (feature-max-indirect-segments, or 11), which
     * may be more than this ring uses: a request past it is one the backend must refuse.
     */
    public int offeredSegments() {
        return offeredSegments;
    }

    /** Records the backend's offer (see {@link #offeredSegments()}). */
    void backendOffers(int segments) {
        offeredSegments = segments;
    }

    public int maxSegments() {
        return maxSegments;
    }

    /** Bytes one request can carry. */
    public int maxRequestBytes() {
        return maxSegments * XenPage.SIZE;
    }

    /** The slot's data pages, little-endian; a request's data starts at offset 0. */
    public ByteBuffer buffer(int slot) {
        return data[slot];
    }

    /** The grant reference of page {@code page} of a slot's buffer. */
    public int gref(int slot, int page) {
        return grefs[slot][page];
    }

    /**
     * Puts a READ or WRITE of {@code nrSectors} 512-byte sectors (up to
     * {@link #maxRequestBytes()}) at {@code sector} on the ring, its data in
     * the slot's buffer from offset 0, as an INDIRECT request when it needs
     * more than 11 segments; or a FLUSH/BARRIER with {@code nrSectors} 0.
     * Visible to the backend after {@link #push()}.
     */
    public void queue(int slot, int op, long sector, int nrSectors) {
        if (nrSectors < 0 || nrSectors > maxRequestBytes() / Blkif.SECTOR_SIZE) {
            throw new IllegalArgumentException(name + ": a request carries 0.."
                    + maxRequestBytes() / Blkif.SECTOR_SIZE + " sectors, not " + nrSectors);
        }
        int segs = (nrSectors + Blkif.SECTORS_PER_PAGE - 1) / Blkif.SECTORS_PER_PAGE;
        for (int i = 0; i < segs; i++) {
            last[i] = Math.min(Blkif.SECTORS_PER_PAGE, nrSectors - i * Blkif.SECTORS_PER_PAGE) - 1;
        }
        if (segs > Blkif.MAX_SEGMENTS_PER_REQUEST) {
            queueIndirectRaw(slot, op, sector, segs, grefs[slot], zeros, last, indirectGrefs[slot]);
        } else {
            queueRaw(slot, op, sector, segs, grefs[slot], zeros, last);
        }
    }

    /**
     * Queues a DISCARD of {@code nrSectors} 512-byte sectors from {@code sector}
     * (the {@code secure} flag only where discard-secure was offered); no data pages.
     */
    public void queueDiscard(int slot, long sector, long nrSectors, boolean secure) {
        checkUsable();
        if (inFlight[slot]) {
            throw new IllegalStateException(name + ": slot " + slot + " is already in flight");
        }
        ring.putDiscard(wireId[slot], sector, nrSectors, secure);
        started(slot, Blkif.OP_DISCARD);
    }

    /**
     * Puts any request on the ring with the slot's number as its id (or the
     * one it shares, {@link #shareId}), exactly as given (hostile tests); the
     * response must carry {@code op}.
     * {@code nrSegments} may exceed 11: only 11 descriptors are written.
     */
    public void queueRaw(int slot, int op, long sector, int nrSegments, int[] segGrefs, int[] firstSect, int[] lastSect) {
        checkUsable();
        if (inFlight[slot]) {
            throw new IllegalStateException(name + ": slot " + slot + " is already in flight");
        }
        int written = Math.min(nrSegments, Blkif.MAX_SEGMENTS_PER_REQUEST);
        ring.putRequest(op, wireId[slot], sector, handle, segGrefs, firstSect, lastSect, written);
        if (written != nrSegments) {
            ring.buffer().put(lastRequestOffset() + Abi.NR_SEGMENTS_OFFSET, (byte) nrSegments);
        }
        started(slot, op);
    }

    /**
     * Puts an INDIRECT request with the slot's number (or shared) id: writes the
     * descriptors (as many as fit the slot's indirect pages; none on a ring
     * set up without INDIRECT requests) there and names {@code pageGrefs} as
     * its indirect pages, exactly as given (hostile tests pass other
     * references or counts); the response must carry {@code indirectOp}.
     */
    public void queueIndirectRaw(int slot, int indirectOp, long sector, int nrSegments, int[] segGrefs,
                                 int[] firstSect, int[] lastSect, int[] pageGrefs) {
        checkUsable();
        if (inFlight[slot]) {
            throw new IllegalStateException(name + ": slot " + slot + " is already in flight");
        }
        ByteBuffer d = indirect[slot];
        int written = d == null ? 0 : Math.min(Math.min(nrSegments, segGrefs.length), d.capacity() / Abi.SEGMENT_SIZE);
        for (int i = 0; i < written; i++) {
            Abi.putSegment(d, i * Abi.SEGMENT_SIZE, segGrefs[i], firstSect[i], lastSect[i]);
        }
        ring.putIndirect(indirectOp, wireId[slot], sector, handle, nrSegments, pageGrefs);
        started(slot, indirectOp);
    }

    /**
     * Makes the next request queued on {@code slot} carry the id of the
     * request in flight on {@code other} (a hostile frontend's duplicate id).
     * {@code other} is not given out again until both are answered.
     */
    public void shareId(int slot, int other) {
        if (inFlight[slot] || !inFlight[other] || sharer[other] >= 0 || wireId[other] != other || slot == other) {
            throw new IllegalStateException(name + ": slot " + slot + " cannot share the id of slot " + other);
        }
        wireId[slot] = other;
        sharer[other] = slot;
    }

    /** The grant references of a slot's indirect pages (empty without INDIRECT requests). */
    public int[] indirectGrefs(int slot) {
        return indirectGrefs[slot];
    }

    private void started(int slot, int op) {
        ops[slot] = op & 0xFF;
        inFlight[slot] = true;
        outstanding++;
        started[slot] = System.nanoTime();
    }

    private int lastRequestOffset() {
        return SharedRing.entryOffset(abi, ring.size(), ring.reqProdPvt() - 1);
    }

    /**
     * Publishes the queued requests and kicks the backend only if it asked
     * for it (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).
     * @return whether a notification was sent
     */
    public boolean push() {
        if (ring.pushRequests()) {
            evtchn.notifyRemote();
            return true;
        }
        return false;
    }

    /**
     * Takes the responses available, waiting up to {@code timeoutNanos} for
     * the first: polls briefly, then RING_FINAL_CHECK_FOR_RESPONSES and
     * sleeps on the event channel.
     * @return responses handled (0 on timeout)
     * @throws BlkfrontException when the backend sent a bad response (the ring is then disabled)
     */
    public int complete(Completion c, long timeoutNanos) throws InterruptedException {
        int n = drain(c);
        if (n > 0 || outstanding == 0) {
            return n;
        }
        long now = System.nanoTime();
        long spinEnd = now + Math.min(SPIN_NANOS, timeoutNanos);
        while (ring.unconsumedResponses() == 0 && System.nanoTime() < spinEnd) {
            Thread.onSpinWait();
        }
        long deadline = now + timeoutNanos;
        for (;;) {
            if (ring.finalCheckForResponses()) {
                return drain(c);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return 0;
            }
            evtchn.await(left);
        }
    }

    private int drain(Completion c) {
        int n = 0;
        for (;;) {
            int avail = ring.unconsumedResponses();
            if (avail == 0) {
                return n;
            }
            if (avail < 0 || avail > outstanding) {
                throw bad("rsp_prod is " + avail + " responses ahead with " + outstanding + " requests outstanding");
            }
            for (int i = 0; i < avail; i++) {
                long id = ring.responseId();
                int op = ring.responseOperation();
                int status = ring.responseStatus();
                ring.takeResponse();
                int slot = id < 0 || id >= slots || wireId[(int) id] != id ? -1 : (int) id;
                if (slot >= 0 && !inFlight[slot]) {
                    slot = sharer[slot] >= 0 && inFlight[sharer[slot]] ? sharer[slot] : -1;
                }
                if (slot < 0) {
                    throw bad("response id " + Long.toUnsignedString(id) + " is not an outstanding request");
                }
                if (op != ops[slot]) {
                    throw bad("response for id " + id + " has operation " + op + ", the request had " + ops[slot]);
                }
                long latency = System.nanoTime() - started[slot];
                try {
                    c.done(slot, status, latency);
                } finally {
                    inFlight[slot] = false;
                    outstanding--;
                    freeAnswered(slot);
                }
                n++;
            }
        }
    }

    /** Frees an answered slot, unless its id is still out on another request. */
    private void freeAnswered(int slot) {
        int owner = wireId[slot];
        if (owner != slot) {
            // the second of two requests with one id: both slots are done with it
            wireId[slot] = slot;
            sharer[owner] = -1;
            free[freeCount++] = slot;
            free[freeCount++] = owner;
        } else if (sharer[slot] < 0) {
            free[freeCount++] = slot;
        }
    }

    private BlkfrontException bad(String what) {
        disable("backend sent bad response: " + what);
        return new BlkfrontException(name + ": backend sent bad response: " + what + "; device disabled");
    }

    private void checkUsable() {
        String b = broken;
        if (b != null) {
            throw new BlkfrontException(name + ": " + b);
        }
        if (closed) {
            throw new BlkfrontException(name + ": ring closed");
        }
    }

    /** The ring itself, for hostile tests that break its rules. */
    FrontRing ring() {
        return ring;
    }

    SimEventChannel eventChannelPort() {
        return evtchn;
    }

    SimDomain domain() {
        return domain;
    }

    /**
     * Closes the event channel and ends the backend's access to the ring and
     * data pages. A grant the backend still uses cannot be revoked (Linux
     * defers such pages too): it is kept for {@link #revokeRemaining()}.
     * @return grants still granted
     */
    public int closeAndRevoke() {
        if (!closed) {
            closed = true;
            evtchn.close();
            unrevoked = new int[ringRefs.length + slots * (maxSegments + indirectGrefs[0].length)];
            for (int ref : ringRefs) {
                unrevoked[unrevokedCount++] = ref;
            }
            for (int[] g : grefs) {
                for (int ref : g) {
                    unrevoked[unrevokedCount++] = ref;
                }
            }
            for (int[] g : indirectGrefs) {
                for (int ref : g) {
                    unrevoked[unrevokedCount++] = ref;
                }
            }
        }
        return revokeRemaining();
    }

    /** Tries again to end access to grants the backend was still using; returns how many remain. */
    public int revokeRemaining() {
        int kept = 0;
        for (int i = 0; i < unrevokedCount; i++) {
            int ref = unrevoked[i];
            boolean ended;
            try {
                ended = domain.grants().endAccess(ref);
            } catch (IllegalStateException e) {
                ended = true; // already revoked (a hostile test did it)
            }
            if (!ended) {
                unrevoked[kept++] = ref;
            }
        }
        unrevokedCount = kept;
        if (kept == 0 && closed && !memoryFreed) {
            // no grant refers to the pages any more: a later ring of this guest may reuse them
            memoryFreed = true;
            GuestMemory mem = domain.memory();
            mem.free(ringFrame, ringRefs.length);
            mem.free(dataFrame, slots * maxSegments);
            if (indirectFrame >= 0) {
                mem.free(indirectFrame, slots * indirectGrefs[0].length);
            }
        }
        return kept;
    }

    @Override
    public void close() {
        closeAndRevoke();
    }
}
