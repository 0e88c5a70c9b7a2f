package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * An open virtual disk: the seed's four functions (open, size, read, write at
 * sector offsets) plus flush, discard and what the engine can promise.
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
 * <p><b>Threads.</b> A storage may be used by one thread at a time (the ring
 * thread of its VBD); it does no locking of its own. Handing it to another
 * thread needs a happens-before edge (a queue, a lock, thread start/join).
 * {@link #close()} must come after the last I/O call has returned.
 *
 * <p><b>Allocation.</b> Engines allocate nothing per read, write or flush;
 * only {@link #slice} returns a new (small) view object.
 */
public interface Storage extends AutoCloseable {

    /** Bytes in a sector: the unit of every offset in this interface. */
    int SECTOR_SIZE = 512;

    /** {@code log2(SECTOR_SIZE)}. */
    int SECTOR_SHIFT = 9;

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
     * Scatter read: the bytes from {@code sector} on go to {@code count} pieces
     * in order, piece {@code i} being {@code lengths[i]} bytes (whole sectors) of
     * {@code buffers[i]} from absolute index {@code offsets[i]}; the buffers'
     * positions and limits are left alone. Engines with
     * {@link Capabilities#vectored()} do it in one call without allocating; the
     * default reads piece by piece through a view of each.
     */
    default void readv(long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count) {
        long s = sector;
        for (int i = 0; i < count; i++) {
            read(s, buffers[i].duplicate().clear().position(offsets[i]).limit(offsets[i] + lengths[i]));
            s += lengths[i] >>> SECTOR_SHIFT;
        }
    }

    /** Gather write: the pieces, as for {@link #readv}, written in order from {@code sector} on. */
    default void writev(long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count) {
        long s = sector;
        for (int i = 0; i < count; i++) {
            write(s, buffers[i].duplicate().clear().position(offsets[i]).limit(offsets[i] + lengths[i]));
            s += lengths[i] >>> SECTOR_SHIFT;
        }
    }

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
     * returns). Never fails because the engine cannot reclaim space.
     *
     * @throws StorageException when the storage is read-only or the I/O fails
     */
    void discard(long sector, long nrSectors);

    /** What this engine promises; constant while open. */
    Capabilities capabilities();

    /**
     * Zero-copy hook: a view of {@code bytes} bytes of the image memory starting
     * at {@code sector}, for copying straight between guest pages and the image.
     * Returns {@code null} when the engine cannot expose memory
     * ({@link Capabilities#zeroCopy()} false) or when the range crosses an
     * internal mapping boundary (1 GiB); then use {@link #read}/{@link #write}.
     *
     * <p>The view is read-only when the storage is. Bytes put into a writable
     * view are writes: later reads see them and {@link #flush()} makes them
     * durable exactly like {@link #write}. Getting a view allocates one small
     * object; the copies through it allocate nothing.
     *
     * <p>Lifetime: use the view for the request at hand and drop it. It is
     * valid until {@link #close()}; afterwards the engines here keep it
     * memory-safe (the mapping lives until the view is garbage) but it no
     * longer is the disk: writes through it are lost.
     */
    default ByteBuffer slice(long sector, int bytes) {
        ByteBuffer region = region(sector, bytes);
        return region == null ? null : region.slice(regionOffset(sector), bytes);
    }

    /**
     * Zero-copy without allocating: the engine's own mapped buffer that holds
     * {@code bytes} bytes from {@code sector}, to be addressed with absolute
     * indexes starting at {@link #regionOffset(long)}; null when the engine
     * has no such memory or the range straddles a mapping boundary. Same
     * rules as {@link #slice}: bytes put into it are writes. Never change the
     * returned buffer's position or limit (it is shared).
     */
    default ByteBuffer region(long sector, int bytes) {
        return region(sector, bytes, true);
    }

    /**
     * Like {@link #region(long, int)}; {@code forWrite} false promises that
     * nothing will be put into the range, so an engine need not count it as
     * written (mmap: no msync of it at the next flush).
     */
    default ByteBuffer region(long sector, int bytes, boolean forWrite) {
        return null;
    }

    /** Index of {@code sector}'s first byte in the buffer {@link #region} returns. */
    default int regionOffset(long sector) {
        throw new UnsupportedOperationException("no zero-copy regions");
    }

    /**
     * Releases the image. Idempotent. Does not flush: callers wanting
     * durability call {@link #flush()} first (the backend does on disconnect).
     */
    @Override
    void close();
}
