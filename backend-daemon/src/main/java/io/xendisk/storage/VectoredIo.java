package io.xendisk.storage;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import com.sun.jna.Memory;

import io.xendisk.os.BufferAddresses;
import io.xendisk.os.LibC;

/**
 * preadv/pwritev on an image's file descriptor: one system call moves every
 * piece of a request between the file and buffers elsewhere (the guest's
 * pages), with no bounce buffer. One per open storage, used by its ring thread
 * only: the iovec array and the buffers' addresses are kept between calls, so
 * a call allocates nothing once its buffers have been seen.
 */
final class VectoredIo {
    /** struct iovec: void *iov_base; size_t iov_len. */
    private static final int IOVEC_SIZE = 16;
    /** Buffers whose addresses we remember: a ring's frontend has about a thousand pages. */
    private static final int ADDRESS_CACHE_MAX = 8192;

    private final Path image;
    private final int fd;
    /** The same file, for finishing a short transfer the plain way. */
    private final java.nio.channels.FileChannel channel;
    private final BufferAddresses addresses = new BufferAddresses(ADDRESS_CACHE_MAX);
    private Memory iov = new Memory(64L * IOVEC_SIZE);

    VectoredIo(Path image, int fd, java.nio.channels.FileChannel channel) {
        this.image = image;
        this.fd = fd;
        this.channel = channel;
    }

    /** Reads into the pieces; past the end of the file (it shrank under us) they read as zeros. */
    void read(long offset, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count, long sector) {
        long total = fill(buffers, offsets, lengths, count);
        if (total == 0) {
            return;
        }
        long n = transfer(false, offset, count, sector);
        if (n == 0) {
            zero(buffers, offsets, lengths, count);
        } else if (n < total) {
            // a short read (rare): finish it piece by piece from where it stopped
            finishPartly(offset, n, buffers, offsets, lengths, count, true, sector);
        }
    }

    /** Writes the pieces in order. */
    void write(long offset, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count, long sector) {
        long total = fill(buffers, offsets, lengths, count);
        long n = transfer(true, offset, count, sector);
        if (n < total) {
            finishPartly(offset, n, buffers, offsets, lengths, count, false, sector);
        }
    }

    /** One preadv/pwritev of the laid-out iovec, retried on EINTR; the bytes it moved. */
    private long transfer(boolean write, long offset, int count, long sector) {
        for (;;) {
            long n = write ? LibC.pwritev(fd, iov, count, offset) : LibC.preadv(fd, iov, count, offset);
            if (n >= 0) {
                return n;
            }
            int errno = LibC.errno();
            if (errno != Posix.EINTR) {
                throw StorageException.errno(image, (write ? "writing" : "reading") + " at sector " + sector, errno);
            }
        }
    }

    /** Lays out the iovec array; returns the total length. */
    private long fill(ByteBuffer[] buffers, int[] offsets, int[] lengths, int count) {
        if (iov.size() < (long) count * IOVEC_SIZE) {
            iov = new Memory((long) count * IOVEC_SIZE);
        }
        long total = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer b = buffers[i];
            if (!b.isDirect() || offsets[i] < 0 || lengths[i] < 0 || offsets[i] > b.capacity() - lengths[i]) {
                throw new IllegalArgumentException("piece " + i + " is not " + lengths[i] + " bytes of a direct buffer at "
                        + offsets[i]);
            }
            iov.setLong((long) i * IOVEC_SIZE, addresses.of(b) + offsets[i]);
            iov.setLong((long) i * IOVEC_SIZE + 8, lengths[i]);
            total += lengths[i];
        }
        return total;
    }

    private static void zero(ByteBuffer[] buffers, int[] offsets, int[] lengths, int count) {
        for (int i = 0; i < count; i++) {
            for (int k = 0; k < lengths[i]; k++) {
                buffers[i].put(offsets[i] + k, (byte) 0);
            }
        }
    }

    /** The rest of a short transfer, one positional call per remaining part of a piece. */
    private void finishPartly(long offset, long done, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count,
                              boolean read, long sector) {
        long at = 0;
        java.nio.channels.FileChannel ch = channel;
        try {
            for (int i = 0; i < count; i++) {
                long end = at + lengths[i];
                if (end > done) {
                    int skip = (int) Math.max(0, done - at);
                    ByteBuffer part = buffers[i].duplicate().clear().position(offsets[i] + skip).limit(offsets[i] + lengths[i]);
                    long pos = offset + at + skip;
                    while (part.hasRemaining()) {
                        int n = read ? ch.read(part, pos) : ch.write(part, pos);
                        if (n < 0) {
                            while (part.hasRemaining()) {
                                part.put((byte) 0);
                            }
                            break;
                        }
                        pos += n;
                    }
                }
                at = end;
            }
        } catch (java.io.IOException e) {
            throw StorageException.io(image, (read ? "reading" : "writing") + " at sector " + sector, e);
        }
    }
}
