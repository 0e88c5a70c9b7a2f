package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

import io.xendisk.xen.GrantCopyBatch;

/**
 * The backend's view of one simulated guest: its memory and its grant table,
 * mapped shared, and the access checks Xen makes on every use of a grant
 * (for copy: acquire_grant_for_copy; for map: map_grant_ref). A grant is
 * "pinned" by setting GTF_reading (and GTF_writing for write access) with one
 * compare-and-set that also re-checks type, domid and read-only, as Xen's
 * _set_status_v1 does; the guest's end-access sees the bits and refuses to
 * revoke a grant in use.
 */
final class ForeignDomain {
    private static final int MAX_PIN_RETRIES = 4;

    final int domid;
    final Path dir;
    final PageFile memory;
    final ByteBuffer grants;
    final int entries;
    private final int self;

    private ForeignDomain(int domid, Path dir, PageFile memory, ByteBuffer grants, int self) {
        this.domid = domid;
        this.dir = dir;
        this.memory = memory;
        this.grants = grants;
        this.entries = grants.capacity() / GrantEntries.ENTRY_SIZE;
        this.self = self;
    }

    /** Opens guest {@code domid} for access by domain {@code self}; IOException says why it cannot. */
    static ForeignDomain open(Path simdir, int domid, int self) throws IOException {
        String problem = DomainDirs.problem(simdir, domid).orElse(null);
        if (problem != null) {
            throw new IOException(problem);
        }
        PageFile memory = PageFile.open(SimPaths.memory(simdir, domid));
        ByteBuffer grants = SharedFile.open(SimPaths.grantTable(simdir, domid));
        return new ForeignDomain(domid, SimPaths.domain(simdir, domid), memory, grants, self);
    }

    boolean validRef(int ref) {
        return ref >= 0 && ref < entries;
    }

    /**
     * Pins {@code ref} (which must be a valid ref) for reading, or also
     * writing. Returns the GTF bits this call set (to hand to
     * {@link #unpin}), or a negative GNTST status: GNTST_general_error for
     * an entry not granted to us or read-only for a write, as Xen does.
     */
    int pin(int ref, boolean write) {
        int want = GrantEntries.GTF_READING | (write ? GrantEntries.GTF_WRITING : 0);
        for (int retries = 0; retries <= MAX_PIN_RETRIES; retries++) {
            int h = GrantEntries.header(grants, ref);
            int flags = GrantEntries.flags(h);
            if ((flags & GrantEntries.GTF_TYPE_MASK) != GrantEntries.GTF_PERMIT_ACCESS
                    || GrantEntries.domid(h) != self) {
                return GrantCopyBatch.GNTST_GENERAL_ERROR;
            }
            if (write && (flags & GrantEntries.GTF_READONLY) != 0) {
                return GrantCopyBatch.GNTST_GENERAL_ERROR;
            }
            int set = want & ~flags;
            if (set == 0 || GrantEntries.casHeader(grants, ref, h, h | set)) {
                return set;
            }
        }
        return GrantCopyBatch.GNTST_GENERAL_ERROR; // the guest keeps changing the entry ("unstable")
    }

    /** Clears the bits {@link #pin} set. */
    void unpin(int ref, int bits) {
        if (bits != 0) {
            GrantEntries.clearBits(grants, ref, bits);
        }
    }

    /** Clears every pin bit on entries granted to us; returns how many entries had one (see SimGrantTable). */
    int releaseAllPins() {
        int pinBits = GrantEntries.GTF_READING | GrantEntries.GTF_WRITING;
        int n = 0;
        for (int ref = 0; ref < entries; ref++) {
            int h = GrantEntries.header(grants, ref);
            if (GrantEntries.domid(h) == self && (GrantEntries.flags(h) & pinBits) != 0) {
                GrantEntries.clearBits(grants, ref, pinBits);
                n++;
            }
        }
        return n;
    }

    /** The frame of a pinned ref (read after the pin, so after the guest's release store of the flags). */
    int frame(int ref) {
        return GrantEntries.frame(grants, ref);
    }

    boolean validFrame(int frame) {
        return frame >= 0 && frame < memory.pages();
    }

    /** Why {@code ref} cannot be pinned, for map's error message (the grant may have changed since). */
    String whyNot(int ref, boolean write) {
        int h = GrantEntries.header(grants, ref);
        int flags = GrantEntries.flags(h);
        if ((flags & GrantEntries.GTF_TYPE_MASK) != GrantEntries.GTF_PERMIT_ACCESS) {
            return "not granted (flags 0x" + Integer.toHexString(flags) + "; revoked or never granted)";
        }
        if (GrantEntries.domid(h) != self) {
            return "granted to domain " + GrantEntries.domid(h) + ", not to domain " + self;
        }
        if (write && (flags & GrantEntries.GTF_READONLY) != 0) {
            return "read-only grant, cannot be mapped writable";
        }
        return "grant entry changed while being checked (the guest keeps rewriting it)";
    }
}
