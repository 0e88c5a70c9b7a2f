package io.xendisk.xen.sim.domain;

import java.nio.ByteBuffer;

/**
 * A simulated guest's RAM as its own process sees it: the {@code memory}
 * file mapped shared, addressed by frame number (page index). Pages are
 * handed out by a simple bump allocator; consecutive allocations are
 * consecutive frames, which is what a multi-page ring needs on this platform.
 */
public final class GuestMemory {
    /** Bytes in a page. */
    public static final int PAGE_SIZE = PageFile.PAGE_SIZE;

    private final int domid;
    private final PageFile file;
    private int next;

    GuestMemory(int domid, PageFile file) {
        this.domid = domid;
        this.file = file;
    }

    /** Number of pages (frames 0 .. pages-1). */
    public int pages() {
        return file.pages();
    }

    /** A live little-endian view of page {@code frame}, {@value #PAGE_SIZE} bytes. */
    public ByteBuffer page(int frame) {
        return pages(frame, 1);
    }

    /**
     * A live view of {@code count} consecutive pages from {@code frame}.
     * Frames must lie in one 1 GiB chunk of the mapping.
     */
    public ByteBuffer pages(int frame, int count) {
        if (count < 1 || frame < 0 || frame > file.pages() - count) {
            throw new IndexOutOfBoundsException("domain " + domid + ": frames " + frame + ".." + (frame + count - 1)
                    + " are outside guest memory (" + file.pages() + " pages)");
        }
        if (!file.sameChunk(frame, count)) {
            throw new IllegalArgumentException("domain " + domid + ": frames " + frame + ".." + (frame + count - 1)
                    + " cross a 1 GiB boundary of the simulated memory mapping");
        }
        return file.slice(frame, count);
    }

    /**
     * Allocates {@code count} consecutive zeroed pages (never freed).
     * @return the first frame
     */
    public synchronized int allocate(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("domain " + domid + ": cannot allocate " + count + " pages");
        }
        int first = next;
        if (!file.sameChunk(first, count)) {
            first = (first + count - 1) & ~((1 << 18) - 1); // start of the next 1 GiB chunk
        }
        if (first > file.pages() - count) {
            throw new IllegalStateException("domain " + domid + ": out of simulated memory: " + count
                    + " pages wanted, " + (file.pages() - next) + " of " + file.pages()
                    + " left (create the domain with more pages)");
        }
        next = first + count;
        return first;
    }
}
