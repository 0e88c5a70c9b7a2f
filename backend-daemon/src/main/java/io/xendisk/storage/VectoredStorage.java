package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * A {@link Storage} that moves the data of one request in one call however
 * many buffers it sits in (preadv/pwritev), so the backend hands it the
 * guest's own pages instead of copying them through a bounce buffer.
 *
 * <p>Pieces: the bytes from {@code sector} on map to {@code count} pieces in
 * order, piece {@code i} being {@code lengths[i]} bytes (whole sectors) of
 * {@code buffers[i]} from absolute index {@code offsets[i]}. The buffers are
 * shared with other requests: their positions and limits are left alone.
 * Neither call allocates.
 */
public interface VectoredStorage extends Storage {

    /** Scatter read into the pieces. */
    void readv(long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count);

    /** Gather write from the pieces. */
    void writev(long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count);
}
