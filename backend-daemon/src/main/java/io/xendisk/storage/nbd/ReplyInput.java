package io.xendisk.storage.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * The reply side of a connection as the reader thread takes it: the socket is
 * read ahead into one buffer, so that the headers of many replies, and small
 * payloads, cost one read between them instead of one each. A payload larger
 * than {@link #DIRECT_MIN} goes from the socket straight into its destination
 * once the buffered part of it has been moved.
 */
final class ReplyInput {
    private static final int CAPACITY = 64 << 10;
    /** Payloads from this size on are read straight into their buffer: one copy less, the same reads. */
    static final int DIRECT_MIN = 16 << 10;
    /**
     * Heap buffers are filled through a per-thread temporary direct buffer the
     * size of each channel read, which the JDK keeps; reading them in pieces
     * keeps that at 1 MiB rather than the largest reply.
     */
    private static final int HEAP_CHUNK = 1 << 20;

    private final ByteBuffer in = ByteBuffer.allocateDirect(CAPACITY);
    private final String server;
    private ReadableByteChannel ch;

    /** {@code server} names the peer in messages. */
    ReplyInput(String server) {
        this.server = server;
        in.flip();
    }

    /** Reads from {@code channel} from now on, with nothing buffered (a new connection). */
    void reset(ReadableByteChannel channel) {
        this.ch = channel;
        in.clear().flip();
    }

    /**
     * Makes the next {@code n} bytes (at most 64 KiB) available to the gets;
     * false when the connection ended cleanly, before any byte of them.
     *
     * @throws EOFException the connection ended after some of them
     */
    boolean begin(int n) throws IOException {
        if (in.remaining() >= n) {
            return true;
        }
        boolean none = !in.hasRemaining();
        in.compact();
        try {
            while (in.position() < n) {
                if (ch.read(in) < 0) {
                    if (none && in.position() == 0) {
                        return false;
                    }
                    throw cut();
                }
            }
        } finally {
            in.flip();
        }
        return true;
    }

    /** As {@link #begin}, for bytes inside a reply that has started: the end of the stream is an error. */
    void need(int n) throws IOException {
        if (!begin(n)) {
            throw cut();
        }
    }

    int getInt() {
        return in.getInt();
    }

    int getUnsignedShort() {
        return in.getShort() & 0xffff;
    }

    long getLong() {
        return in.getLong();
    }

    /** The next {@code n} bytes, available after {@link #need}, as a view (valid until the next read). */
    ByteBuffer take(int n) {
        ByteBuffer v = in.slice(in.position(), n);
        in.position(in.position() + n);
        return v;
    }

    /** Fills {@code dst} from its position to its limit: what is buffered first, then from the socket. */
    void readInto(ByteBuffer dst) throws IOException {
        int n = Math.min(in.remaining(), dst.remaining());
        if (n > 0) {
            dst.put(dst.position(), in, in.position(), n);
            dst.position(dst.position() + n);
            in.position(in.position() + n);
        }
        if (!dst.hasRemaining()) {
            return;
        }
        if (dst.remaining() < DIRECT_MIN) {
            need(dst.remaining());
            readInto(dst);
            return;
        }
        int end = dst.limit();
        try {
            while (dst.position() < end) {
                if (!dst.isDirect()) {
                    dst.limit(Math.min(end, dst.position() + HEAP_CHUNK));
                }
                if (ch.read(dst) < 0) {
                    throw cut();
                }
            }
        } finally {
            dst.limit(end);
        }
    }

    private EOFException cut() {
        return new EOFException("the NBD server at " + server + " closed the connection in the middle of a reply");
    }
}
