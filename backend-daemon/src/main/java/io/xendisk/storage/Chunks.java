package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * A mapped image seen as direct ByteBuffers of at most 1 GiB each: chunk
 * {@code i} covers bytes {@code [i << 30, (i + 1) << 30)}. Java 17 buffers are
 * int-indexed, so images over 2 GiB need several; 1 GiB (not 2 GiB - 1) keeps
 * the index a shift and means an aligned 4 KiB page never straddles two chunks.
 *
 * <p>Copies use absolute bulk get/put, which allocate nothing and never move
 * the chunks' positions, so the chunks are effectively immutable. Ranges are
 * checked by the caller.
 */
final class Chunks {
    static final int SHIFT = 30;
    static final long SIZE = 1L << SHIFT;
    static final long MASK = SIZE - 1;

    private final ByteBuffer[] chunks;

    Chunks(ByteBuffer[] chunks) {
        this.chunks = chunks;
    }

    /** Number of chunks needed for {@code size} bytes. */
    static int count(long size) {
        return (int) ((size + MASK) >>> SHIFT);
    }

    /** Length of chunk {@code i} of an image of {@code size} bytes. */
    static int length(long size, int i) {
        return (int) Math.min(SIZE, size - ((long) i << SHIFT));
    }

    /**
     * Starts mapping in the pages of every chunk that the page cache already
     * holds ({@link PagePopulator}); the jobs are to be cancelled
     * ({@link #stopPopulating}) before the memory is unmapped.
     */
    PagePopulator.Job[] populate(String what) {
        PagePopulator.Job[] jobs = new PagePopulator.Job[chunks.length];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = PagePopulator.populate(PagePopulator.address(chunks[i]), chunks[i].capacity(), what);
        }
        return jobs;
    }

    static void stopPopulating(PagePopulator.Job[] jobs) {
        for (PagePopulator.Job job : jobs) {
            job.cancel();
        }
    }

    ByteBuffer chunk(int i) {
        return chunks[i];
    }

    int count() {
        return chunks.length;
    }

    /** Copies {@code dst.remaining()} bytes at byte {@code off} into dst, advancing it. */
    void read(long off, ByteBuffer dst) {
        int pos = dst.position();
        int left = dst.remaining();
        while (left > 0) {
            int in = (int) (off & MASK);
            int n = (int) Math.min(left, SIZE - in);
            dst.put(pos, chunks[(int) (off >>> SHIFT)], in, n);
            off += n;
            pos += n;
            left -= n;
        }
        dst.position(pos);
    }

    /** Copies {@code src.remaining()} bytes from src to byte {@code off}, advancing src. */
    void write(long off, ByteBuffer src) {
        int pos = src.position();
        int left = src.remaining();
        while (left > 0) {
            int in = (int) (off & MASK);
            int n = (int) Math.min(left, SIZE - in);
            chunks[(int) (off >>> SHIFT)].put(in, src, pos, n);
            off += n;
            pos += n;
            left -= n;
        }
        src.position(pos);
    }

    /** The whole chunk holding {@code len} bytes at {@code off}, or null when they straddle two chunks. */
    ByteBuffer chunk(long off, int len) {
        int in = (int) (off & MASK);
        return len > SIZE - in ? null : chunks[(int) (off >>> SHIFT)];
    }

    /** Index of byte {@code off} within its chunk. */
    static int offsetInChunk(long off) {
        return (int) (off & MASK);
    }

    /** Writes {@code len} zero bytes at {@code off}. */
    void zero(long off, long len) {
        while (len > 0) {
            int in = (int) (off & MASK);
            int n = (int) Math.min(Math.min(len, SIZE - in), Zeros.SIZE);
            chunks[(int) (off >>> SHIFT)].put(in, Zeros.buffer(), 0, n);
            off += n;
            len -= n;
        }
    }
}
