package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantException;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.XenPage;

/**
 * The GrantTable port on the simulated platform, for the backend (domain 0):
 * reaches a guest's pages only through its grant table file, with Xen's
 * checks on every use (ref in range, entry permit_access, granted to domain
 * 0, frame inside guest memory, write only if not GTF_readonly).
 *
 * <p>Copy statuses are Xen's (common/grant_table.c): unknown or dead domain
 * GNTST_bad_domain; ref out of range GNTST_bad_gntref; entry not granted, not
 * granted to us, or read-only for a copy towards the guest
 * GNTST_general_error; frame outside guest memory GNTST_bad_page
 * ({@link GrantEntries#GNTST_BAD_PAGE}); a bad local buffer (outside its limit,
 * read-only for a copy from the guest) GNTST_general_error.
 *
 * <p>Maps are live slices of the guest's memory mapping. A contiguous
 * {@link #map} of several pages needs consecutive frames (within one 1 GiB
 * chunk), which is how a simulated guest allocates multi-page rings; real
 * gntdev maps any frames (a general version would mmap each page MAP_FIXED
 * into a reserved range through JNA). {@link #mapPages} takes any frames and
 * gives a slice per page.
 *
 * <p>Guests are opened on first use and cached; call {@link #forget(int)}
 * when a domain is destroyed (a new guest with the same domid is then
 * opened afresh). Thread-safe: ring threads of different VBDs copy
 * concurrently.
 */
public final class SimGrantTable implements GrantTable {
    /** The backend's domain id: grants must name it. */
    public static final int DOMID = 0;

    private final Path simdir;
    private final AtomicReferenceArray<ForeignDomain> domains = new AtomicReferenceArray<>(SimPaths.MAX_DOMID + 1);

    public SimGrantTable(Path simdir) {
        this.simdir = simdir;
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean writable) {
        return map(domid, refs, writable, true);
    }

    @Override
    public GrantMapping mapPages(int domid, int[] refs, boolean writable) {
        return map(domid, refs, writable, false);
    }

    private GrantMapping map(int domid, int[] refs, boolean writable, boolean contiguous) {
        if (refs.length == 0) {
            throw new GrantException("domain " + domid + ": nothing to map (no grant refs)");
        }
        ForeignDomain d;
        try {
            d = domain(domid);
        } catch (IOException e) {
            throw new GrantException(e.getMessage(), e);
        }
        int[] pinned = new int[refs.length];
        int[] frames = new int[refs.length];
        int pinnedCount = 0;
        try {
            for (int i = 0; i < refs.length; i++) {
                int ref = refs[i];
                String where = "domain " + domid + ": grant ref " + ref;
                if (!d.validRef(ref)) {
                    throw new GrantException(where + ": out of range (the grant table has " + d.entries + " entries)");
                }
                int bits = d.pin(ref, writable);
                if (bits < 0) {
                    throw new GrantException(where + ": " + d.whyNot(ref, writable));
                }
                pinned[i] = bits;
                pinnedCount = i + 1;
                int frame = d.frame(ref);
                if (!d.validFrame(frame)) {
                    throw new GrantException(where + ": frame " + Integer.toUnsignedString(frame)
                            + " is outside guest memory (" + d.memory.pages() + " pages)");
                }
                frames[i] = frame;
                if (contiguous && i > 0 && (frame != frames[0] + i || !d.memory.sameChunk(frames[0], i + 1))) {
                    throw new GrantException(where + ": frame " + frame + " does not follow frame " + (frames[0] + i - 1)
                            + " (the simulated platform maps several pages only from consecutive frames)");
                }
            }
            ByteBuffer whole = contiguous ? view(d.memory.slice(frames[0], refs.length), writable) : null;
            ByteBuffer[] pages = new ByteBuffer[refs.length];
            for (int i = 0; i < refs.length; i++) {
                pages[i] = contiguous ? whole.slice(i * XenPage.SIZE, XenPage.SIZE).order(whole.order())
                        : view(d.memory.slice(frames[i], 1), writable);
            }
            return new SimGrantMapping(d, whole, pages, refs.clone(), pinned);
        } catch (RuntimeException e) {
            for (int i = 0; i < pinnedCount; i++) {
                d.unpin(refs[i], pinned[i]);
            }
            throw e;
        }
    }

    private static ByteBuffer view(ByteBuffer b, boolean writable) {
        return writable ? b : b.asReadOnlyBuffer().order(b.order());
    }

    @Override
    public int copy(GrantCopyBatch batch) {
        int failed = 0;
        ForeignDomain last = null;
        for (int i = 0, n = batch.count(); i < n; i++) {
            int domid = batch.domid(i);
            ForeignDomain d = last != null && last.domid == domid ? last : cached(domid);
            short status;
            if (d == null) {
                status = GrantCopyBatch.GNTST_BAD_DOMAIN;
            } else {
                last = d;
                status = copyOne(d, batch, i);
            }
            batch.setStatus(i, status);
            if (status != GrantCopyBatch.GNTST_OKAY) {
                failed++;
            }
        }
        return failed;
    }

    private static short copyOne(ForeignDomain d, GrantCopyBatch batch, int i) {
        ByteBuffer local = batch.local(i);
        int localOffset = batch.localOffset(i);
        int len = batch.len(i);
        boolean toGuest = batch.toGuest(i);
        if (!batch.localUsable(i)) {
            return GrantCopyBatch.GNTST_GENERAL_ERROR;
        }
        if (localOffset + len > local.limit()) {
            // offsets are absolute up to the capacity, as on Xen; the JDK's bulk puts stop at the limit
            local = local.duplicate().clear();
        }
        int ref = batch.gref(i);
        if (!d.validRef(ref)) {
            return GrantCopyBatch.GNTST_BAD_GNTREF;
        }
        int bits = d.pin(ref, toGuest);
        if (bits < 0) {
            return (short) bits;
        }
        try {
            int frame = d.frame(ref);
            if (!d.validFrame(frame)) {
                return GrantEntries.GNTST_BAD_PAGE;
            }
            ByteBuffer ram = d.memory.chunk(frame);
            int at = d.memory.offset(frame) + batch.pageOffset(i);
            if (toGuest) {
                ram.put(at, local, localOffset, len);
            } else {
                local.put(localOffset, ram, at, len);
            }
            return GrantCopyBatch.GNTST_OKAY;
        } finally {
            d.unpin(ref, bits);
        }
    }

    /** The cached guest, opening it on first use; null when it cannot be opened (GNTST_bad_domain). */
    private ForeignDomain cached(int domid) {
        if (domid < 0 || domid > SimPaths.MAX_DOMID) {
            return null;
        }
        ForeignDomain d = domains.get(domid);
        if (d != null) {
            return d;
        }
        try {
            return domain(domid);
        } catch (IOException e) {
            return null;
        }
    }

    private ForeignDomain domain(int domid) throws IOException {
        if (domid < 0 || domid > SimPaths.MAX_DOMID) {
            throw new IOException("domain " + domid + ": not a valid domain id (0.." + SimPaths.MAX_DOMID + ")");
        }
        ForeignDomain d = domains.get(domid);
        if (d != null) {
            return d;
        }
        synchronized (this) {
            d = domains.get(domid);
            if (d == null) {
                d = ForeignDomain.open(simdir, domid, DOMID);
                domains.set(domid, d);
            }
            return d;
        }
    }

    /**
     * Clears the GTF_reading / GTF_writing bits that a backend process which
     * died without unmapping (kill -9) left in the grant tables of the live
     * guests. On Xen the kernel drops a dead process's grant maps when its
     * gntdev file closes; here the bits live in the guest's table file and
     * nobody else would clear them, so the guest could never revoke or reuse
     * those pages. Only for a daemon's start, before it maps anything: the
     * daemon is the only process of domain 0 that pins guests' grants, and
     * its lock file guarantees no other one runs.
     *
     * @return how many entries were unpinned, per guest domid
     */
    public Map<Integer, Integer> releasePinsOfDeadBackend() throws IOException {
        Map<Integer, Integer> released = new TreeMap<>();
        if (!Files.isDirectory(simdir)) {
            return released;
        }
        for (int domid : SimPaths.guestDomids(simdir)) {
            if (DomainDirs.problem(simdir, domid).isPresent()) {
                continue;
            }
            int n = domain(domid).releaseAllPins();
            if (n > 0) {
                released.put(domid, n);
            }
        }
        return released;
    }

    /**
     * Drops the cached view of {@code domid} (the domain was destroyed). Its
     * mappings stay valid until closed; the next use opens the domain anew.
     */
    @Override
    public void forget(int domid) {
        if (domid >= 0 && domid <= SimPaths.MAX_DOMID) {
            domains.set(domid, null);
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < domains.length(); i++) {
            domains.set(i, null);
        }
    }
}
