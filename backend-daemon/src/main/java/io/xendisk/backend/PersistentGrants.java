package io.xendisk.backend;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Comparator;

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
 * <p>The pages a batch of requests names for the first time are announced
 * with {@link #want} and mapped together by {@link #keepWanted}: one gntdev
 * mapping of many grants is one memory area of the process, so a ring's
 * 1056 pages cost tens of the host's {@code vm.max_map_count}, not a
 * thousand, and one system call instead of one per page. Such a group is
 * unmapped as a whole, so the purge works on groups: least recently used
 * first, where a group was used when any of its pages was.
 *
 * <p>At most {@code capacity} pages are kept (Linux blkback keeps 1056, what
 * a 32-slot ring of 32-segment requests needs), and only while the daemon's
 * {@link MappingBudget} has mappings to spare; past either, and for a
 * reference that cannot be mapped writable, {@link #page} answers null and
 * the caller grant-copies as without the feature. {@link #tidy} purges, as
 * blkback does: when the table is full and pages are still missed, and when
 * the budget is short and this ring holds more than its share. It must be
 * called only when no request uses a kept page. An open-addressed table of
 * pooled entries: a lookup allocates nothing. One ring thread uses it; the
 * mappings are released by {@link #close()}, which must run before the ring
 * is given up (a page left mapped would keep a dead guest as a zombie).
 */
final class PersistentGrants implements AutoCloseable {
    private static final int NO_REF = -1;
    /** Blkback purges at most every 100 ms (LRU_INTERVAL), 5% of its pages at a time (LRU_PERCENT_CLEAN). */
    private static final long PURGE_INTERVAL_NANOS = 100_000_000L;
    private static final int PURGE_PERCENT = 5;
    private static final Comparator<Group> LEAST_RECENT_FIRST = Comparator.comparingLong(g -> g.lastUse);

    /** A kept page, or a reference that could not be mapped (no page, no group): grant-copied from then on. */
    private static final class Kept {
        int gref = NO_REF;
        ByteBuffer page;
        Group group;
    }

    /** One mapping of kept pages, unmapped as a whole. */
    private static final class Group {
        final GrantMapping mapping;
        final int pages;
        long lastUse;
        boolean dropped;

        Group(GrantMapping mapping, int pages, long lastUse) {
            this.mapping = mapping;
            this.pages = pages;
            this.lastUse = lastUse;
        }
    }

    private final GrantTable grants;
    private final MappingBudget budget;
    private final int domid;
    private final int capacity;
    private Kept[] table;
    /** The table a purge rebuilds into, swapped with the live one. */
    private Kept[] spare;
    private final Kept[] unused;
    private int unusedCount;
    private final Group[] groups;
    private int groupCount;
    private final int[] wanted;
    private int wantedCount;
    private final int mask;
    private long clock;
    /** Entries in the table: kept pages and unmappable references. */
    private int used;
    private int kept;
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
        this.table = new Kept[slots];
        this.spare = new Kept[slots];
        this.unused = new Kept[capacity];
        for (int i = 0; i < capacity; i++) {
            unused[i] = new Kept();
        }
        this.unusedCount = capacity;
        this.groups = new Group[capacity];
        this.wanted = new int[capacity];
        this.mask = slots - 1;
        this.lastPurge = System.nanoTime() - PURGE_INTERVAL_NANOS;
        budget.join();
    }

    /**
     * The mapped page of reference {@code gref} (4096 bytes, from index 0),
     * mapping it on its own if it was not announced by {@link #want}; null
     * when it is to be grant-copied instead.
     */
    ByteBuffer page(int gref) {
        Kept k = find(gref);
        if (k == null && gref != NO_REF) {
            want(gref);
            keepWanted();
            k = find(gref);
        }
        return k == null ? null : k.page;
    }

    /** The entry of {@code gref}, marked used; null if it has none. */
    private Kept find(int gref) {
        // NO_REF (-1) is a valid gref value on the wire: such a reference is never kept
        if (gref == NO_REF) {
            return null;
        }
        clock++;
        for (int i = mix(gref) & mask; table[i] != null; i = (i + 1) & mask) {
            Kept k = table[i];
            if (k.gref == gref) {
                if (k.group != null) {
                    k.group.lastUse = clock;
                }
                return k;
            }
        }
        return null;
    }

    /** Announces a reference a request of this batch uses; mapped, if new, by the next {@link #keepWanted}. */
    void want(int gref) {
        if (gref == NO_REF || starved || find(gref) != null) {
            return;
        }
        if (used == capacity || (wantedCount == wanted.length && distinctWanted() == wanted.length)) {
            missedFull++;
            return;
        }
        wanted[wantedCount++] = gref;
    }

    /**
     * Maps the references announced since the last call in one mapping, as
     * many as there is room for; if one of them cannot be mapped, each on its
     * own, so the others are still kept.
     * @return how many pages were mapped
     */
    int keepWanted() {
        if (wantedCount == 0) {
            return 0;
        }
        int n = distinctWanted();
        wantedCount = 0;
        if (n > capacity - used) {
            missedFull++;
            n = capacity - used;
        }
        return n == 0 ? 0 : keep(Arrays.copyOf(wanted, n));
    }

    /** Sorts the wanted references and drops repeats; returns how many are left. */
    private int distinctWanted() {
        Arrays.sort(wanted, 0, wantedCount);
        int n = 1;
        for (int i = 1; i < wantedCount; i++) {
            if (wanted[i] != wanted[n - 1]) {
                wanted[n++] = wanted[i];
            }
        }
        wantedCount = n;
        return n;
    }

    private int keep(int[] refs) {
        if (starved) {
            return 0; // refused since the last tidy: not asked again per batch, a shared counter
        }
        GrantMapping m;
        try {
            m = grants.mapIfBudgetAllows(domid, refs, true);
        } catch (GrantException e) {
            if (refs.length == 1) {
                insert(refs[0], null, null);
                return 0;
            }
            int mapped = 0;
            for (int ref : refs) {
                mapped += keep(new int[] {ref});
            }
            return mapped;
        }
        if (m == null) {
            starved = true; // the daemon's budget is spent: copy, and let tidy() rebalance
            return 0;
        }
        Group g = new Group(m, refs.length, clock);
        groups[groupCount++] = g;
        for (int i = 0; i < refs.length; i++) {
            insert(refs[i], m.page(i), g);
        }
        kept += refs.length;
        return refs.length;
    }

    private void insert(int gref, ByteBuffer page, Group group) {
        Kept k = unused[--unusedCount];
        k.gref = gref;
        k.page = page;
        k.group = group;
        int i = mix(gref) & mask;
        while (table[i] != null) {
            i = (i + 1) & mask;
        }
        table[i] = k;
        used++;
    }

    /**
     * Purges least recently used groups if this ring needs room or holds more
     * than its share of a short budget; at most every 100 ms. Only while no
     * request uses a kept page.
     * @return how many pages were unmapped
     */
    int tidy() {
        starved = false;
        int pages = 0;
        int mappings = 0;
        if (missedFull > 0) {
            pages = Math.max(1, capacity * PURGE_PERCENT / 100);
        }
        if (budget.scarce()) {
            int share = budget.fairShare();
            if (groupCount > share) {
                mappings = groupCount - share + Math.max(1, share * PURGE_PERCENT / 100);
            }
        }
        if (pages == 0 && mappings == 0) {
            return 0;
        }
        long now = System.nanoTime();
        if (now - lastPurge < PURGE_INTERVAL_NANOS) {
            return 0;
        }
        lastPurge = now;
        missedFull = 0;
        return purge(pages, mappings);
    }

    /**
     * Unmaps the least recently used groups until at least {@code pages}
     * pages and {@code mappings} mappings went, drops every unmappable
     * reference, and rebuilds the table.
     */
    private int purge(int pages, int mappings) {
        Arrays.sort(groups, 0, groupCount, LEAST_RECENT_FIRST);
        int droppedPages = 0;
        int droppedGroups = 0;
        while (droppedGroups < groupCount && (droppedPages < pages || droppedGroups < mappings)) {
            Group g = groups[droppedGroups++];
            g.dropped = true;
            g.mapping.close();
            droppedPages += g.pages;
        }
        System.arraycopy(groups, droppedGroups, groups, 0, groupCount - droppedGroups);
        Arrays.fill(groups, groupCount - droppedGroups, groupCount, null);
        groupCount -= droppedGroups;
        used = 0;
        for (int i = 0; i < table.length; i++) {
            Kept k = table[i];
            if (k == null) {
                continue;
            }
            table[i] = null;
            if (k.group == null || k.group.dropped) {
                k.gref = NO_REF;
                k.page = null;
                k.group = null;
                unused[unusedCount++] = k;
            } else {
                int j = mix(k.gref) & mask;
                while (spare[j] != null) {
                    j = (j + 1) & mask;
                }
                spare[j] = k;
                used++;
            }
        }
        Kept[] t = table;
        table = spare;
        spare = t;
        kept -= droppedPages;
        purged += droppedPages;
        return droppedPages;
    }

    /** Pages kept mapped now. */
    int mapped() {
        return kept;
    }

    /** Mappings (memory areas) holding them. */
    int mappings() {
        return groupCount;
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
        for (int i = 0; i < groupCount; i++) {
            groups[i].mapping.close();
            groups[i] = null;
        }
        groupCount = 0;
        for (int i = 0; i < table.length; i++) {
            Kept k = table[i];
            if (k != null) {
                table[i] = null;
                k.gref = NO_REF;
                k.page = null;
                k.group = null;
                unused[unusedCount++] = k;
            }
        }
        if (!closed) {
            closed = true;
            budget.leave();
        }
        used = 0;
        kept = 0;
        wantedCount = 0;
    }

    /** How many pages the frontend of a ring may keep granted: every slot with its segments and indirect pages. */
    static int capacityFor(int ringSize, int maxSegments) {
        int perRequest = maxSegments + (maxSegments > Blkif.MAX_SEGMENTS_PER_REQUEST ? Blkif.indirectPages(maxSegments) : 0);
        return ringSize * perRequest;
    }
}
