package io.xendisk.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Engine {@code file}: positional reads and writes (pread/pwrite) on the image,
 * a regular file or a block device. Persistent and durable: flush is
 * {@code fdatasync}. The page cache is used (no O_DIRECT).
 *
 * <p>Discard punches a hole ({@code fallocate(PUNCH_HOLE|KEEP_SIZE)}), which
 * frees the space of sparse images and zeroes block devices; where the
 * filesystem cannot, it writes zeros. Either way discarded sectors read as zeros.
 *
 * <p>Reads past the end of the file (it shrank under us) return zeros.
 * Interrupting the thread during I/O closes the channel (a FileChannel rule);
 * every later call then fails with a message saying so.
 *
 * <p>Direct buffers are passed to the kernel as they are; heap buffers go
 * through the JDK's per-thread cached bounce buffer, so neither allocates per call.
 * A request whose data sits in several buffers (the guest's pages) is one
 * preadv/pwritev ({@link #readv}, {@link #writev}).
 */
final class FileStorage implements VectoredStorage {
    static final String NAME = "file";

    private final Image image;
    private final FileChannel channel;
    private final Capabilities caps;
    private final VectoredIo vectored;
    private boolean closed;

    private FileStorage(Image image, FileChannel channel) {
        this.image = image;
        this.channel = channel;
        this.caps = new Capabilities(!image.writable, true, false, image.writable);
        this.vectored = new VectoredIo(image.path, image.fd(), channel);
    }

    static Storage open(StorageSpec spec) {
        Image image = Image.open(spec, !spec.readOnly());
        try {
            return new FileStorage(image, image.channel());
        } catch (RuntimeException e) {
            image.close();
            throw e;
        }
    }

    @Override
    public long sizeBytes() {
        return image.size;
    }

    @Override
    public void read(long sector, ByteBuffer dst) {
        long pos = Ranges.check(image.size, sector, dst.remaining());
        checkOpen();
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    Zeros.fill(dst);
                    return;
                }
                pos += n;
            }
        } catch (IOException e) {
            throw StorageException.io(image.path, "reading at sector " + sector, e);
        }
    }

    @Override
    public void write(long sector, ByteBuffer src) {
        long pos = Ranges.check(image.size, sector, src.remaining());
        checkWritable();
        try {
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            throw StorageException.io(image.path, "writing at sector " + sector, e);
        }
    }

    /** One preadv into the pieces (the guest's own pages, with persistent grants): no bounce copy. */
    @Override
    public void readv(long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count) {
        long pos = Ranges.check(image.size, sector, total(lengths, count));
        checkOpen();
        vectored.read(pos, buffers, offsets, lengths, count, sector);
    }

    /** One pwritev from the pieces. */
    @Override
    public void writev(long sector, ByteBuffer[] buffers, int[] offsets, int[] lengths, int count) {
        long pos = Ranges.check(image.size, sector, total(lengths, count));
        checkWritable();
        vectored.write(pos, buffers, offsets, lengths, count, sector);
    }

    private static int total(int[] lengths, int count) {
        int t = 0;
        for (int i = 0; i < count; i++) {
            t += lengths[i];
        }
        return t;
    }

    @Override
    public void flush() {
        checkOpen();
        if (!image.writable) {
            return;
        }
        try {
            channel.force(false);
        } catch (IOException e) {
            throw StorageException.io(image.path, "flushing", e);
        }
    }

    @Override
    public void discard(long sector, long nrSectors) {
        long off = Ranges.checkSectors(image.size, sector, nrSectors);
        checkWritable();
        long len = nrSectors << SECTOR_SHIFT;
        if (len == 0 || image.punchHole(off, len)) {
            return;
        }
        try {
            long end = off + len;
            while (off < end) {
                off += channel.write(Zeros.of((int) Math.min(Zeros.SIZE, end - off)), off);
            }
        } catch (IOException e) {
            throw StorageException.io(image.path, "writing zeros to discard at sector " + sector, e);
        }
    }

    @Override
    public void grow(long newBytes) {
        checkOpen();
        image.grow(newBytes);
    }

    @Override
    public int logicalBlockSize() {
        return image.logicalBlockSize;
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            // nothing was pending on the channel: writes are synchronous, flush is explicit
        } finally {
            image.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("image " + image.path + " is closed");
        }
    }

    private void checkWritable() {
        checkOpen();
        if (!image.writable) {
            throw new StorageException(image.path, "image " + image.path
                    + " is open read-only; writes are refused (serve it without read-only to write)");
        }
    }

    @Override
    public String toString() {
        return NAME + ":" + image.path;
    }
}
