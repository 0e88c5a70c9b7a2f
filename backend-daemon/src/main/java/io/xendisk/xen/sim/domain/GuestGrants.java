package io.xendisk.xen.sim.domain;

import java.nio.ByteBuffer;

/**
 * A simulated guest's side of its grant table (what Linux's
 * gnttab_grant_foreign_access / gnttab_end_foreign_access_ref do): grants a
 * frame to a domain, and revokes it unless the grantee is using it. Refs
 * 0..7 are left to the toolstack, as in Linux (GNTTAB_NR_RESERVED_ENTRIES).
 * Thread-safe.
 */
public final class GuestGrants {
    private final int domid;
    private final ByteBuffer table;
    private final int entries;
    private final int[] free;
    private int freeCount;

    GuestGrants(int domid, ByteBuffer table) {
        this.domid = domid;
        this.table = table;
        this.entries = table.capacity() / GrantEntries.ENTRY_SIZE;
        this.free = new int[Math.max(0, entries - GrantEntries.NR_RESERVED_ENTRIES)];
        // Lowest refs first, like Linux's allocator after boot.
        for (int ref = entries - 1; ref >= GrantEntries.NR_RESERVED_ENTRIES; ref--) {
            free[freeCount++] = ref;
        }
    }

    /** Entries in the table (including the reserved ones). */
    public int entries() {
        return entries;
    }

    /**
     * Grants {@code grantee} access to {@code frame}, read-only if asked.
     * The frame and domid are stored before the flags (release), so the
     * grantee never sees a valid entry with a stale frame.
     * @return the grant reference
     */
    public int grantAccess(int frame, int grantee, boolean readOnly) {
        int ref;
        synchronized (this) {
            if (freeCount == 0) {
                throw new IllegalStateException("domain " + domid + ": all "
                        + (entries - GrantEntries.NR_RESERVED_ENTRIES) + " grant references in use (end access to some, or create the domain with more entries)");
            }
            ref = free[--freeCount];
        }
        int flags = GrantEntries.GTF_PERMIT_ACCESS | (readOnly ? GrantEntries.GTF_READONLY : 0);
        GrantEntries.setFrame(table, ref, frame);
        GrantEntries.publish(table, ref, GrantEntries.header(flags, grantee));
        return ref;
    }

    /**
     * Revokes {@code ref} and frees it, unless the grantee has it mapped or is
     * copying (GTF_reading/GTF_writing set): then nothing changes and the
     * caller retries later, as Linux defers such pages.
     * @return true when revoked
     */
    public boolean endAccess(int ref) {
        if (!endAccessKeepingRef(ref)) {
            return false;
        }
        freeRef(ref);
        return true;
    }

    /**
     * Revokes {@code ref} as {@link #endAccess} does but keeps the reference
     * allocated (gnttab_end_foreign_access_ref without
     * gnttab_free_grant_reference): a frontend that revokes the page of a
     * request still in flight must not hand the same reference to another
     * page before the response, or a late copy of the backend lands there.
     * @return true when revoked; free the reference later with {@link #freeRef}
     */
    public boolean endAccessKeepingRef(int ref) {
        checkRef(ref);
        for (;;) {
            int h = GrantEntries.header(table, ref);
            int flags = GrantEntries.flags(h);
            if ((flags & (GrantEntries.GTF_READING | GrantEntries.GTF_WRITING)) != 0) {
                return false;
            }
            if ((flags & GrantEntries.GTF_TYPE_MASK) == GrantEntries.GTF_INVALID) {
                throw new IllegalStateException("domain " + domid + ": grant ref " + ref + " is not granted");
            }
            if (GrantEntries.casHeader(table, ref, h, GrantEntries.header(0, GrantEntries.domid(h)))) {
                return true;
            }
        }
    }

    /** Gives a reference revoked by {@link #endAccessKeepingRef} back to the allocator. */
    public void freeRef(int ref) {
        checkRef(ref);
        synchronized (this) {
            free[freeCount++] = ref;
        }
    }

    /** True while the grantee has {@code ref} mapped or is copying it. */
    public boolean inUse(int ref) {
        checkRef(ref);
        return (GrantEntries.flags(GrantEntries.header(table, ref))
                & (GrantEntries.GTF_READING | GrantEntries.GTF_WRITING)) != 0;
    }

    /**
     * Writes an entry verbatim, bypassing the allocator: for hostile-guest
     * tests (grants to other domains, frames beyond memory, torn entries).
     */
    public void writeRaw(int ref, int flags, int grantee, int frame) {
        checkRef(ref);
        GrantEntries.setFrame(table, ref, frame);
        GrantEntries.publish(table, ref, GrantEntries.header(flags, grantee));
    }

    private void checkRef(int ref) {
        if (ref < 0 || ref >= entries) {
            throw new IndexOutOfBoundsException("domain " + domid + ": grant ref " + ref + " outside the table ("
                    + entries + " entries)");
        }
    }
}
