package io.xendisk.storage;

import com.sun.jna.Pointer;

import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.util.Set;

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
 *
 * <p>With {@value #MAPPED_READS_PROPERTY}=true, reads of a regular file also come as memory: the image is mapped
 * read-only ({@link #region}), so the backend copies a read out of the page
 * cache without a system call (the same pages pwrite fills, so reads see every
 * write at once). Writes stay system calls, so a write never faults a page in.
 * A block device is read with preadv: its read errors stay error responses,
 * where through a mapping they would be faults. If a regular-file image is
 * truncated while served, a read through the mapping faults, which fails the
 * VBD (see {@link MmapStorage}), where preadv would have read zeros. Where
 * the image cannot be mapped (a filesystem without mmap, no address space
 * left) or lives on tmpfs (where a mapped read of a hole allocates memory),
 * reads use preadv.
 *
 * <p>The mapping is one memory area whatever the image's size (areas count
 * against {@code vm.max_map_count}, which grant mappings share), and
 * {@link #close()} unmaps it at once, so a daemon whose guests reboot again
 * and again does not gather mappings until a garbage collection: a region
 * must not be used after close (the backend closes an engine only once every
 * operation has completed). The mapping a {@link #grow} replaces may still be
 * read by another queue, so it is unmapped when no view of it is left.
 */
final class FileStorage implements VectoredStorage, MappedReads {
    static final String NAME = "file";
    /**
     * The JVM option that turns reading through a mapping on ({@code true}; off by default, every
     * read a preadv). In a PV dom0 every first touch of a mapped page traps through Xen, so a fresh
     * connection's first reads cost more than a preadv would and later reads less; and on a
     * filesystem in memory, also under an overlay, a mapped read of a hole allocates the page, which
     * this engine can see only for tmpfs, ramfs and rootfs themselves (docs/BENCHMARKS.md, issue 17).
     */
    public static final String MAPPED_READS_PROPERTY = "xen-disk-java.file.mapped-reads";

    private final Image image;
    private final FileChannel channel;
    private final Capabilities caps;
    private final VectoredIo vectored;
    /** The read-only mapping of a regular file, the size it covers; null for a block device or when unmappable. */
    private volatile Mapping mapping;
    private final boolean mappedAtOpen;
    private boolean closed;

    private static final Cleaner UNMAPPER = Cleaner.create();

    /** The mapping, and the job mapping in what the page cache holds (cancelled before any unmap). */
    private record Mapping(Chunks chunks, long size, long address, PagePopulator.Job populating) {
        void unmap() {
            populating.cancel();
            Posix.C.munmap(new Pointer(address), size);
        }

        /** Unmaps each chunk once no view of it is reachable (a read on another queue may still hold one). */
        void unmapWhenUnreachable() {
            populating.cancel();
            for (int i = 0; i < chunks.count(); i++) {
                long off = (long) i << Chunks.SHIFT;
                UNMAPPER.register(chunks.chunk(i), new Unmap(address + off, Chunks.length(size, i)));
            }
        }
    }

    /** Cleaning action: holds only the address range, never the buffer. */
    private record Unmap(long address, long length) implements Runnable {
        @Override
        public void run() {
            Posix.C.munmap(new Pointer(address), length);
        }
    }

    private FileStorage(Image image, FileChannel channel, Mapping mapping) {
        this.image = image;
        this.channel = channel;
        this.caps = new Capabilities(!image.writable, true, false, image.writable);
        this.vectored = new VectoredIo(image.path, image.fd(), channel);
        this.mapping = mapping;
        this.mappedAtOpen = mapping != null;
    }

    static Storage open(StorageSpec spec) {
        Image image = Image.open(spec, !spec.readOnly());
        try {
            FileChannel channel = image.channel();
            boolean mapped = "true".equalsIgnoreCase(System.getProperty(MAPPED_READS_PROPERTY))
                    && !image.blockDevice && !inMemory(image);
            return new FileStorage(image, channel, mapped ? map(image) : null);
        } catch (RuntimeException e) {
            image.close();
            throw e;
        }
    }

    /** Filesystems held in memory: tmpfs, ramfs, and an initramfs's rootfs (one of the two). */
    private static final Set<String> MEMORY_FILESYSTEMS = Set.of("tmpfs", "ramfs", "rootfs");

    /**
     * On a filesystem in memory a read fault in a hole allocates the page (pread reads zeros
     * without), so a guest reading its sparse disk through a mapping would fill the host's memory,
     * and on a full tmpfs the read would fault: such an image is read with preadv.
     */
    private static boolean inMemory(Image image) {
        try {
            return MEMORY_FILESYSTEMS.contains(Files.getFileStore(image.path).type());
        } catch (IOException e) {
            return true; // not known: the safe way
        }
    }

    /** The whole image mapped read-only and shared, as read-only views of 1 GiB; null where it cannot be mapped. */
    private static Mapping map(Image image) {
        long size = image.size;
        Pointer p = Posix.C.mmap(null, size, Posix.PROT_READ, Posix.MAP_SHARED, image.fd(), 0);
        if (Posix.mmapFailed(p)) {
            return null;
        }
        ByteBuffer[] views = new ByteBuffer[Chunks.count(size)];
        for (int i = 0; i < views.length; i++) {
            views[i] = p.getByteBuffer((long) i << Chunks.SHIFT, Chunks.length(size, i)).asReadOnlyBuffer();
        }
        long address = Pointer.nativeValue(p);
        return new Mapping(new Chunks(views), size, address, PagePopulator.populate(address, size, image.path.toString()));
    }

    /** The mapping's memory for a read, or null (a block device, or the range is not in one chunk of the mapping). */
    @Override
    public ByteBuffer region(long sector, int bytes) {
        Mapping m = mapping;
        long off = Ranges.check(image.size, sector, bytes);
        checkOpen();
        // after a grow the new tail is read with preadv until the larger mapping is in place
        return m == null || off + bytes > m.size ? null : m.chunks.chunk(off, bytes);
    }

    /** Waits until the mapping holds what the page cache held when it was made (true: done, or no mapping). */
    boolean awaitPopulated(long millis) throws InterruptedException {
        Mapping m = mapping;
        return m == null || m.populating.await(millis);
    }

    /** Mapped at open: the option on, and a regular file not held in memory that could be mapped. */
    @Override
    public boolean readsMapped() {
        return mappedAtOpen;
    }

    @Override
    public int regionOffset(long sector) {
        return Chunks.offsetInChunk(sector << SECTOR_SHIFT);
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
        Mapping old = mapping;
        if (old != null) {
            mapping = map(image);
            old.unmapWhenUnreachable();
        }
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
        Mapping m = mapping;
        mapping = null;
        if (m != null) {
            m.unmap();
        }
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
