package io.xendisk.backend;

import java.nio.ByteBuffer;

import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.Request;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.StorageException;

/**
 * One request of a ring from the moment its slot is taken to its response
 * (QEMU's XenBlockRequest): the parsed wire request, where its data lives
 * while the engine works on it ({@link Placement}), the engine operation it
 * is now ({@link IoRequest}), and its outcome. Pooled by {@link RingWorker},
 * one per ring entry, so nothing is allocated per request.
 *
 * <p>Only the ring thread touches it, except an engine thread's single
 * {@link #complete} call, which hands it back through {@link Completions}
 * (the hand-over is the happens-before edge for everything in between).
 */
final class RingRequest implements IoRequest {
    /** The request as the frontend sent it, parsed once from a private copy of its slot. */
    final Request wire;
    /** Its place in the pool. */
    final int index;
    /** The private copy of an INDIRECT request's indirect pages; null when indirect requests are off. */
    final ByteBuffer indirectPages;
    private final Completions completions;

    /** How its data is placed; null for a request without data. */
    Placement placement;
    /** Where its data is copied to and from locally (a bounce buffer or the image's memory), from {@link #localBase}. */
    ByteBuffer local;
    int localBase;
    /** The data as the engine sees it. */
    final ByteBuffer[] pieceBuffers;
    final int[] pieceOffsets;
    final int[] pieceLengths;
    int pieces;
    /** The one buffer this request owns, for {@link #buffer()}; null when the data is not in one. */
    ByteBuffer owned;
    boolean inPlace;
    /** The range [copyFrom, copyTo) of its segments in the grant copy batch being run; copyFrom -1 when none. */
    /** When the request was taken off the ring (System.nanoTime), for its latency. */
    long takenAt;
    int copyFrom = -1;
    int copyTo;

    private Op op;
    private StorageException ioFailure;
    /** Next in the stack of completions an engine handed back. */
    RingRequest nextDone;

    RingRequest(int index, int maxSegments, ByteBuffer indirectPages, Completions completions) {
        this.wire = new Request(maxSegments);
        this.index = index;
        this.indirectPages = indirectPages;
        this.completions = completions;
        this.pieceBuffers = new ByteBuffer[maxSegments];
        this.pieceOffsets = new int[maxSegments];
        this.pieceLengths = new int[maxSegments];
    }

    /** Readies it for the request just parsed: no placement yet, and the first engine operation it needs. */
    void begin() {
        placement = null;
        local = null;
        owned = null;
        inPlace = false;
        pieces = 0;
        copyFrom = -1;
        ioFailure = null;
        op = switch (wire.kind()) {
            case READ -> Op.READ;
            case WRITE -> Op.WRITE;
            // the flush first, then the request's own data (QEMU's presync, blkback's PREFLUSH)
            case FLUSH, BARRIER -> Op.FLUSH;
            case DISCARD -> Op.DISCARD;
            default -> null;
        };
    }

    /** After its FLUSH: true when it carries data, which is now to be written. */
    boolean writeAfterFlush() {
        if (op == Op.FLUSH && wire.nrSegments() > 0) {
            op = Op.WRITE;
            return true;
        }
        return false;
    }

    /** Bytes of data it carries. */
    int bytes() {
        return (int) (wire.nrSectors() << Blkif.SECTOR_SHIFT);
    }

    /** Sets its data as one piece: {@code bytes()} bytes of {@code buffer} from {@code offset}. */
    void onePiece(ByteBuffer buffer, int offset) {
        pieceBuffers[0] = buffer;
        pieceOffsets[0] = offset;
        pieceLengths[0] = bytes();
        pieces = 1;
    }

    /** Drops the references to buffers it no longer needs, so a released pool entry pins no guest page. */
    void release() {
        for (int i = 0; i < pieces; i++) {
            pieceBuffers[i] = null;
        }
        pieces = 0;
        local = null;
        owned = null;
        placement = null;
    }

    /** The failure an engine reported, taken once. */
    StorageException takeIoFailure() {
        StorageException f = ioFailure;
        ioFailure = null;
        return f;
    }

    @Override
    public Op op() {
        return op;
    }

    @Override
    public long sector() {
        return wire.sector();
    }

    @Override
    public long sectors() {
        return op == Op.FLUSH ? 0 : wire.nrSectors();
    }

    @Override
    public ByteBuffer buffer() {
        return owned == null || op == Op.FLUSH || op == Op.DISCARD ? null : owned.clear().limit(bytes());
    }

    @Override
    public int pieces() {
        return op == Op.READ || op == Op.WRITE ? pieces : 0;
    }

    @Override
    public ByteBuffer[] pieceBuffers() {
        return pieceBuffers;
    }

    @Override
    public int[] pieceOffsets() {
        return pieceOffsets;
    }

    @Override
    public int[] pieceLengths() {
        return pieceLengths;
    }

    @Override
    public boolean inPlace() {
        return inPlace;
    }

    @Override
    public void complete(StorageException failure) {
        ioFailure = failure;
        completions.push(this);
    }

    @Override
    public String toString() {
        return "request id " + wire.id() + " (" + Blkif.opName(wire.operation()) + " sector " + wire.sector() + ")";
    }
}
