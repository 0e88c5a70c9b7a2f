package io.xendisk.blkif;

/**
 * The two x86 layouts of blkif requests (xen/io/blkif.h, offsets computed from
 * the 4.17 headers with gcc -m64 / -m32, PROTOCOL.md §1.2). They differ only in
 * the alignment of 64-bit fields, hence in the position of {@code id} and
 * everything after it, and in the ring entry stride.
 */
public enum Abi {
    X86_64(112, 8, 16, 24, 24, 24, 28, 16),
    X86_32(108, 4, 12, 20, 20, 20, 24, 12);

    /** Size of one ring entry (the request/response union). */
    public final int stride;
    /** {@code id} (u64) in every request kind. */
    public final int idOffset;
    /** {@code sector_number} (u64) in every request kind. */
    public final int sectorOffset;
    /** First {@code blkif_request_segment} of a direct request. */
    public final int segmentsOffset;
    /** {@code nr_sectors} (u64) of a discard request. */
    public final int discardSectorsOffset;
    /** {@code handle} (u16) of an indirect request. */
    public final int indirectHandleOffset;
    /** First {@code indirect_grefs} entry (u32) of an indirect request. */
    public final int indirectGrefsOffset;
    /** Size of a response; the slot stride stays {@link #stride}. */
    public final int responseSize;

    /** Common to both: operation u8 @0, nr_segments u8 @1, handle u16 @2. */
    public static final int OPERATION_OFFSET = 0;
    public static final int NR_SEGMENTS_OFFSET = 1;
    public static final int HANDLE_OFFSET = 2;
    /** Of a discard request: flag u8 @1. Of an indirect one: indirect_op u8 @1, nr_segments u16 @2. */
    public static final int DISCARD_FLAG_OFFSET = 1;
    public static final int INDIRECT_OP_OFFSET = 1;
    public static final int INDIRECT_NR_SEGMENTS_OFFSET = 2;
    /** blkif_request_segment, in a slot and in an indirect page alike: gref u32 @0, first_sect u8 @4, last_sect u8 @5; 8 bytes. */
    public static final int SEGMENT_SIZE = 8;
    public static final int SEGMENT_GREF_OFFSET = 0;
    public static final int SEGMENT_FIRST_SECT_OFFSET = 4;
    public static final int SEGMENT_LAST_SECT_OFFSET = 5;
    /** Response: id u64 @0, operation u8 @8, status i16 @10 in both layouts. */
    public static final int RSP_ID_OFFSET = 0;
    public static final int RSP_OPERATION_OFFSET = 8;
    public static final int RSP_STATUS_OFFSET = 10;

    /** Writes one segment descriptor at {@code off} of a little-endian buffer (a slot, or an indirect page). */
    public static void putSegment(java.nio.ByteBuffer b, int off, int gref, int firstSect, int lastSect) {
        b.putInt(off + SEGMENT_GREF_OFFSET, gref);
        b.put(off + SEGMENT_FIRST_SECT_OFFSET, (byte) firstSect);
        b.put(off + SEGMENT_LAST_SECT_OFFSET, (byte) lastSect);
        b.putShort(off + SEGMENT_LAST_SECT_OFFSET + 1, (short) 0); // the padding, zeroed
    }

    Abi(int stride, int idOffset, int sectorOffset, int segmentsOffset, int discardSectorsOffset,
        int indirectHandleOffset, int indirectGrefsOffset, int responseSize) {
        this.stride = stride;
        this.idOffset = idOffset;
        this.sectorOffset = sectorOffset;
        this.segmentsOffset = segmentsOffset;
        this.discardSectorsOffset = discardSectorsOffset;
        this.indirectHandleOffset = indirectHandleOffset;
        this.indirectGrefsOffset = indirectGrefsOffset;
        this.responseSize = responseSize;
    }

    /** The value of the frontend's {@code protocol} node for this layout (xen/io/protocols.h). */
    public String protocol() {
        return this == X86_64 ? "x86_64-abi" : "x86_32-abi";
    }

    /** The layout a {@code protocol} node asks for: absent means native (x86_64 here); null when unknown. */
    public static Abi ofProtocol(String protocol) {
        if (protocol == null) {
            return X86_64;
        }
        for (Abi a : values()) {
            if (a.protocol().equals(protocol)) {
                return a;
            }
        }
        return null;
    }
}
