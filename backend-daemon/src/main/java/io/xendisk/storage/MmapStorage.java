package io.xendisk.storage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;

/**
 * Engine {@code mmap}: the image mapped shared ({@code MAP_SHARED}), so reads
 * and writes are memory copies and changes land in the image. Persistent and
 * durable: flush is {@code msync(MS_SYNC)} ({@link MappedByteBuffer#force}) of
 * the byte range written since the last flush in each 1 GiB chunk; once it
 * returns the data is in the file even if the daemon is killed right after.
 * Read-only opens map read-only.
 *
 * <p>Zero-copy: {@link #region} exposes the mapping; what the backend puts into
 * it counts as written once it says so ({@link #wrote}), so the next flush covers it.
 *
 * <p>Every block of a regular-file image is allocated at open
 * ({@link Image#reserve}), so a full filesystem is refused at connect rather
 * than faulting a write later. Discard punches a hole through the file
 * ({@code fallocate(PUNCH_HOLE|KEEP_SIZE)}, which also drops the range from the
 * mapping, so it reads zeros) and gives the space back to the filesystem, as the
 * guest asked: the reservation of that range is gone, and a later write into it
 * on a full filesystem faults (see below) instead of being refused at open.
 * Where holes cannot be punched it writes zeros.
 *
 * <p>Faults: if the kernel still cannot back a mapped page (someone truncated
 * the image), the JVM turns the SIGBUS into an {@link InternalError} ("a fault
 * occurred in a recent unsafe memory access operation"). In interpreted code
 * it comes out of the copy and is reported here as a {@link StorageException};
 * in JIT-compiled code HotSpot delivers it asynchronously, a little after the
 * copy, so it can escape this engine: the ring thread treats such an
 * InternalError as a failure of its VBD, not of the daemon.
 *
 * <p>Java 17 cannot unmap: {@link #close()} closes the file and refuses further
 * calls; the mappings go away when the GC collects the buffers, so regions kept
 * by mistake stay memory-safe.
 */
final class MmapStorage extends MappedImageStorage {
    static final String NAME = "mmap";

    private final FileChannel channel;
    private final Capabilities caps;
    /** Per chunk, the byte range written since the last flush; lo > hi means clean. */
    private final int[] dirtyLo;
    private final int[] dirtyHi;

    private MmapStorage(Image image, FileChannel channel, Chunks chunks) {
        super(image, chunks, image.writable);
        this.channel = channel;
        this.caps = new Capabilities(!image.writable, true, false, image.writable);
        this.dirtyLo = new int[chunks.count()];
        this.dirtyHi = new int[chunks.count()];
        java.util.Arrays.fill(dirtyLo, Integer.MAX_VALUE);
    }

    static Storage open(StorageSpec spec) {
        Image image = Image.open(spec, !spec.readOnly());
        FileChannel channel = null;
        try {
            image.reserve();
            channel = image.channel();
            MapMode mode = image.writable ? MapMode.READ_WRITE : MapMode.READ_ONLY;
            ByteBuffer[] maps = new ByteBuffer[Chunks.count(image.size)];
            for (int i = 0; i < maps.length; i++) {
                maps[i] = channel.map(mode, (long) i << Chunks.SHIFT, Chunks.length(image.size, i));
            }
            return new MmapStorage(image, channel, new Chunks(maps));
        } catch (IOException e) {
            closeQuietly(channel);
            image.close();
            throw StorageException.io(image.path, "mapping it", e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            image.close();
            throw e;
        }
    }

    @Override
    public void flush() {
        checkOpen();
        for (int i = 0; i < dirtyLo.length; i++) {
            int lo = dirtyLo[i];
            int hi = dirtyHi[i];
            if (lo > hi) {
                continue;
            }
            try {
                ((MappedByteBuffer) chunks.chunk(i)).force(lo, hi - lo);
            } catch (UncheckedIOException e) {
                throw StorageException.io(image.path, "flushing", e.getCause());
            } catch (InternalError e) {
                throw Faults.mapped(image.path, "flushing", e);
            }
            // only now: a failed msync leaves the range dirty so the next flush retries it
            dirtyLo[i] = Integer.MAX_VALUE;
            dirtyHi[i] = 0;
        }
    }

    @Override
    public void discard(long sector, long nrSectors) {
        long off = Ranges.checkSectors(image.size, sector, nrSectors);
        checkWritable();
        long len = nrSectors << SECTOR_SHIFT;
        if (len == 0) {
            return;
        }
        if (image.punchHole(off, len)) {
            return;
        }
        try {
            chunks.zero(off, len);
        } catch (InternalError e) {
            throw Faults.mapped(image.path, "writing zeros to discard at sector " + sector, e);
        } finally {
            written(off, len);
        }
    }

    @Override
    public Capabilities capabilities() {
        return caps;
    }

    @Override
    public void close() {
        if (!markClosed()) {
            return;
        }
        closeQuietly(channel);
        image.close();
    }

    /** Widens the dirty range of every chunk that {@code [off, off + len)} touches: the next flush syncs it. */
    @Override
    void written(long off, long len) {
        long end = off + len;
        while (off < end) {
            int i = (int) (off >>> Chunks.SHIFT);
            int in = (int) (off & Chunks.MASK);
            long chunkEnd = Math.min(end, ((long) i + 1) << Chunks.SHIFT);
            int inEnd = (int) (chunkEnd - ((long) i << Chunks.SHIFT));
            dirtyLo[i] = Math.min(dirtyLo[i], in);
            dirtyHi[i] = Math.max(dirtyHi[i], inEnd);
            off = chunkEnd;
        }
    }

    @Override
    String readOnlyRefusal() {
        return "image " + image.path + " is open read-only; writes are refused (serve it without read-only to write)";
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) {
            return;
        }
        try {
            channel.close();
        } catch (IOException e) {
            // mappings do not depend on the channel; nothing to lose here
        }
    }

    @Override
    public String toString() {
        return NAME + ":" + image.path;
    }
}
