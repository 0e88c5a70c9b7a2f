package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import io.xendisk.xen.XenPage;

/**
 * A file of Xen pages ({@link XenPage#SIZE}) mapped shared (MAP_SHARED) into this process, so
 * every process mapping it sees the same bytes. Java 17 cannot map more than
 * 2 GiB in one buffer, so the file is mapped in 1 GiB chunks; a page never
 * straddles two chunks. Unmapped by the GC (no munmap in Java 17).
 */
final class PageFile {
    private static final int CHUNK_SHIFT = 30;
    private static final int PAGES_PER_CHUNK_SHIFT = CHUNK_SHIFT - XenPage.SHIFT;
    private static final int PAGE_IN_CHUNK_MASK = (1 << PAGES_PER_CHUNK_SHIFT) - 1;

    private final Path path;
    private final int pages;
    private final MappedByteBuffer[] chunks;

    private PageFile(Path path, int pages, MappedByteBuffer[] chunks) {
        this.path = path;
        this.pages = pages;
        this.chunks = chunks;
    }

    /** Creates (or resizes) {@code path} to {@code pages} zeroed pages and maps it. */
    static PageFile create(Path path, int pages) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), (long) pages * XenPage.SIZE - 1); // sparse: tmpfs allocates on touch
            return map(path, ch, pages);
        }
    }

    /** Maps an existing file; its size must be a whole number of pages. */
    static PageFile open(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            if (size == 0 || size % XenPage.SIZE != 0 || size / XenPage.SIZE > Integer.MAX_VALUE) {
                throw new IOException(path + ": size " + size + " is not a whole number of " + XenPage.SIZE + "-byte pages");
            }
            return map(path, ch, (int) (size / XenPage.SIZE));
        }
    }

    private static PageFile map(Path path, FileChannel ch, int pages) throws IOException {
        long size = (long) pages * XenPage.SIZE;
        int n = (int) ((size + (1L << CHUNK_SHIFT) - 1) >>> CHUNK_SHIFT);
        MappedByteBuffer[] chunks = new MappedByteBuffer[n];
        for (int i = 0; i < n; i++) {
            long start = (long) i << CHUNK_SHIFT;
            chunks[i] = ch.map(FileChannel.MapMode.READ_WRITE, start, Math.min(1L << CHUNK_SHIFT, size - start));
            chunks[i].order(ByteOrder.LITTLE_ENDIAN);
        }
        return new PageFile(path, pages, chunks);
    }

    Path path() {
        return path;
    }

    int pages() {
        return pages;
    }

    /** The chunk holding {@code frame}; index it with {@link #offset(int)}. */
    ByteBuffer chunk(int frame) {
        return chunks[frame >>> PAGES_PER_CHUNK_SHIFT];
    }

    /** Byte offset of {@code frame} inside its chunk. */
    int offset(int frame) {
        return (frame & PAGE_IN_CHUNK_MASK) << XenPage.SHIFT;
    }

    /** True when frames {@code first .. first+count-1} lie in one chunk (one contiguous buffer). */
    boolean sameChunk(int first, int count) {
        return (first >>> PAGES_PER_CHUNK_SHIFT) == ((first + count - 1) >>> PAGES_PER_CHUNK_SHIFT);
    }

    /** A live view of {@code count} pages from {@code frame} (must be in one chunk), little-endian. */
    ByteBuffer slice(int frame, int count) {
        return chunk(frame).slice(offset(frame), count * XenPage.SIZE).order(ByteOrder.LITTLE_ENDIAN);
    }
}
