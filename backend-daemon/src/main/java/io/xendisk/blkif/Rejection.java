package io.xendisk.blkif;

/** Why a request was refused: one counter each in the VBD's statistics. */
public enum Rejection {
    UNKNOWN_OPERATION("unknown operation", Blkif.RSP_EOPNOTSUPP),
    UNSUPPORTED_OPERATION("operation not offered by this backend", Blkif.RSP_EOPNOTSUPP),
    READ_ONLY("write to a read-only disk", Blkif.RSP_ERROR),
    BAD_SEGMENT_COUNT("segment count out of range", Blkif.RSP_ERROR),
    BAD_SEGMENT("segment first_sect > last_sect or last_sect > 7", Blkif.RSP_ERROR),
    BEYOND_END("sector range past the end of the disk", Blkif.RSP_ERROR),
    MISALIGNED("sector range not in whole sectors of the disk's sector-size", Blkif.RSP_ERROR),
    BAD_GRANT("grant reference not usable", Blkif.RSP_ERROR),
    IO_ERROR("storage I/O failed", Blkif.RSP_ERROR);

    public final String description;
    /** What the response carries. */
    public final short status;

    Rejection(String description, short status) {
        this.description = description;
        this.status = status;
    }
}
