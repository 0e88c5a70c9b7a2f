package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * A {@link Storage} whose image is memory (a mapping): the backend copies
 * straight between the guest's pages and that memory, so the copy is the
 * read or the write and no storage call moves data.
 *
 * <p>A write through a region has two steps: the bytes are put into the
 * region, then {@link #wrote} says they were, which is what a later
 * {@link #flush()} covers. In that order, so that a flush running between
 * the two on another thread cannot mark the range clean before the bytes are
 * there: a write completes at {@link #wrote}.
 */
public interface MappedStorage extends Storage {

    /**
     * The engine's own buffer that holds {@code bytes} bytes from
     * {@code sector}, addressed with absolute indexes from
     * {@link #regionOffset(long)}; null when the range straddles an internal
     * mapping boundary (1 GiB), where {@link #read}/{@link #write} serve it.
     * Allocates nothing; never change the buffer's position or limit (it is
     * shared). Read-only when the storage is.
     *
     * <p>Lifetime: valid until {@link #close()}; afterwards the engines here
     * keep it memory-safe (the mapping lives until the buffer is garbage) but
     * it no longer is the disk: bytes put into it are lost.
     */
    ByteBuffer region(long sector, int bytes);

    /** Index of {@code sector}'s first byte in the buffer {@link #region} returns. */
    int regionOffset(long sector);

    /** {@code bytes} bytes from {@code sector} were put into the region: the next flush makes them durable. */
    void wrote(long sector, int bytes);
}
