package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * An open virtual disk as a storage developer writes one: the seed's four
 * functions (open, size, read, write at sector offsets) plus flush. This is
 * the minimal synchronous engine; {@link SyncEngine} puts it on the
 * backend's asynchronous face ({@link IoEngine}), so an engine that answers
 * on the calling thread needs nothing more. Optional extras, each its own
 * interface: {@link VectoredStorage} (one call for data in many buffers) and
 * {@link MappedStorage} (the image's memory, for zero-copy).
 *
 * <p><b>Units.</b> Offsets are 512-byte sectors; lengths are whole sectors
 * ({@code remaining()} of a buffer must be a multiple of {@link #SECTOR_SIZE}).
 * Requests outside the disk are programming errors and throw
 * {@link IllegalArgumentException}: the backend validates every guest request
 * against {@link #sizeSectors()} before calling.
 *
 * <p><b>Errors.</b> I/O failures throw the unchecked {@link StorageException},
 * whose message names the image, the problem and what to do about it. A failed
 * request leaves the storage usable for the next one unless the message says
 * otherwise.
 *
 * <p><b>Threads.</b> A storage is used by one thread at a time ({@link SyncEngine}
 * holds a lock around every call); it does no locking of its own.
 * {@link #close()} comes after the last I/O call has returned.
 *
 * <p><b>Allocation.</b> Engines allocate nothing per read, write or flush.
 */
public interface Storage extends AutoCloseable {

    /** Bytes in a sector: the unit of every offset in this interface. */
    int SECTOR_SIZE = 512;

    /** {@code log2(SECTOR_SIZE)}. */
    int SECTOR_SHIFT = 9;
    /** What a discard frees by default: a page, the block of the usual filesystems. */
    int DISCARD_GRANULARITY = 4096;

    /** Size of the disk in bytes, a multiple of {@link #SECTOR_SIZE}; fixed while open. */
    long sizeBytes();

    /** Size of the disk in sectors. */
    default long sizeSectors() {
        return sizeBytes() >>> SECTOR_SHIFT;
    }

    /**
     * Reads {@code dst.remaining()} bytes starting at {@code sector} into
     * {@code dst}, advancing its position to its limit.
     */
    void read(long sector, ByteBuffer dst);

    /**
     * Writes {@code src.remaining()} bytes from {@code src} at {@code sector},
     * advancing its position to its limit. The data is visible to later reads
     * at once; it is on stable storage after the next {@link #flush()} (for
     * engines whose {@link Capabilities#durable()} is true).
     *
     * @throws StorageException also when the storage is read-only
     */
    void write(long sector, ByteBuffer src);

    /**
     * Returns once every write that completed before this call is on stable
     * storage (survives the daemon being killed, and for file-backed engines a
     * crash of the host as far as the filesystem honours fdatasync). Engines
     * without durable storage succeed without doing anything.
     */
    void flush();

    /**
     * Tells the engine the guest no longer needs these sectors. Afterwards their
     * content is unspecified until rewritten (each engine documents what it
     * returns). Never fails because the engine cannot reclaim space, so the
     * default, for engines whose {@link Capabilities#discard()} is false, does nothing.
     *
     * @throws StorageException when the storage is read-only or the I/O fails
     */
    default void discard(long sector, long nrSectors) {
    }

    /**
     * The unit this engine frees on a discard, in bytes (a power of two): the
     * backend offers it as {@code discard-granularity}, so the guest sends
     * discards that free whole units. Parts of a unit are zeroed, not freed.
     */
    default int discardGranularity() {
        return DISCARD_GRANULARITY;
    }

    /**
     * Grows the disk to {@code newBytes} (a multiple of 512, more than now) while it is
     * served; afterwards {@link #sizeBytes()} says so and the new sectors read zeros. The
     * default refuses: only engines that can grow in place say they can.
     * @throws StorageException naming the storage and why it cannot grow
     */
    default void grow(long newBytes) {
        throw new StorageException(null, this + " cannot grow while it is served; disconnect it, grow the image,"
                + " and connect it again");
    }

    /**
     * The smallest unit of I/O the storage takes (a 4Kn block device's 4096), which the
     * disk's sector-size must be at least; 512 for what takes any sector.
     */
    default int logicalBlockSize() {
        return SECTOR_SIZE;
    }

    /**
     * What this engine promises; constant while open. The default is a
     * writable disk that keeps its data but promises no durability.
     */
    default Capabilities capabilities() {
        return new Capabilities(false, false, false, false);
    }

    /**
     * Releases the image. Idempotent. Does not flush: callers wanting
     * durability call {@link #flush()} first (the backend does on disconnect).
     */
    @Override
    void close();
}
