package io.xendisk.storage;

import java.nio.ByteBuffer;

/**
 * What the two mapped engines ({@code mmap}, {@code cow}) share: an image in
 * 1 GiB chunks of memory, reads and writes as memory copies, zero-copy
 * regions, and the open/read-only checks. Subclasses say what a write means
 * for durability ({@link #written}) and what flush and discard do.
 */
abstract class MappedImageStorage implements MappedStorage {
    final Image image;
    final Chunks chunks;
    final boolean writable;
    private boolean closed;
    /** The pages the page cache holds, mapped in off the ring thread. */
    final PagePopulator.Job[] populating;

    MappedImageStorage(Image image, Chunks chunks, boolean writable) {
        this.image = image;
        this.chunks = chunks;
        this.writable = writable;
        this.populating = chunks.populate(image.path.toString());
    }

    /** Bytes {@code [off, off + len)} of the image were (or may have been) changed through the mapping. */
    void written(long off, long len) {
    }

    /** The refusal of a write to a read-only open, naming the image. */
    abstract String readOnlyRefusal();

    @Override
    public final long sizeBytes() {
        return image.size;
    }

    @Override
    public final void read(long sector, ByteBuffer dst) {
        long off = Ranges.check(image.size, sector, dst.remaining());
        checkOpen();
        try {
            chunks.read(off, dst);
        } catch (InternalError e) {
            throw Faults.mapped(image.path, "reading at sector " + sector, e);
        }
    }

    @Override
    public final void write(long sector, ByteBuffer src) {
        int len = src.remaining();
        long off = Ranges.check(image.size, sector, len);
        checkWritable();
        try {
            chunks.write(off, src);
        } catch (InternalError e) {
            throw Faults.mapped(image.path, "writing at sector " + sector, e);
        } finally {
            written(off, len);
        }
    }

    @Override
    public final ByteBuffer region(long sector, int bytes) {
        long off = Ranges.check(image.size, sector, bytes);
        checkOpen();
        return chunks.chunk(off, bytes);
    }

    @Override
    public final void wrote(long sector, int bytes) {
        long off = Ranges.check(image.size, sector, bytes);
        checkWritable();
        written(off, bytes);
    }

    @Override
    public final int regionOffset(long sector) {
        return Chunks.offsetInChunk(sector << SECTOR_SHIFT);
    }

    /** Waits until the mapping holds what the page cache held when it was made; false on timeout. */
    final boolean awaitPopulated(long millis) throws InterruptedException {
        for (PagePopulator.Job job : populating) {
            if (!job.await(millis)) {
                return false;
            }
        }
        return true;
    }

    /** Marks the storage closed; true the first time only. */
    final boolean markClosed() {
        if (closed) {
            return false;
        }
        closed = true;
        Chunks.stopPopulating(populating);
        return true;
    }

    final void checkOpen() {
        if (closed) {
            throw new IllegalStateException("image " + image.path + " is closed");
        }
    }

    final void checkWritable() {
        checkOpen();
        if (!writable) {
            throw new StorageException(image.path, readOnlyRefusal());
        }
    }

    @Override
    public int logicalBlockSize() {
        return image.logicalBlockSize;
    }
}
