package io.xendisk.backend;

import java.nio.ByteBuffer;
import java.util.Arrays;

import io.xendisk.blkif.Blkif;
import io.xendisk.xen.GrantException;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.MappingBudget;

/**
 * The pages of one ring's frontend that we keep mapped (blkif.h
 * feature-persistent): a frontend that negotiated it reuses a fixed pool of
 * granted pages, so each is mapped on first use and then reached with a plain
 * memory copy instead of a grant copy per segment.
 *
 * <p>At most {@code capacity} pages are kept (Linux blkback keeps 1056, what
 * a 32-slot ring of 32-segment requests needs), and only while the daemon's
 * {@link MappingBudget} has mappings to spare; past either, and for a
 * reference that cannot be mapped writable, {@link #page} answers null and
 * the caller grant-copies as without the feature. {@link #tidy} purges the
 * least recently used pages, as blkback does: when the table is full and
 * pages are still missed, and when the budget is short and this ring holds
 * more than its share. It must be called only when no request uses a kept
 * page. An open-addressed table of int keys: a lookup allocates nothing. One
 * ring thread uses it; the mappings are released by {@link #close()}, which
 * must run before the ring is given up (a page left mapped would keep a dead
 * guest as a zombie).
 */
final class PersistentGrants implements AutoCloseable {
    private static final int EMPTY = -1;
    /** Recorded for a reference that could not be mapped: it is grant-copied from then on. */
    private static final ByteBuffer UNMAPPABLE = ByteBuffer.allocateDirect(0);
    /** Blkback purges at most every 100 ms (LRU_INTERVAL), 5% of its pages at a time (LRU_PERCENT_CLEAN). */
    private static final long PURGE_INTERVAL_NANOS = 100_000_000L;
    private static final int PURGE_PERCENT = 5;

    private final GrantTable grants;
    private final MappingBudget budget;
    private final int domid;
    private final int capacity;
    private int[] keys;
    private ByteBuffer[] pages;
    private GrantMapping[] mappings;
    /** When each page was last looked up, on {@link #clock}. */
    private long[] lastUse;
    /** The table a purge rebuilds into, swapped with the live one. */
    private int[] spareKeys;
    private ByteBuffer[] sparePages;
    private GrantMapping[] spareMappings;
    private long[] spareLastUse;
    private final long[] ages;
    private final int mask;
    private long clock;
    private int used;
    private int mapped;
    /** Lookups that found no room (table full), since the last purge. */
    private int missedFull;
    private long lastPurge;
    private long purged;
    private boolean closed;
    /** The budget refused a mapping since the last {@link #tidy}. */
    private boolean starved;

    PersistentGrants(GrantTable grants, int domid, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("persistent grant capacity must be positive: " + capacity);
        }
        this.grants = grants;
        this.budget = grants.budget();
        this.domid = domid;
        this.capacity = capacity;
        int slots = Integer.highestOneBit(capacity * 2 - 1) << 1; // load factor <= 1/2
        this.keys = new int[slots];
        Arrays.fill(keys, EMPTY);
        this.pages = new ByteBuffer[slots];
        this.mappings = new GrantMapping[slots];
        this.lastUse = new long[slots];
        this.spareKeys = new int[slots];
        Arrays.fill(spareKeys, EMPTY);
        this.sparePages = new ByteBuffer[slots];
        this.spareMappings = new GrantMapping[slots];
        this.spareLastUse = new long[slots];
        this.ages = new long[capacity];
        this.mask = slots - 1;
        this.lastPurge = System.nanoTime() - PURGE_INTERVAL_NANOS;
        budget.join();
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
        clock++;
        int i = mix(gref) & mask;
        while (keys[i] != EMPTY) {
            if (keys[i] == gref) {
                lastUse[i] = clock;
                ByteBuffer p = pages[i];
                return p == UNMAPPABLE ? null : p;
            }
            i = (i + 1) & mask;
        }
        if (used == capacity) {
            missedFull++;
            return null;
        }
        if (starved) {
            return null; // refused since the last tidy: not asked again per segment, a shared counter
        }
        GrantMapping m;
        try {
            m = grants.mapIfBudgetAllows(domid, new int[] {gref}, true);
        } catch (GrantException e) {
            keys[i] = gref;
            pages[i] = UNMAPPABLE;
            lastUse[i] = clock;
            used++;
            return null;
        }
        if (m == null) {
            starved = true; // the daemon's budget is spent: copy, and let tidy() rebalance
            return null;
        }
        keys[i] = gref;
        mappings[i] = m;
        pages[i] = m.buffer();
        lastUse[i] = clock;
        used++;
        mapped++;
        return pages[i];
    }

    /**
     * Purges least recently used pages if this ring needs room or holds more
     * than its share of a short budget; at most every 100 ms. Only while no
     * request uses a kept page.
     * @return how many pages were unmapped
     */
    int tidy() {
        starved = false;
        int excess = 0;
        if (missedFull > 0) {
            excess = Math.max(1, capacity * PURGE_PERCENT / 100);
        }
        if (budget.scarce()) {
            int share = budget.fairShare();
            if (mapped > share) {
                excess = Math.max(excess, mapped - share + Math.max(1, share * PURGE_PERCENT / 100));
            }
        }
        if (excess == 0) {
            return 0;
        }
        long now = System.nanoTime();
        if (now - lastPurge < PURGE_INTERVAL_NANOS) {
            return 0;
        }
        lastPurge = now;
        missedFull = 0;
        return purge(Math.min(excess, used));
    }

    /** Drops the {@code n} least recently used entries (and every unmappable one) by rebuilding the table. */
    private int purge(int n) {
        if (n <= 0) {
            return 0;
        }
        int k = 0;
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != EMPTY) {
                ages[k++] = lastUse[i];
            }
        }
        Arrays.sort(ages, 0, k);
        long cutoff = ages[n - 1];
        int dropped = 0;
        int unmapped = 0;
        used = 0;
        for (int i = 0; i < keys.length; i++) {
            int key = keys[i];
            if (key == EMPTY) {
                continue;
            }
            boolean unmappable = pages[i] == UNMAPPABLE;
            if (unmappable || (lastUse[i] <= cutoff && dropped < n)) {
                dropped++;
                if (!unmappable) {
                    mappings[i].close();
                    unmapped++;
                }
            } else {
                int j = mix(key) & mask;
                while (spareKeys[j] != EMPTY) {
                    j = (j + 1) & mask;
                }
                spareKeys[j] = key;
                sparePages[j] = pages[i];
                spareMappings[j] = mappings[i];
                spareLastUse[j] = lastUse[i];
                used++;
            }
            keys[i] = EMPTY;
            pages[i] = null;
            mappings[i] = null;
        }
        int[] k2 = keys;
        keys = spareKeys;
        spareKeys = k2;
        ByteBuffer[] p2 = pages;
        pages = sparePages;
        sparePages = p2;
        GrantMapping[] m2 = mappings;
        mappings = spareMappings;
        spareMappings = m2;
        long[] l2 = lastUse;
        lastUse = spareLastUse;
        spareLastUse = l2;
        mapped -= unmapped;
        purged += unmapped;
        return unmapped;
    }

    /** Pages mapped now. */
    int mapped() {
        return mapped;
    }

    /** Pages unmapped by purges since the ring started. */
    long purged() {
        return purged;
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
        if (!closed) {
            closed = true;
            budget.leave();
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
