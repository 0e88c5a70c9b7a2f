package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * One operation the backend hands an {@link IoEngine}: what to do, where on
 * the disk, and where the data is. The backend owns the object and reuses it
 * once the operation has completed; an engine keeps no reference past
 * {@link #complete}.
 *
 * <p>Data: {@link #pieces()} pieces in order, piece {@code i} being
 * {@code pieceLengths()[i]} bytes of {@code pieceBuffers()[i]} from absolute
 * index {@code pieceOffsets()[i]} (whole sectors together). The buffers may be
 * shared with other operations in flight (the guest's pages): address them by
 * absolute index, or work on a {@code duplicate()}; never change their
 * position or limit, nor the arrays. When the data is one buffer that this
 * operation owns, {@link #buffer()} also gives it positioned, to consume.
 */
public interface IoRequest {
    /** What an engine is asked to do. */
    enum Op {
        READ, WRITE,
        /** Make every write completed before it durable (no data). */
        FLUSH,
        /** Sectors the guest no longer needs (no data; {@link #sectors()} says how many). */
        DISCARD
    }

    Op op();

    /** First 512-byte sector. */
    long sector();

    /** 512-byte sectors: of the data for READ and WRITE, of the range for DISCARD; 0 for FLUSH. */
    long sectors();

    /**
     * The data as one buffer owned by this operation, rewound so that
     * position..limit is exactly the data (an engine may consume it); null
     * when the data is in several pieces or not this operation's to give.
     */
    ByteBuffer buffer();

    /** Pieces of the data; 0 for FLUSH and DISCARD. */
    int pieces();

    ByteBuffer[] pieceBuffers();

    int[] pieceOffsets();

    int[] pieceLengths();

    /**
     * True when the data already is in the engine's own memory, in the region
     * {@link IoEngine#region} gave for this range: a READ has nothing to move,
     * a WRITE only to be recorded as done.
     */
    boolean inPlace();

    /**
     * Reports the end of an operation {@link IoEngine#submit} answered
     * {@link IoEngine.Submission#SUBMITTED} for: exactly once, from any thread,
     * {@code failure} null when it succeeded. Allocates nothing.
     */
    void complete(StorageException failure);
}
