package io.xendisk.xen.sim.domain;

import java.nio.ByteBuffer;

import io.xendisk.xen.XenPage;

/**
 * A simulated guest's RAM as its own process sees it: the {@code memory}
 * file mapped shared, addressed by frame number (page index). Pages are
 * handed out in consecutive runs (what a multi-page ring needs on this
 * platform): freed runs are reused first fit, then fresh frames follow the
 * last one handed out.
 */
public final class GuestMemory {
    private final int domid;
    private final PageFile file;
    private int next;
    /** Freed runs: first frame and length, unordered; reused first fit, split, never merged. */
    private final java.util.List<int[]> freed = new java.util.ArrayList<>();

    GuestMemory(int domid, PageFile file) {
        this.domid = domid;
        this.file = file;
    }

    /** Number of pages (frames 0 .. pages-1). */
    public int pages() {
        return file.pages();
    }

    /** A live little-endian view of page {@code frame}, {@value XenPage#SIZE} bytes. */
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
     * Allocates {@code count} consecutive zeroed pages.
     * @return the first frame
     */
    public synchronized int allocate(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("domain " + domid + ": cannot allocate " + count + " pages");
        }
        for (int i = 0; i < freed.size(); i++) {
            int[] run = freed.get(i);
            if (run[1] >= count && file.sameChunk(run[0], count)) {
                int first = run[0];
                if (run[1] == count) {
                    freed.remove(i);
                } else {
                    run[0] += count;
                    run[1] -= count;
                }
                ByteBuffer b = file.slice(first, count);
                for (int o = 0; o < b.capacity(); o += 8) {
                    b.putLong(o, 0);
                }
                return first;
            }
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

    /** Gives back pages from {@link #allocate} once nothing (no grant) refers to them any more. */
    public synchronized void free(int first, int count) {
        if (count < 1 || first < 0 || first > next - count) {
            throw new IllegalArgumentException("domain " + domid + ": frames " + first + ".." + (first + count - 1)
                    + " were never allocated");
        }
        freed.add(new int[] {first, count});
    }
}
