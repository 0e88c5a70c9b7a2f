package io.xendisk.blkif;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The frontend's side of a blkif ring (FRONT_RING macros of xen/io/ring.h):
 * what the simulated guest's blkfront uses, and what tests use to drive a
 * {@link BackRing} exactly as a guest would. Not thread-safe.
 */
public final class FrontRing {
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer ring;
    private final Abi abi;
    private final int size;
    private int reqProdPvt;
    private int rspCons;

    private FrontRing(ByteBuffer area, Abi abi, int pages) {
        this.ring = area.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        this.abi = abi;
        this.size = SharedRing.size(abi, pages);
    }

    /** SHARED_RING_INIT + FRONT_RING_INIT: indices zero, both event thresholds 1, padding cleared. */
    public static FrontRing init(ByteBuffer area, Abi abi, int pages) {
        FrontRing f = new FrontRing(area, abi, pages);
        for (int i = 0; i < SharedRing.HEADER_SIZE; i += 4) {
            f.ring.putInt(i, 0);
        }
        INT.setRelease(f.ring, SharedRing.REQ_EVENT, 1);
        INT.setRelease(f.ring, SharedRing.RSP_EVENT, 1);
        return f;
    }

    public int size() {
        return size;
    }

    public int reqProdPvt() {
        return reqProdPvt;
    }

    /** Free request slots (RING_FREE_REQUESTS). */
    public int freeRequests() {
        return size - (reqProdPvt - rspCons);
    }

    /** Byte offset of the next request slot, for writing a request by hand (hostile tests). */
    public int nextRequestOffset() {
        return SharedRing.entryOffset(abi, size, reqProdPvt);
    }

    /** The ring's buffer (little-endian view). */
    public ByteBuffer buffer() {
        return ring;
    }

    /**
     * Writes a direct request (READ/WRITE/FLUSH/BARRIER) into the next slot.
     * Each segment is {gref, first_sect, last_sect}.
     */
    public void putRequest(int op, long id, long sector, int handle, int[] grefs, int[] first, int[] last, int nrSegments) {
        int off = nextRequestOffset();
        ring.put(off + Abi.OPERATION_OFFSET, (byte) op);
        ring.put(off + Abi.NR_SEGMENTS_OFFSET, (byte) nrSegments);
        ring.putShort(off + Abi.HANDLE_OFFSET, (short) handle);
        ring.putLong(off + abi.idOffset, id);
        ring.putLong(off + abi.sectorOffset, sector);
        for (int i = 0; i < nrSegments; i++) {
            Abi.putSegment(ring, off + abi.segmentsOffset + i * Abi.SEGMENT_SIZE, grefs[i], first[i], last[i]);
        }
        reqProdPvt++;
    }

    /**
     * Writes an INDIRECT request into the next slot: {@code nrSegments}
     * descriptors are in the pages {@code indirectGrefs} grants (already
     * written there by the caller). At most the request's eight page
     * references are written, however many segments a hostile test claims.
     */
    public void putIndirect(int indirectOp, long id, long sector, int handle, int nrSegments, int[] indirectGrefs) {
        int off = nextRequestOffset();
        ring.put(off + Abi.OPERATION_OFFSET, (byte) Blkif.OP_INDIRECT);
        ring.put(off + Abi.INDIRECT_OP_OFFSET, (byte) indirectOp);
        ring.putShort(off + Abi.INDIRECT_NR_SEGMENTS_OFFSET, (short) nrSegments);
        ring.putLong(off + abi.idOffset, id);
        ring.putLong(off + abi.sectorOffset, sector);
        ring.putShort(off + abi.indirectHandleOffset, (short) handle);
        int pages = Math.min(Math.min(Blkif.indirectPages(nrSegments & 0xFFFF), Blkif.MAX_INDIRECT_PAGES_PER_REQUEST),
                indirectGrefs.length);
        for (int i = 0; i < pages; i++) {
            ring.putInt(off + abi.indirectGrefsOffset + i * 4, indirectGrefs[i]);
        }
        reqProdPvt++;
    }

    /** Writes a DISCARD request into the next slot. */
    public void putDiscard(long id, long sector, long nrSectors, boolean secure) {
        int off = nextRequestOffset();
        ring.put(off + Abi.OPERATION_OFFSET, (byte) Blkif.OP_DISCARD);
        ring.put(off + Abi.DISCARD_FLAG_OFFSET, (byte) (secure ? 1 : 0));
        ring.putLong(off + abi.idOffset, id);
        ring.putLong(off + abi.sectorOffset, sector);
        ring.putLong(off + abi.discardSectorsOffset, nrSectors);
        reqProdPvt++;
    }

    /** Advances the private producer index past a slot written by hand. */
    public void skipRequest() {
        reqProdPvt++;
    }

    /**
     * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
     * @return true when the backend asked to be notified
     */
    public boolean pushRequests() {
        int old = (int) INT.getAcquire(ring, SharedRing.REQ_PROD);
        int now = reqProdPvt;
        INT.setRelease(ring, SharedRing.REQ_PROD, now);
        VarHandle.fullFence();
        int event = (int) INT.getAcquire(ring, SharedRing.REQ_EVENT);
        return Integer.compareUnsigned(now - event, now - old) < 0;
    }

    /** Sets req_prod to any value: how a hostile frontend breaks the ring. */
    public void forceReqProd(int value) {
        INT.setRelease(ring, SharedRing.REQ_PROD, value);
    }

    /** Responses published and not yet taken. */
    public int unconsumedResponses() {
        return (int) INT.getAcquire(ring, SharedRing.RSP_PROD) - rspCons;
    }

    /** Response id at the next unconsumed slot; call {@link #takeResponse()} after reading it. */
    public long responseId() {
        return ring.getLong(SharedRing.entryOffset(abi, size, rspCons) + Abi.RSP_ID_OFFSET);
    }

    public int responseOperation() {
        return ring.get(SharedRing.entryOffset(abi, size, rspCons) + Abi.RSP_OPERATION_OFFSET) & 0xFF;
    }

    public short responseStatus() {
        return ring.getShort(SharedRing.entryOffset(abi, size, rspCons) + Abi.RSP_STATUS_OFFSET);
    }

    public void takeResponse() {
        rspCons++;
    }

    /** RING_FINAL_CHECK_FOR_RESPONSES. */
    public boolean finalCheckForResponses() {
        if (unconsumedResponses() > 0) {
            return true;
        }
        INT.setRelease(ring, SharedRing.RSP_EVENT, rspCons + 1);
        VarHandle.fullFence();
        return unconsumedResponses() > 0;
    }
}
