package io.xendisk.blkif;

import io.xendisk.xen.XenPage;

/** Protocol constants of xen/io/blkif.h. */
public final class Blkif {
    public static final int OP_READ = 0;
    public static final int OP_WRITE = 1;
    public static final int OP_WRITE_BARRIER = 2;
    public static final int OP_FLUSH_DISKCACHE = 3;
    public static final int OP_RESERVED_1 = 4;
    public static final int OP_DISCARD = 5;
    /** Flag bit of a DISCARD request: the freed data must be unrecoverable (discard-secure). */
    public static final int DISCARD_SECURE = 0x1;
    public static final int OP_INDIRECT = 6;

    public static final short RSP_OKAY = 0;
    public static final short RSP_ERROR = -1;
    public static final short RSP_EOPNOTSUPP = -2;

    /** BLKIF_MAX_SEGMENTS_PER_REQUEST: chosen so that 32 requests fit in one page. */
    public static final int MAX_SEGMENTS_PER_REQUEST = 11;
    /** BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST: grefs of indirect pages in one INDIRECT request. */
    public static final int MAX_INDIRECT_PAGES_PER_REQUEST = 8;
    /** Segment descriptors (8 bytes each) in one indirect page. */
    public static final int SEGMENTS_PER_INDIRECT_PAGE = XenPage.SIZE / Abi.SEGMENT_SIZE;
    /** Sector quantities on the ring are always 512-byte units (PROTOCOL.md §1.2). */
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;
    public static final int SECTORS_PER_PAGE = XenPage.SIZE / SECTOR_SIZE;

    private Blkif() {
    }

    /** Indirect pages that hold {@code segments} descriptors (INDIRECT_PAGES in Linux). */
    public static int indirectPages(int segments) {
        return (segments + SEGMENTS_PER_INDIRECT_PAGE - 1) / SEGMENTS_PER_INDIRECT_PAGE;
    }

    public static String opName(int op) {
        return switch (op) {
            case OP_READ -> "read";
            case OP_WRITE -> "write";
            case OP_WRITE_BARRIER -> "write-barrier";
            case OP_FLUSH_DISKCACHE -> "flush";
            case OP_DISCARD -> "discard";
            case OP_INDIRECT -> "indirect";
            default -> "op " + op;
        };
    }
}
