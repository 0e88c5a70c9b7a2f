package io.xendisk.backend;

import java.nio.ByteBuffer;
import java.util.Arrays;

import io.xendisk.blkif.Blkif;
import io.xendisk.xen.GrantException;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.GrantTable;

/**
 * The pages of one ring's frontend that we keep mapped (blkif.h
 * feature-persistent): a frontend that negotiated it reuses a fixed pool of
 * granted pages, so each is mapped on first use and then reached with a plain
 * memory copy instead of a grant copy per segment.
 *
 * <p>At most {@code capacity} pages are kept (Linux blkback keeps 1056, what
 * a 32-slot ring of 32-segment requests needs); past that, and for a
 * reference that cannot be mapped writable, {@link #page} answers null and
 * the caller grant-copies as without the feature. An open-addressed table
 * of int keys: a lookup allocates nothing. One ring thread uses it; the
 * mappings are released by {@link #close()}, which must run before the ring
 * is given up (a page left mapped would keep a dead guest as a zombie).
 */
final class PersistentGrants implements AutoCloseable {
    private static final int EMPTY = -1;
    /** Recorded for a reference that could not be mapped: it is grant-copied from then on. */
    private static final ByteBuffer UNMAPPABLE = ByteBuffer.allocateDirect(0);

    private final GrantTable grants;
    private final int domid;
    private final int capacity;
    private final int[] keys;
    private final ByteBuffer[] pages;
    private final GrantMapping[] mappings;
    private final int mask;
    private int used;
    private int mapped;

    PersistentGrants(GrantTable grants, int domid, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("persistent grant capacity must be positive: " + capacity);
        }
        this.grants = grants;
        this.domid = domid;
        this.capacity = capacity;
        int slots = Integer.highestOneBit(capacity * 2 - 1) << 1; // load factor <= 1/2
        this.keys = new int[slots];
        Arrays.fill(keys, EMPTY);
        this.pages = new ByteBuffer[slots];
        this.mappings = new GrantMapping[slots];
        this.mask = slots - 1;
    }

    /**
     * The mapped page of reference {@code gref} (4096 bytes, absolute indexing),
     * mapping it on first use; null when it is to be grant-copied instead.
     */
    ByteBuffer page(int gref) {
        // EMPTY (-1) is a valid gref value on the wire: such a reference is never cached
        if (gref == EMPTY) {
            return null;
        }
        int i = mix(gref) & mask;
        while (keys[i] != EMPTY) {
            if (keys[i] == gref) {
                ByteBuffer p = pages[i];
                return p == UNMAPPABLE ? null : p;
            }
            i = (i + 1) & mask;
        }
        if (used == capacity) {
            return null;
        }
        keys[i] = gref;
        used++;
        try {
            GrantMapping m = grants.map(domid, new int[] {gref}, true);
            mappings[i] = m;
            pages[i] = m.buffer();
            mapped++;
            return pages[i];
        } catch (GrantException e) {
            pages[i] = UNMAPPABLE;
            return null;
        }
    }

    /** Pages mapped now. */
    int mapped() {
        return mapped;
    }

    private static int mix(int k) {
        int h = k * 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    @Override
    public void close() {
        for (int i = 0; i < keys.length; i++) {
            if (mappings[i] != null) {
                mappings[i].close();
                mappings[i] = null;
            }
            pages[i] = null;
            keys[i] = EMPTY;
        }
        used = 0;
        mapped = 0;
    }

    /** How many pages the frontend of a ring may keep granted: every slot with its segments and indirect pages. */
    static int capacityFor(int ringSize, int maxSegments) {
        int perRequest = maxSegments + (maxSegments > Blkif.MAX_SEGMENTS_PER_REQUEST ? Blkif.indirectPages(maxSegments) : 0);
        return ringSize * perRequest;
    }
}
