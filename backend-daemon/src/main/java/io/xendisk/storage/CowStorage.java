package io.xendisk.storage;

import com.sun.jna.Pointer;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;

/**
 * Engine {@code cow}: a copy-on-write view of a gold image. The gold is opened
 * {@code O_RDONLY} (it may be mode 0444 or on a read-only mount) and mapped
 * {@code MAP_PRIVATE} with {@code PROT_READ|PROT_WRITE} through libc, because
 * Java's {@code MapMode.PRIVATE} insists on a writable channel. Changes live in
 * anonymous memory and vanish on close; the gold image is never written.
 *
 * <p>Not durable, ephemeral: flush succeeds without doing anything, because
 * there is nothing stable to flush to and every change is meant to vanish on
 * disconnect anyway. Memory grows by a page for every page the guest writes,
 * up to the size of the image ({@code MAP_NORESERVE}: the kernel does not
 * reserve it up front, so a host short of memory kills rather than refuses).
 *
 * <p>MAP_PRIVATE is not a snapshot: a page the guest has not written yet still
 * shows later writes others make to the gold image. Gold images must not change
 * while served.
 *
 * <p>Discard frees the guest's copies of the whole pages in the range and makes
 * them read zeros, never the gold image's bytes: fresh anonymous memory is mapped
 * over them ({@code MAP_FIXED}), which costs nothing until written again. Sectors
 * in partly covered pages are zeroed in the guest's copy. Should the kernel refuse
 * the mapping (each such range is one more memory area of the process, under
 * {@code vm.max_map_count}), the whole range is zeroed in copies instead.
 *
 * <p>Faults: a gold image truncated while served makes the mapped pages past
 * its new end raise SIGBUS; see {@link MmapStorage} for how that surfaces.
 *
 * <p>Lifetime: {@link #close()} frees the guest's pages at once (MADV_DONTNEED)
 * and refuses further calls, but unmaps a chunk only when the GC finds no view
 * of it left, so a region kept by mistake reads the gold image instead of
 * crashing the JVM.
 */
final class CowStorage extends MappedImageStorage {
    static final String NAME = "cow";

    private static final Cleaner UNMAPPER = Cleaner.create();

    private final long base;
    private final Capabilities caps;

    private CowStorage(Image gold, long base, boolean writable, Chunks chunks) {
        super(gold, chunks, writable);
        this.base = base;
        this.caps = new Capabilities(!writable, false, true, writable);
    }

    static Storage open(StorageSpec spec) {
        Image gold = Image.open(spec, false);
        try {
            boolean writable = !spec.readOnly();
            int prot = writable ? Posix.PROT_READ | Posix.PROT_WRITE : Posix.PROT_READ;
            Pointer map = Posix.C.mmap(null, gold.size, prot, Posix.MAP_PRIVATE | Posix.MAP_NORESERVE, gold.fd(), 0);
            if (Posix.mmapFailed(map)) {
                throw StorageException.errno(gold.path, "mapping it copy-on-write", Posix.errno());
            }
            long base = Pointer.nativeValue(map);
            ByteBuffer[] views = new ByteBuffer[Chunks.count(gold.size)];
            for (int i = 0; i < views.length; i++) {
                long off = (long) i << Chunks.SHIFT;
                int len = Chunks.length(gold.size, i);
                ByteBuffer view = map.getByteBuffer(off, len);
                // each chunk is unmapped on its own once no view of it is reachable
                UNMAPPER.register(view, new Unmap(base + off, len));
                views[i] = writable ? view : view.asReadOnlyBuffer();
            }
            return new CowStorage(gold, base, writable, new Chunks(views));
        } catch (RuntimeException e) {
            gold.close();
            throw e;
        }
    }

    /** Succeeds at once: changes are meant to vanish, there is no stable storage behind them. */
    @Override
    public void flush() {
        checkOpen();
    }

    @Override
    public void discard(long sector, long nrSectors) {
        long off = Ranges.checkSectors(image.size, sector, nrSectors);
        checkWritable();
        long stop = off + (nrSectors << SECTOR_SHIFT);
        long start = (off + Posix.PAGE_SIZE - 1) & -Posix.PAGE_SIZE;
        long end = stop & -Posix.PAGE_SIZE;
        if (end <= start) {
            chunks.zero(off, stop - off);
            return;
        }
        chunks.zero(off, start - off);
        chunks.zero(end, stop - end);
        Pointer at = new Pointer(base + start);
        Pointer got = Posix.C.mmap(at, end - start, Posix.PROT_READ | Posix.PROT_WRITE,
                Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | Posix.MAP_FIXED | Posix.MAP_NORESERVE, -1, 0);
        if (Posix.mmapFailed(got)) {
            // the old mapping is still there (MAP_FIXED fails before unmapping): zero the copies
            chunks.zero(start, end - start);
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
        try {
            if (writable) {
                dropCopies(0, (image.size + Posix.PAGE_SIZE - 1) & -Posix.PAGE_SIZE, "closing");
            }
        } finally {
            image.close();
        }
    }

    /** Returns the private copies of whole pages to the kernel; the range reads as gold again. */
    private void dropCopies(long off, long len, String doing) {
        if (Posix.C.madvise(new Pointer(base + off), len, Posix.MADV_DONTNEED) != 0) {
            throw StorageException.errno(image.path, doing, Posix.errno());
        }
    }

    @Override
    String readOnlyRefusal() {
        return "copy-on-write view of " + image.path
                + " is open read-only; writes are refused (serve it without read-only to write)";
    }

    @Override
    public String toString() {
        return NAME + ":" + image.path;
    }

    /** Cleaning action: holds only the address range, never the buffer. */
    private record Unmap(long address, long length) implements Runnable {
        @Override
        public void run() {
            Posix.C.munmap(new Pointer(address), length);
        }
    }
}
