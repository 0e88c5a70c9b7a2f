package io.xendisk.xen.real;

import com.sun.jna.Pointer;

/**
 * Layout of {@code xengnttab_grant_copy_segment} on x86_64 (24 bytes; the
 * same as gntdev's {@code ioctl_gntdev_grant_copy_segment}), checked with
 * gcc against Debian 12's xengnttab.h:
 *
 * <pre>
 *  0  source: void *virt | { u32 ref @0; u16 offset @4; u16 domid @6 }
 *  8  dest:   same union
 * 16  u16 len
 * 18  u16 flags   GNTCOPY_source_gref 1, GNTCOPY_dest_gref 2
 * 20  i16 status  GNTST_*, written by the kernel
 * 22  (padding)
 * </pre>
 * Native byte order (little endian on x86_64).
 */
public final class CopySegmentLayout {
    public static final int SIZE = 24;
    public static final int SOURCE = 0;
    public static final int DEST = 8;
    public static final int LEN = 16;
    public static final int FLAGS = 18;
    public static final int STATUS = 20;
    /** Inside the union's foreign variant. */
    public static final int FOREIGN_REF = 0;
    public static final int FOREIGN_OFFSET = 4;
    public static final int FOREIGN_DOMID = 6;

    public static final short GNTCOPY_SOURCE_GREF = 1;
    public static final short GNTCOPY_DEST_GREF = 2;

    /** Written into status before the call: not a GNTST value, so a segment the kernel skipped is noticed. */
    static final short STATUS_UNTOUCHED = 1;

    private CopySegmentLayout() {
    }

    /**
     * Writes segment {@code i} of the array at {@code base}: a copy of
     * {@code len} bytes between page {@code ref} of {@code domid} at
     * {@code pageOffset} and local address {@code virt}; towards the guest
     * when {@code toGuest}.
     */
    public static void put(Pointer base, int i, int domid, int ref, int pageOffset, int len, boolean toGuest, long virt) {
        long o = (long) i * SIZE;
        long foreign = o + (toGuest ? DEST : SOURCE);
        long local = o + (toGuest ? SOURCE : DEST);
        base.setInt(foreign + FOREIGN_REF, ref);
        base.setShort(foreign + FOREIGN_OFFSET, (short) pageOffset);
        base.setShort(foreign + FOREIGN_DOMID, (short) domid);
        base.setLong(local, virt);
        base.setShort(o + LEN, (short) len);
        base.setShort(o + FLAGS, toGuest ? GNTCOPY_DEST_GREF : GNTCOPY_SOURCE_GREF);
        base.setShort(o + STATUS, STATUS_UNTOUCHED);
        base.setShort(o + STATUS + 2, (short) 0);
    }

    public static short status(Pointer base, int i) {
        return base.getShort((long) i * SIZE + STATUS);
    }
}
