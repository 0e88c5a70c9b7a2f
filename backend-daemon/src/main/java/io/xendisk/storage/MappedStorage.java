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
public interface MappedStorage extends MappedReads {

    /**
     * See {@link MappedReads#region}; a write too may go through it. Read-only
     * when the storage is; bytes put into it after {@link #close()} are lost.
     */
    @Override
    ByteBuffer region(long sector, int bytes);

    /** {@code bytes} bytes from {@code sector} were put into the region: the next flush makes them durable. */
    void wrote(long sector, int bytes);
}
