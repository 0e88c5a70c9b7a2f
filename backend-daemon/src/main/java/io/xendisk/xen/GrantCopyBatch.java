package io.xendisk.xen;

import java.nio.ByteBuffer;

/**
 * A reusable batch of grant copy segments (xengnttab_grant_copy_segment):
 * each moves {@code len} bytes between a granted page of a foreign domain and
 * local memory. Preallocated per ring and refilled for every batch, so the
 * hot path allocates nothing.
 */
public final class GrantCopyBatch {
    /** GNTST_okay and the failure codes of xen/grant_table.h that we report. */
    public static final short GNTST_OKAY = 0;
    public static final short GNTST_GENERAL_ERROR = -1;
    public static final short GNTST_BAD_DOMAIN = -2;
    public static final short GNTST_BAD_GNTREF = -3;
    public static final short GNTST_PERMISSION_DENIED = -8;

    private final int capacity;
    private final int[] domid;
    private final int[] gref;
    private final int[] pageOffset;
    private final int[] len;
    private final boolean[] toGuest;
    private final ByteBuffer[] local;
    private final int[] localOffset;
    private final short[] status;
    private int count;

    public GrantCopyBatch(int capacity) {
        this.capacity = capacity;
        domid = new int[capacity];
        gref = new int[capacity];
        pageOffset = new int[capacity];
        len = new int[capacity];
        toGuest = new boolean[capacity];
        local = new ByteBuffer[capacity];
        localOffset = new int[capacity];
        status = new short[capacity];
    }

    public void clear() {
        for (int i = 0; i < count; i++) {
            local[i] = null;
        }
        count = 0;
    }

    /**
     * Adds a segment: copy {@code len} bytes between page {@code gref} of
     * {@code domid} at {@code pageOffset} and {@code local} at absolute index
     * {@code localOffset}; towards the guest when {@code toGuest}.
     * @return the segment's index in this batch
     */
    public int add(int domid, int gref, int pageOffset, int len, boolean toGuest, ByteBuffer local, int localOffset) {
        if (count == capacity) {
            throw new IllegalStateException("grant copy batch full (" + capacity + " segments)");
        }
        if (!inRange(pageOffset, len, XenPage.SIZE)) {
            throw new IllegalArgumentException("segment exceeds its page: offset " + pageOffset + " len " + len);
        }
        int i = count++;
        this.domid[i] = domid;
        this.gref[i] = gref;
        this.pageOffset[i] = pageOffset;
        this.len[i] = len;
        this.toGuest[i] = toGuest;
        this.local[i] = local;
        this.localOffset[i] = localOffset;
        this.status[i] = GNTST_OKAY;
        return i;
    }

    /**
     * The one rule for a segment's range, on the page side ({@code size} a Xen page)
     * and the local side (the buffer's capacity) alike: {@code offset >= 0},
     * {@code len > 0}, {@code offset + len <= size}, the sum computed without
     * overflow.
     */
    public static boolean inRange(int offset, int len, int size) {
        return offset >= 0 && len > 0 && len <= size - offset;
    }

    /**
     * Whether segment {@code i}'s local side may be copied: its range lies in
     * the buffer by {@link #inRange} (absolute indexes up to the capacity:
     * position and limit are the caller's business), and guest data does not
     * go into a read-only buffer. A segment that fails this is a
     * GNTST_general_error of its own, never an exception: the local side is
     * checked by each grant table before the copy, since the kernel would
     * copy into any of our memory.
     */
    public boolean localUsable(int i) {
        ByteBuffer b = local[i];
        return b != null && inRange(localOffset[i], len[i], b.capacity()) && (toGuest[i] || !b.isReadOnly());
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return capacity;
    }

    public int domid(int i) {
        return domid[i];
    }

    public int gref(int i) {
        return gref[i];
    }

    public int pageOffset(int i) {
        return pageOffset[i];
    }

    public int len(int i) {
        return len[i];
    }

    public boolean toGuest(int i) {
        return toGuest[i];
    }

    public ByteBuffer local(int i) {
        return local[i];
    }

    public int localOffset(int i) {
        return localOffset[i];
    }

    public short status(int i) {
        return status[i];
    }

    public void setStatus(int i, short s) {
        status[i] = s;
    }
}
