package io.xendisk.xen;

/**
 * Access to pages other domains granted us (the GrantTable port). Real Xen:
 * libxengnttab (gntdev). Simulated platform: the guest's memory file and its
 * grant table file in grant_entry_v1 layout. The backend can reach only
 * pages granted to it, and only for reading where the grant is read-only.
 */
public interface GrantTable extends AutoCloseable {
    /**
     * Maps {@code refs} of domain {@code domid} contiguously, in order (ring
     * pages). Throws GrantException naming the first bad reference.
     */
    GrantMapping map(int domid, int[] refs, boolean writable);

    /**
     * Maps {@code refs} in one mapping (one gntdev memory area, so one of the
     * process's {@code vm.max_map_count}), each page reached by
     * {@link GrantMapping#page}; the frames need not be consecutive, and the
     * buffer as a whole is not to be used. Throws GrantException if any
     * reference cannot be mapped.
     */
    default GrantMapping mapPages(int domid, int[] refs, boolean writable) {
        return map(domid, refs, writable);
    }

    /**
     * Maps like {@link #mapPages} when the daemon's {@link #budget} has a
     * mapping to spare, else returns null: for mappings that are an
     * optimisation (persistent grants), whose caller grant-copies instead.
     */
    default GrantMapping mapIfBudgetAllows(int domid, int[] refs, boolean writable) {
        return mapPages(domid, refs, writable);
    }

    /** The budget this table's mappings count against. */
    default MappingBudget budget() {
        return UNLIMITED;
    }

    /** The budget of a table that counts nothing. */
    MappingBudget UNLIMITED = MappingBudget.unlimited();

    /**
     * Runs a batch of copies between granted pages and local memory in one go
     * (one hypercall on Xen). Each segment gets its own status in the batch;
     * returns how many segments failed.
     */
    int copy(GrantCopyBatch batch);

    /**
     * Drops whatever is cached for a domain that is gone (after its VBDs are
     * torn down), so a dead guest's memory is not kept referenced.
     */
    default void forget(int domid) {
    }

    @Override
    void close();
}
