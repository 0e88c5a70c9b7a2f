package io.xendisk.xen.sim.domain;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import io.xendisk.xen.XenPage;

/**
 * Layout of a grant table in Xen's grant_entry_v1 format
 * (xen/include/public/grant_table.h): 8 bytes per entry, {@code u16 flags}
 * at 0, {@code u16 domid} at 2 (the domain allowed access), {@code u32 frame}
 * at 4, little-endian. Flags and domid are read and updated together as one
 * 32-bit word ({@code flags | domid << 16}), as Xen does, so a check of the
 * grant and the setting of GTF_reading/GTF_writing are one compare-and-set.
 */
public final class GrantEntries {
    public static final int ENTRY_SIZE = 8;
    public static final int FLAGS = 0;
    public static final int DOMID = 2;
    public static final int FRAME = 4;

    public static final int GTF_INVALID = 0;
    public static final int GTF_PERMIT_ACCESS = 1;
    public static final int GTF_TYPE_MASK = 3;
    public static final int GTF_READONLY = 1 << 2;
    public static final int GTF_READING = 1 << 3;
    public static final int GTF_WRITING = 1 << 4;

    /** Refs 0..7 belong to the toolstack (xenstore, console): GNTTAB_NR_RESERVED_ENTRIES. */
    public static final int NR_RESERVED_ENTRIES = 8;

    /** GNTST_bad_page: the granted frame is not a page of the guest. Not in GrantCopyBatch. */
    public static final short GNTST_BAD_PAGE = -9;

    /** Default table size: 32 frames of v1 entries, Xen's default max_grant_frames. */
    public static final int DEFAULT_ENTRIES = 32 * XenPage.SIZE / ENTRY_SIZE;

    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private GrantEntries() {
    }

    /** The combined flags|domid word of {@code ref}, read with acquire semantics (frame is read after it). */
    static int header(ByteBuffer table, int ref) {
        return (int) INT.getAcquire(table, ref * ENTRY_SIZE);
    }

    static boolean casHeader(ByteBuffer table, int ref, int expected, int update) {
        return INT.compareAndSet(table, ref * ENTRY_SIZE, expected, update);
    }

    /** Publishes {@code header} after the frame (release): a reader that sees the flags sees the frame. */
    static void publish(ByteBuffer table, int ref, int header) {
        INT.setRelease(table, ref * ENTRY_SIZE, header);
    }

    static void clearBits(ByteBuffer table, int ref, int bits) {
        INT.getAndBitwiseAnd(table, ref * ENTRY_SIZE, ~bits);
    }

    static int frame(ByteBuffer table, int ref) {
        return (int) INT.get(table, ref * ENTRY_SIZE + FRAME);
    }

    static void setFrame(ByteBuffer table, int ref, int frame) {
        INT.set(table, ref * ENTRY_SIZE + FRAME, frame);
    }

    static int flags(int header) {
        return header & 0xFFFF;
    }

    static int domid(int header) {
        return header >>> 16;
    }

    static int header(int flags, int domid) {
        return (flags & 0xFFFF) | (domid << 16);
    }
}
