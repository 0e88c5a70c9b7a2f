package io.xendisk.storage;

import java.nio.ByteBuffer;

/** A shared block of zeros to fill buffers and images from without allocating. */
public final class Zeros {
    static final int SIZE = 64 * 1024;

    /** Never written: direct so that channel writes from it need no bounce buffer. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(SIZE);

    private Zeros() {
    }

    /** Puts {@code dst.remaining()} zero bytes into {@code dst}, advancing it to its limit. */
    static void fill(ByteBuffer dst) {
        fill(dst, dst.position(), dst.remaining());
        dst.position(dst.limit());
    }

    /** Puts {@code length} zero bytes into {@code dst} from index {@code at}; its position stays. */
    public static void fill(ByteBuffer dst, int at, int length) {
        int pos = at;
        int left = length;
        while (left > 0) {
            int n = Math.min(left, SIZE);
            dst.put(pos, ZEROS, 0, n);
            pos += n;
            left -= n;
        }
    }

    /** The zeros themselves, for absolute bulk reads only (never move its position). */
    static ByteBuffer buffer() {
        return ZEROS;
    }

    /**
     * A view of {@code n} zeros ({@code n <= SIZE}) for channel writes; the view
     * object is small and only made on the rare discard-fallback path.
     */
    static ByteBuffer of(int n) {
        return ZEROS.duplicate().limit(n);
    }
}
