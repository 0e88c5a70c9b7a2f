package io.xendisk.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.xendisk.xen.BudgetedGrantTable;
import io.xendisk.xen.MappingBudget;
import io.xendisk.xen.sim.domain.SimDomain;
import io.xendisk.xen.sim.domain.SimGrantTable;

/** Kept pages against a real simulated grant table: the budget, its fair shares, the LRU purge. */
class PersistentGrantsTest {
    private static final int DOMID = 9;

    @TempDir
    Path dir;
    private SimDomain guest;
    private SimGrantTable sim;
    private final int[] refs = new int[32];
    private final int[] frames = new int[32];

    @BeforeEach
    void setUp() throws Exception {
        guest = SimDomain.create(dir, DOMID, 64, 64);
        for (int i = 0; i < refs.length; i++) {
            frames[i] = guest.memory().allocate(1);
            refs[i] = guest.grants().grantAccess(frames[i], 0, false);
        }
        sim = new SimGrantTable(dir);
    }

    @AfterEach
    void tearDown() {
        sim.close();
        guest.close();
    }

    @Test
    void aRingOverItsShareOfAShortBudgetGivesBackItsLeastRecentlyUsedPages() {
        MappingBudget budget = new MappingBudget(8, "test");
        BudgetedGrantTable grants = new BudgetedGrantTable(sim, budget);
        PersistentGrants a = new PersistentGrants(grants, DOMID, 64);
        PersistentGrants b = new PersistentGrants(grants, DOMID, 64);
        for (int i = 0; i < 8; i++) {
            assertNotNull(a.page(refs[i]));
        }
        ByteBuffer recent = a.page(refs[7]); // 7 and 6 are the most recently used
        a.page(refs[6]);
        assertNull(b.page(refs[20]), "the budget is spent: copy instead");
        assertEquals(8, budget.inUse());
        assertEquals(0, b.tidy(), "b holds nothing to give");
        assertEquals(5, a.tidy(), "a keeps a little under its share of 4");
        assertEquals(3, a.mapped());
        assertSame(recent, a.page(refs[7]), "the recently used page stayed mapped");
        assertEquals(3, budget.inUse(), "a lookup of a kept page maps nothing");
        assertNotNull(b.page(refs[20]), "b gets mappings now");
        assertEquals(0, a.tidy(), "not again within 100 ms");
        a.close();
        b.close();
        assertEquals(0, budget.inUse());
        assertTrue(budget.peak() <= 8);
    }

    @Test
    void aFullTablePurgesWhenPagesAreStillMissed() throws Exception {
        PersistentGrants g = new PersistentGrants(new BudgetedGrantTable(sim, MappingBudget.unlimited()), DOMID, 4);
        for (int i = 0; i < 4; i++) {
            assertNotNull(g.page(refs[i]));
        }
        assertEquals(0, g.tidy(), "full but nothing missed: nothing to do");
        assertNull(g.page(refs[4]), "no room");
        assertEquals(1, g.tidy(), "the least recently used one goes");
        assertNotNull(g.page(refs[4]));
        assertNotNull(g.page(refs[1]), "1..3 are still kept");
        assertEquals(4, g.mapped());
        g.close();
        assertEquals(0, g.mapped());
    }

    @Test
    void theNewPagesOfABatchShareOneMappingAndGoTogether() {
        MappingBudget budget = new MappingBudget(100, "test");
        PersistentGrants g = new PersistentGrants(new BudgetedGrantTable(sim, budget), DOMID, 20);
        for (int i = 0; i < 16; i++) {
            g.want(refs[i]);
            g.want(refs[i]); // a page named twice in a batch is mapped once
        }
        assertEquals(16, g.keepWanted());
        assertEquals(1, budget.inUse(), "sixteen pages, one mapping");
        assertEquals(1, g.mappings());
        guest.memory().page(frames[5]).put(7, (byte) 42);
        assertEquals(42, g.page(refs[5]).get(7), "each page reaches its own frame");
        g.want(refs[5]);
        assertEquals(0, g.keepWanted(), "kept pages are not mapped again");
        for (int i = 16; i < 20; i++) {
            g.want(refs[i]);
        }
        assertEquals(4, g.keepWanted());
        assertEquals(2, budget.inUse());
        g.page(refs[3]); // the first group is the more recently used
        assertNull(g.page(refs[20]), "the table is full");
        assertEquals(4, g.tidy(), "the least recently used mapping goes as a whole");
        assertEquals(16, g.mapped());
        assertEquals(1, budget.inUse());
        g.close();
        assertEquals(0, budget.inUse());
    }

    @Test
    void aPageThatCannotBeMappedLeavesTheRestOfItsBatchKept() {
        MappingBudget budget = new MappingBudget(100, "test");
        PersistentGrants g = new PersistentGrants(new BudgetedGrantTable(sim, budget), DOMID, 20);
        int readOnly = guest.grants().grantAccess(guest.memory().allocate(1), 0, true);
        for (int i = 0; i < 4; i++) {
            g.want(refs[i]);
        }
        g.want(readOnly);
        assertEquals(4, g.keepWanted());
        assertNull(g.page(readOnly), "a read-only grant is grant-copied");
        assertNotNull(g.page(refs[2]));
        assertEquals(4, budget.inUse(), "mapped one by one after the batch's mapping failed");
        g.close();
        assertEquals(0, budget.inUse());
    }
}
