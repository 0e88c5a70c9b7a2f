package io.xendisk.blkif;

import io.xendisk.xen.XenPage;

/**
 * Layout of {@code struct blkif_sring} (xen/io/ring.h): four free-running
 * 32-bit indices, 48 bytes of padding, then the entries. The same for both ABIs.
 */
public final class SharedRing {
    public static final int REQ_PROD = 0;
    public static final int REQ_EVENT = 4;
    public static final int RSP_PROD = 8;
    public static final int RSP_EVENT = 12;
    public static final int HEADER_SIZE = 64;

    private SharedRing() {
    }

    /**
     * Entries in a ring of {@code pages} 4 KiB pages: the area after the header
     * divided by the stride, rounded down to a power of two (__RING_SIZE).
     */
    public static int size(Abi abi, int pages) {
        if (pages < 1) {
            throw new IllegalArgumentException("a ring needs at least one page: " + pages);
        }
        int n = (pages * XenPage.SIZE - HEADER_SIZE) / abi.stride;
        return Integer.highestOneBit(n);
    }

    /** Byte offset of entry {@code index} (free-running; masked here). */
    public static int entryOffset(Abi abi, int ringSize, int index) {
        return HEADER_SIZE + (index & (ringSize - 1)) * abi.stride;
    }
}
