package io.xendisk.blkif;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import io.xendisk.xen.XenPage;

/**
 * The backend's view of a shared blkif ring (the BACK_RING macros of
 * xen/io/ring.h) over a direct or mapped buffer holding the ring pages.
 *
 * <p>Indices are free-running unsigned 32-bit counters, so every comparison is
 * made on differences. The frontend writes {@code req_prod} and
 * {@code rsp_event} at any time: they are read with acquire semantics and
 * never trusted beyond one ring's worth of entries. Not thread-safe: one
 * thread per ring.
 */
public final class BackRing {
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    /** Returned by {@link #unconsumed()} when req_prod claims more than a ring of outstanding requests. */
    public static final int OVERFLOW = -1;

    private final ByteBuffer ring;
    private final Abi abi;
    private final int size;
    private int reqCons;
    private int rspProdPvt;

    /**
     * Attaches to a ring the frontend initialised (SHARED_RING_INIT). Starts at
     * the ring's current {@code rsp_prod}, which is 0 for a fresh ring and the
     * resume point for a ring reattached after a backend restart.
     */
    public BackRing(ByteBuffer area, Abi abi, int pages) {
        if (!area.isDirect()) {
            throw new IllegalArgumentException("ring must be a direct or mapped buffer");
        }
        if (area.capacity() < pages * XenPage.SIZE) {
            throw new IllegalArgumentException("ring buffer of " + area.capacity() + " bytes is smaller than "
                    + pages + " pages");
        }
        this.ring = area.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        this.abi = abi;
        this.size = SharedRing.size(abi, pages);
        this.rspProdPvt = (int) INT.getAcquire(ring, SharedRing.RSP_PROD);
        this.reqCons = rspProdPvt;
    }

    public int size() {
        return size;
    }

    public Abi abi() {
        return abi;
    }

    public int reqCons() {
        return reqCons;
    }

    public int rspProdPvt() {
        return rspProdPvt;
    }

    /** Requests taken but not yet answered. */
    public int inFlight() {
        return reqCons - rspProdPvt;
    }

    /** The raw req_prod, for logging a broken frontend. */
    public int reqProd() {
        return (int) INT.getAcquire(ring, SharedRing.REQ_PROD);
    }

    /**
     * How many requests may be taken now: those published and not yet taken,
     * but no more than there are free response slots
     * (XEN_RING_NR_UNCONSUMED_REQUESTS). {@link #OVERFLOW} when the producer
     * index is more than a ring ahead of our responses (RING_REQUEST_PROD_OVERFLOW).
     */
    public int unconsumed() {
        int rp = (int) INT.getAcquire(ring, SharedRing.REQ_PROD);
        if (Integer.compareUnsigned(rp - rspProdPvt, size) > 0) {
            return OVERFLOW;
        }
        int published = rp - reqCons;
        int free = size - (reqCons - rspProdPvt);
        return Math.min(published, free);
    }

    /**
     * Copies the next request slot into {@code dst} (at least {@link Abi#stride}
     * bytes) and advances req_cons. The copy is what gets parsed: the frontend
     * may rewrite the shared slot at any time (XSA-155).
     */
    public void takeRequest(byte[] dst) {
        ring.get(SharedRing.entryOffset(abi, size, reqCons), dst, 0, abi.stride);
        reqCons++;
    }

    /**
     * Writes the next response, field by field: only id, operation and status
     * are stored, so no padding bytes of ours reach the guest (XSA-216).
     */
    public void putResponse(long id, int operation, short status) {
        int off = SharedRing.entryOffset(abi, size, rspProdPvt);
        ring.putLong(off + Abi.RSP_ID_OFFSET, id);
        ring.put(off + Abi.RSP_OPERATION_OFFSET, (byte) operation);
        ring.putShort(off + Abi.RSP_STATUS_OFFSET, status);
        rspProdPvt++;
    }

    /**
     * Answers again a request a previous backend took and answered but did
     * not live to publish (see the backend's response journal): its slot now
     * holds that response, so it is written there once more and counted as
     * taken. Only at attach, before anything else is taken or answered.
     */
    public void replayResponse(long id, int operation, short status) {
        if (reqCons != rspProdPvt) {
            throw new IllegalStateException("responses are replayed only before requests are taken");
        }
        putResponse(id, operation, status);
        reqCons++;
    }

    /**
     * Publishes the responses written so far (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY).
     * @return true when the frontend asked to be notified (rsp_event within the pushed range)
     */
    public boolean pushResponses() {
        int old = (int) INT.getAcquire(ring, SharedRing.RSP_PROD);
        int now = rspProdPvt;
        if (old == now) {
            return false;
        }
        INT.setRelease(ring, SharedRing.RSP_PROD, now);
        VarHandle.fullFence(); // store rsp_prod before loading rsp_event (ring.h xen_mb)
        int event = (int) INT.getAcquire(ring, SharedRing.RSP_EVENT);
        return Integer.compareUnsigned(now - event, now - old) < 0;
    }

    /**
     * RING_FINAL_CHECK_FOR_REQUESTS: before sleeping, ask for a notification at
     * the next request and look once more, so a request published meanwhile is
     * not missed. True when there is work (or an overflow to report).
     */
    public boolean finalCheckForRequests() {
        if (unconsumed() != 0) {
            return true;
        }
        INT.setRelease(ring, SharedRing.REQ_EVENT, reqCons + 1);
        VarHandle.fullFence();
        return unconsumed() != 0;
    }
}
