package io.xendisk.blkif;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One request, parsed once from a private copy of its ring slot and checked
 * against the whole validation checklist (STYLE.md) before anything acts on it.
 *
 * <p>An INDIRECT request is parsed in two steps: {@link #parse} takes the
 * slot (operation, segment count, the grant references of its indirect
 * pages), then, once the caller has copied those pages out of guest memory,
 * {@link #loadIndirectSegments} takes the segment descriptors from that
 * private copy. Until then {@link #awaitingSegments()} is true.
 *
 * <p>Mutable and pooled on purpose: the ring thread owns a fixed set of these,
 * sized by the ring, so parsing allocates nothing. Between {@link #parse} and
 * the response nothing changes it.
 */
public final class Request {
    /** What the request asks for, or REJECTED with {@link #rejection()}. */
    public enum Kind { READ, WRITE, FLUSH, BARRIER, DISCARD, REJECTED }

    private final int[] grefs;
    private final byte[] firstSect;
    private final byte[] lastSect;
    private final int[] indirectGrefs = new int[Blkif.MAX_INDIRECT_PAGES_PER_REQUEST];
    private Kind kind;
    private Rejection rejection;
    private long id;
    private int operation;
    private long sector;
    private int nrSegments;
    private long nrSectors;
    private boolean indirect;
    private boolean awaitingSegments;

    /** The largest sector-size: a page. */
    static final int XEN_PAGE = 4096;

    /**
     * The rules the disk imposes on requests.
     * @param maxIndirectSegments what {@code feature-max-indirect-segments} offers; 0 refuses INDIRECT requests
     * @param sectorSize          the disk's {@code sector-size} (512 or 4096): every request's start and
     *                            length are whole sectors of it, counted in 512-byte units on the wire
     */
    public record Limits(long diskSectors, boolean readOnly, boolean discard, int maxIndirectSegments, int sectorSize) {
        public Limits {
            int ceiling = Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * Blkif.SEGMENTS_PER_INDIRECT_PAGE;
            if (maxIndirectSegments < 0 || maxIndirectSegments > ceiling) {
                throw new IllegalArgumentException("indirect segments per request: 0.." + ceiling
                        + ", not " + maxIndirectSegments);
            }
            if (sectorSize < Blkif.SECTOR_SIZE || sectorSize > XEN_PAGE || Integer.bitCount(sectorSize) != 1) {
                throw new IllegalArgumentException("sector size: a power of two from 512 to 4096, not " + sectorSize);
            }
        }

        /** A disk of 512-byte sectors. */
        public Limits(long diskSectors, boolean readOnly, boolean discard, int maxIndirectSegments) {
            this(diskSectors, readOnly, discard, maxIndirectSegments, Blkif.SECTOR_SIZE);
        }

        /** The disk's sector in 512-byte units, minus one: the bits a request's start and length must not have. */
        long alignmentMask() {
            return (sectorSize >> Blkif.SECTOR_SHIFT) - 1;
        }

        /** No indirect requests. */
        public Limits(long diskSectors, boolean readOnly, boolean discard) {
            this(diskSectors, readOnly, discard, 0);
        }

        /** The most segments one request may carry, direct or indirect. */
        public int maxSegments() {
            return Math.max(Blkif.MAX_SEGMENTS_PER_REQUEST, maxIndirectSegments);
        }
    }

    /** A request for direct requests only (11 segments). */
    public Request() {
        this(Blkif.MAX_SEGMENTS_PER_REQUEST);
    }

    /** The slot copy last parsed and the view that reads it (absolute gets only). */
    private byte[] slotOf;
    private ByteBuffer slotView;
    /** Likewise the indirect pages last loaded. */
    private ByteBuffer pagesOf;
    private ByteBuffer pagesView;

    /** A request able to hold {@code maxSegments} segments (indirect requests). */
    public Request(int maxSegments) {
        int n = Math.max(Blkif.MAX_SEGMENTS_PER_REQUEST, maxSegments);
        grefs = new int[n];
        firstSect = new byte[n];
        lastSect = new byte[n];
    }

    /**
     * Parses the slot copy {@code slot} in layout {@code abi}. Always yields a
     * request: an invalid one is REJECTED with the reason and still carries the
     * id and operation its error response must echo.
     */
    public Kind parse(byte[] slot, Abi abi, Limits limits) {
        if (slot != slotOf) {
            // a ring parses every request from the same slot copy: wrap it once, not per request
            slotView = ByteBuffer.wrap(slot).order(ByteOrder.LITTLE_ENDIAN);
            slotOf = slot;
        }
        ByteBuffer b = slotView;
        operation = b.get(Abi.OPERATION_OFFSET) & 0xFF;
        id = b.getLong(abi.idOffset);
        sector = b.getLong(abi.sectorOffset);
        nrSegments = 0;
        nrSectors = 0;
        rejection = null;
        indirect = false;
        awaitingSegments = false;
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
            case Blkif.OP_INDIRECT -> indirect(b, abi, limits);
            case Blkif.OP_RESERVED_1 -> reject(Rejection.UNSUPPORTED_OPERATION);
            default -> reject(Rejection.UNKNOWN_OPERATION);
        };
        return kind;
    }

    private Kind segments(ByteBuffer b, Abi abi, Limits limits, Kind k, boolean emptyAllowed) {
        int n = b.get(Abi.NR_SEGMENTS_OFFSET) & 0xFF;
        if (n > Blkif.MAX_SEGMENTS_PER_REQUEST || (n == 0 && !emptyAllowed)) {
            return reject(Rejection.BAD_SEGMENT_COUNT);
        }
        return descriptors(b, abi.segmentsOffset, n, limits, k);
    }

    /** Reads and checks {@code n} segment descriptors starting at {@code off} of a private copy. */
    private Kind descriptors(ByteBuffer b, int off, int n, Limits limits, Kind k) {
        long sectors = 0;
        for (int i = 0; i < n; i++) {
            int o = off + i * Abi.SEGMENT_SIZE;
            int first = b.get(o + Abi.SEGMENT_FIRST_SECT_OFFSET) & 0xFF;
            int last = b.get(o + Abi.SEGMENT_LAST_SECT_OFFSET) & 0xFF;
            if (first > last || last >= Blkif.SECTORS_PER_PAGE) {
                return reject(Rejection.BAD_SEGMENT);
            }
            grefs[i] = b.getInt(o + Abi.SEGMENT_GREF_OFFSET);
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
        // as blkback: on a disk of 4 KiB sectors only whole ones, start and length
        if (n > 0 && ((sector | sectors) & limits.alignmentMask()) != 0) {
            return reject(Rejection.MISALIGNED);
        }
        return k;
    }

    /**
     * The slot of an INDIRECT request: its response carries the indirect_op
     * (Linux blkfront checks it), valid or not, as Linux blkback answers.
     */
    private Kind indirect(ByteBuffer b, Abi abi, Limits limits) {
        operation = b.get(Abi.INDIRECT_OP_OFFSET) & 0xFF;
        if (limits.maxIndirectSegments() == 0) {
            return reject(Rejection.UNSUPPORTED_OPERATION);
        }
        Kind k;
        if (operation == Blkif.OP_READ) {
            k = Kind.READ;
        } else if (operation == Blkif.OP_WRITE) {
            if (limits.readOnly()) {
                return reject(Rejection.READ_ONLY);
            }
            k = Kind.WRITE;
        } else {
            return reject(Rejection.UNKNOWN_OPERATION);
        }
        int n = b.getShort(Abi.INDIRECT_NR_SEGMENTS_OFFSET) & 0xFFFF;
        if (n == 0 || n > limits.maxIndirectSegments()) {
            return reject(Rejection.BAD_SEGMENT_COUNT);
        }
        int pages = Blkif.indirectPages(n);
        for (int i = 0; i < pages; i++) {
            indirectGrefs[i] = b.getInt(abi.indirectGrefsOffset + i * 4);
        }
        indirect = true;
        awaitingSegments = true;
        nrSegments = n;
        return k;
    }

    /**
     * Second step of an INDIRECT request: takes its {@link #nrSegments()}
     * descriptors from {@code pages}, the private copy of its indirect pages
     * (contiguous, from index {@code offset}), and checks them as a direct
     * request's.
     */
    public Kind loadIndirectSegments(ByteBuffer pages, int offset, Limits limits) {
        if (!awaitingSegments) {
            throw new IllegalStateException("request " + id + " is not an indirect request awaiting its segments");
        }
        awaitingSegments = false;
        if (pages != pagesOf) {
            // each ring request keeps its indirect pages in one buffer: a little-endian view of it once, not per request
            pagesView = pages.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            pagesOf = pages;
        }
        kind = descriptors(pagesView, offset, nrSegments, limits, kind);
        return kind;
    }

    private Kind discard(ByteBuffer b, Abi abi, Limits limits) {
        if (!limits.discard()) {
            return reject(Rejection.UNSUPPORTED_OPERATION);
        }
        if (limits.readOnly()) {
            return reject(Rejection.READ_ONLY);
        }
        // discard-secure is never offered: a secure discard gets EOPNOTSUPP, as from blkback
        if ((b.get(Abi.DISCARD_FLAG_OFFSET) & Blkif.DISCARD_SECURE) != 0) {
            return reject(Rejection.UNSUPPORTED_OPERATION);
        }
        long count = b.getLong(abi.discardSectorsOffset);
        if (Long.compareUnsigned(sector, limits.diskSectors()) > 0
                || Long.compareUnsigned(count, limits.diskSectors() - sector) > 0) {
            return reject(Rejection.BEYOND_END);
        }
        if (((sector | count) & limits.alignmentMask()) != 0) {
            return reject(Rejection.MISALIGNED);
        }
        nrSectors = count;
        return Kind.DISCARD;
    }

    private Kind reject(Rejection why) {
        rejection = why;
        awaitingSegments = false;
        return Kind.REJECTED;
    }

    /** Marks an accepted request as failed later (grant or storage error). */
    public void fail(Rejection why) {
        rejection = why;
        kind = Kind.REJECTED;
        awaitingSegments = false;
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

    /** The operation the response must carry (the indirect_op of an INDIRECT request). */
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

    /** Whether it came as an INDIRECT request. */
    public boolean indirect() {
        return indirect;
    }

    /** An INDIRECT request whose indirect pages have not been loaded yet. */
    public boolean awaitingSegments() {
        return awaitingSegments;
    }

    /** Indirect pages of an INDIRECT request. */
    public int indirectPages() {
        return indirect ? Blkif.indirectPages(nrSegments) : 0;
    }

    public int indirectGref(int page) {
        return indirectGrefs[page];
    }

    /** Bytes of descriptors in indirect page {@code page}. */
    public int indirectPageBytes(int page) {
        return Math.min(Blkif.SEGMENTS_PER_INDIRECT_PAGE, nrSegments - page * Blkif.SEGMENTS_PER_INDIRECT_PAGE)
                * Abi.SEGMENT_SIZE;
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
