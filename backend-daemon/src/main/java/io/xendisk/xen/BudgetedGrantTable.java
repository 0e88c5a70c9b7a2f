package io.xendisk.xen;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A grant table whose mappings count against the daemon's
 * {@link MappingBudget}: every mapping while it is open, one per map call
 * (gntdev makes one memory area of it, however many pages).
 */
public final class BudgetedGrantTable implements GrantTable {
    private final GrantTable table;
    private final MappingBudget budget;

    public BudgetedGrantTable(GrantTable table, MappingBudget budget) {
        this.table = table;
        this.budget = budget;
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean writable) {
        budget.take(1);
        return counted(domid, refs, writable, false);
    }

    @Override
    public GrantMapping mapPages(int domid, int[] refs, boolean writable) {
        budget.take(1);
        return counted(domid, refs, writable, true);
    }

    @Override
    public GrantMapping mapIfBudgetAllows(int domid, int[] refs, boolean writable) {
        return budget.tryTake(1) ? counted(domid, refs, writable, true) : null;
    }

    private GrantMapping counted(int domid, int[] refs, boolean writable, boolean pages) {
        try {
            return new Counted(pages ? table.mapPages(domid, refs, writable) : table.map(domid, refs, writable));
        } catch (RuntimeException e) {
            budget.give(1);
            throw e;
        }
    }

    @Override
    public MappingBudget budget() {
        return budget;
    }

    @Override
    public int copy(GrantCopyBatch batch) {
        return table.copy(batch);
    }

    @Override
    public void forget(int domid) {
        table.forget(domid);
    }

    @Override
    public void close() {
        table.close();
    }

    /** Gives its mapping back to the budget once, when unmapped. */
    private final class Counted implements GrantMapping {
        private final GrantMapping mapping;
        private final AtomicBoolean closed = new AtomicBoolean();

        Counted(GrantMapping mapping) {
            this.mapping = mapping;
        }

        @Override
        public ByteBuffer buffer() {
            return mapping.buffer();
        }

        @Override
        public int pages() {
            return mapping.pages();
        }

        @Override
        public ByteBuffer page(int i) {
            return mapping.page(i);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                try {
                    mapping.close();
                } finally {
                    budget.give(1);
                }
            }
        }

        @Override
        public String toString() {
            return mapping.toString();
        }
    }
}
