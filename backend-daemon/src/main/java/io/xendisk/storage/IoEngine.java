package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * The face every open disk shows the backend: operations go in by
 * {@link #submit}, and either are done when it returns (a synchronous
 * engine: {@link Submission#EXECUTED}) or complete later from a thread of the
 * engine's own ({@link Submission#SUBMITTED}, then {@link IoRequest#complete}).
 * A ring keeps up to its size of operations in flight, so a slow or remote
 * store serves many at once. The backend never knows which kind it talks to.
 *
 * <p>The seed's four functions stay the way to write a simple engine: a
 * {@link Storage}, which {@link SyncEngine} puts on this face.
 *
 * <p><b>Order.</b> Operations in flight together may complete in any order
 * (blkif allows it). A FLUSH covers every WRITE that completed before the
 * FLUSH was submitted; the backend submits one only once the writes it must
 * cover have completed.
 *
 * <p><b>Threads.</b> Several ring threads (the queues of one disk) may call
 * {@link #submit} at the same time: an engine either is thread-safe or
 * serialises them ({@link SyncEngine} does). {@link #close()} comes after
 * every operation has completed.
 */
public interface IoEngine extends AutoCloseable {

    /** What {@link #submit} did with an operation. */
    enum Submission {
        /** Done on the calling thread; {@link IoRequest#complete} is not called. */
        EXECUTED,
        /** Accepted; {@link IoRequest#complete} follows, from any thread. */
        SUBMITTED
    }

    /** Size of the disk in bytes, a multiple of 512; fixed while open. */
    long sizeBytes();

    default long sizeSectors() {
        return sizeBytes() >>> Storage.SECTOR_SHIFT;
    }

    /** What this disk promises and how its data can be reached; constant while open. */
    Capabilities capabilities();

    /** See {@link Storage#discardGranularity()}; meaningful when {@link Capabilities#discard()} is true. */
    default int discardGranularity() {
        return Storage.DISCARD_GRANULARITY;
    }

    /** See {@link Storage#grow(long)}; refused unless the engine says otherwise. */
    default void grow(long newBytes) {
        throw new StorageException(null, this + " cannot grow while it is served; disconnect it, grow the image,"
                + " and connect it again");
    }

    /** See {@link Storage#logicalBlockSize()}. */
    default int logicalBlockSize() {
        return Storage.SECTOR_SIZE;
    }

    /**
     * Starts {@code request} (within the disk: the backend validated it).
     *
     * @throws StorageException when it failed before anything was submitted; then
     *                          {@link IoRequest#complete} is not called
     */
    Submission submit(IoRequest request);

    /**
     * Zero-copy: the engine's memory holding {@code bytes} bytes from
     * {@code sector} (see {@link MappedReads#region}), or null when it has
     * none for the range ({@link Capabilities#zeroCopyReads()} false, or the
     * range straddles a mapping boundary). A read copies out of it. Where
     * {@link Capabilities#zeroCopy()} is true, data the backend puts there is a
     * write once it submits the WRITE with {@link IoRequest#inPlace()} true;
     * otherwise it must not be written.
     */
    default ByteBuffer region(long sector, int bytes) {
        return null;
    }

    /** Index of {@code sector}'s first byte in the buffer {@link #region} returns. */
    default int regionOffset(long sector) {
        throw new UnsupportedOperationException("no zero-copy regions");
    }

    /**
     * The operations submitted since the last call are all the backend has for
     * now: an engine that holds operations back to send them together (an
     * NBD client writing a ring's batch at once) sends them now. Called on the
     * thread that submitted them.
     */
    default void unplug() {
    }

    /** Releases the disk. Idempotent; does not flush. */
    @Override
    void close();
}
