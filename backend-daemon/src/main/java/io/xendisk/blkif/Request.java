package io.xendisk.blkif;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One request, parsed once from a private copy of its ring slot and checked
 * against the whole validation checklist (STYLE.md) before anything acts on it.
 *
 * <p>Mutable and pooled on purpose: the ring thread owns a fixed set of these,
 * sized by the ring, so parsing allocates nothing. Between {@link #parse} and
 * the response nothing changes it.
 */
public final class Request {
    /** What the request asks for, or REJECTED with {@link #rejection()}. */
    public enum Kind { READ, WRITE, FLUSH, BARRIER, DISCARD, REJECTED }

    private final int[] grefs = new int[Blkif.MAX_SEGMENTS_PER_REQUEST];
    private final byte[] firstSect = new byte[Blkif.MAX_SEGMENTS_PER_REQUEST];
    private final byte[] lastSect = new byte[Blkif.MAX_SEGMENTS_PER_REQUEST];
    private Kind kind;
    private Rejection rejection;
    private long id;
    private int operation;
    private long sector;
    private int nrSegments;
    private long nrSectors;

    /** The rules the disk imposes on requests. */
    public record Limits(long diskSectors, boolean readOnly, boolean discard) {
    }

    /**
     * Parses the slot copy {@code slot} in layout {@code abi}. Always yields a
     * request: an invalid one is REJECTED with the reason and still carries the
     * id and operation its error response must echo.
     */
    public Kind parse(byte[] slot, Abi abi, Limits limits) {
        ByteBuffer b = ByteBuffer.wrap(slot).order(ByteOrder.LITTLE_ENDIAN);
        operation = b.get(Abi.OPERATION_OFFSET) & 0xFF;
        id = b.getLong(abi.idOffset);
        sector = b.getLong(abi.sectorOffset);
        nrSegments = 0;
        nrSectors = 0;
        rejection = null;
        kind = switch (operation) {
            case Blkif.OP_READ -> segments(b, abi, limits, Kind.READ, false);
            case Blkif.OP_WRITE -> limits.readOnly() ? reject(Rejection.READ_ONLY) : segments(b, abi, limits, Kind.WRITE, false);
            case Blkif.OP_FLUSH_DISKCACHE, Blkif.OP_WRITE_BARRIER -> {
                Kind k = operation == Blkif.OP_FLUSH_DISKCACHE ? Kind.FLUSH : Kind.BARRIER;
                int n = b.get(Abi.NR_SEGMENTS_OFFSET) & 0xFF;
                if (n > 0 && limits.readOnly()) {
                    yield reject(Rejection.READ_ONLY);
                }
                yield segments(b, abi, limits, k, true);
            }
            case Blkif.OP_DISCARD -> discard(b, abi, limits);
            case Blkif.OP_INDIRECT, Blkif.OP_RESERVED_1 -> reject(Rejection.UNSUPPORTED_OPERATION);
            default -> reject(Rejection.UNKNOWN_OPERATION);
        };
        return kind;
    }

    private Kind segments(ByteBuffer b, Abi abi, Limits limits, Kind k, boolean emptyAllowed) {
        int n = b.get(Abi.NR_SEGMENTS_OFFSET) & 0xFF;
        if (n > Blkif.MAX_SEGMENTS_PER_REQUEST || (n == 0 && !emptyAllowed)) {
            return reject(Rejection.BAD_SEGMENT_COUNT);
        }
        long sectors = 0;
        for (int i = 0; i < n; i++) {
            int off = abi.segmentsOffset + i * Abi.SEGMENT_SIZE;
            int first = b.get(off + 4) & 0xFF;
            int last = b.get(off + 5) & 0xFF;
            if (first > last || last >= Blkif.SECTORS_PER_PAGE) {
                return reject(Rejection.BAD_SEGMENT);
            }
            grefs[i] = b.getInt(off);
            firstSect[i] = (byte) first;
            lastSect[i] = (byte) last;
            sectors += last - first + 1;
        }
        nrSegments = n;
        nrSectors = sectors;
        // sector is unsigned on the wire; compare without overflow
        if (n > 0 && (Long.compareUnsigned(sector, limits.diskSectors()) >= 0
                || sectors > limits.diskSectors() - sector)) {
            return reject(Rejection.BEYOND_END);
        }
        return k;
    }

    private Kind discard(ByteBuffer b, Abi abi, Limits limits) {
        if (!limits.discard()) {
            return reject(Rejection.UNSUPPORTED_OPERATION);
        }
        if (limits.readOnly()) {
            return reject(Rejection.READ_ONLY);
        }
        long count = b.getLong(abi.discardSectorsOffset);
        if (Long.compareUnsigned(sector, limits.diskSectors()) > 0
                || Long.compareUnsigned(count, limits.diskSectors() - sector) > 0) {
            return reject(Rejection.BEYOND_END);
        }
        nrSectors = count;
        return Kind.DISCARD;
    }

    private Kind reject(Rejection why) {
        rejection = why;
        return Kind.REJECTED;
    }

    /** Marks an accepted request as failed later (grant or storage error). */
    public void fail(Rejection why) {
        rejection = why;
        kind = Kind.REJECTED;
    }

    public Kind kind() {
        return kind;
    }

    public Rejection rejection() {
        return rejection;
    }

    /** Echoed verbatim in the response. */
    public long id() {
        return id;
    }

    /** The operation the response must carry. */
    public int operation() {
        return operation;
    }

    /** First 512-byte sector on the disk. */
    public long sector() {
        return sector;
    }

    public int nrSegments() {
        return nrSegments;
    }

    /** Total 512-byte sectors: the sum over segments, or the discard count. */
    public long nrSectors() {
        return nrSectors;
    }

    public int gref(int segment) {
        return grefs[segment];
    }

    public int firstSect(int segment) {
        return firstSect[segment];
    }

    public int lastSect(int segment) {
        return lastSect[segment];
    }

    /** Bytes of segment {@code i}. */
    public int segmentBytes(int i) {
        return (lastSect[i] - firstSect[i] + 1) << Blkif.SECTOR_SHIFT;
    }

    /** Offset of segment {@code i}'s data within its granted page. */
    public int segmentPageOffset(int i) {
        return firstSect[i] << Blkif.SECTOR_SHIFT;
    }

    /** The status its response carries. */
    public short status() {
        return kind == Kind.REJECTED ? rejection.status : Blkif.RSP_OKAY;
    }
}
