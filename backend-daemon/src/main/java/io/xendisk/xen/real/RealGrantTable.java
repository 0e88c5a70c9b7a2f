package io.xendisk.xen.real;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import com.sun.jna.Pointer;

import io.xendisk.os.LibC;
import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantException;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.XenPage;

/**
 * The GrantTable port on real Xen: libxengnttab over /dev/xen/gntdev.
 * {@link #map} maps ring pages ({@code xengnttab_map_domain_grant_refs},
 * contiguous, all or nothing); {@link #copy} moves a whole batch with one
 * {@code xengnttab_grant_copy} (one ioctl, one hypercall per 16 segments in
 * the kernel), direct-mapped, over a per-thread preallocated segment array.
 *
 * <p>One handle for the daemon, shared by all ring threads (gntdev calls are
 * thread-safe). Close it after every mapping is closed and every ring thread
 * has stopped.
 */
public final class RealGrantTable implements GrantTable {
    private static final Logger LOG = LogManager.getLogger(RealGrantTable.class);
    /**
     * Grants mappable at once by this handle: ring pages and persistently mapped data pages
     * (1056 per ring with 32-segment requests) of all VBDs. Linux's gntdev no longer limits a
     * handle (the library then ignores the call); older kernels did.
     */
    public static final int DEFAULT_MAX_GRANTS = 1 << 17;

    private final GnttabLib lib;
    private final Pointer handle;
    private final ThreadLocal<GrantCopier> copiers = ThreadLocal.withInitial(() -> new GrantCopier(32 * 11));
    private final GrantCopier.NativeCopy nativeCopy;
    private final AtomicInteger mapped = new AtomicInteger();
    private volatile boolean closed;

    private RealGrantTable(GnttabLib lib, Pointer handle) {
        this.lib = lib;
        this.handle = handle;
        this.nativeCopy = (segs, count) -> GnttabLib.Direct.xengnttab_grant_copy(handle, count, segs);
    }

    /** Opens with {@link #DEFAULT_MAX_GRANTS}. */
    public static RealGrantTable open() {
        return open(DEFAULT_MAX_GRANTS);
    }

    /**
     * Opens /dev/xen/gntdev through libxengnttab and sets the handle's grant
     * limit right away (before any other call, as the library requires).
     * @throws XenUnavailableException saying what to install or load when the library or device is missing
     */
    public static RealGrantTable open(int maxGrants) {
        GnttabLib lib = GnttabLib.load();
        Pointer h = lib.xengnttab_open(null, 0);
        if (h == null) {
            throw new XenUnavailableException(XenLibrary.GNTTAB.openFailureMessage(LibC.errno()));
        }
        if (lib.xengnttab_set_max_grants(h, maxGrants) != 0) {
            int errno = LibC.errno();
            lib.xengnttab_close(h);
            throw new XenUnavailableException(XenLibrary.GNTTAB.device() + ": cannot allow " + maxGrants
                    + " grant mappings: " + LibC.describe(errno));
        }
        // resolve the hot-path binding now, not on the first guest request
        try {
            Class.forName(GnttabLib.Direct.class.getName(), true, RealGrantTable.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            lib.xengnttab_close(h);
            throw new XenUnavailableException(XenLibrary.GNTTAB.soname() + ": cannot bind xengnttab_grant_copy: " + e);
        }
        LOG.info("grant table open ({}, up to {} mapped grants)", XenLibrary.GNTTAB.device(), maxGrants);
        return new RealGrantTable(lib, h);
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean writable) {
        String what = "domain " + domid + " grant" + (refs.length == 1 ? " " + refs[0] : "s " + Arrays.toString(refs));
        if (refs.length == 0) {
            throw new GrantException(what + ": nothing to map");
        }
        checkOpen(what);
        int prot = GnttabLib.PROT_READ | (writable ? GnttabLib.PROT_WRITE : 0);
        Pointer p = lib.xengnttab_map_domain_grant_refs(handle, refs.length, domid, refs, prot);
        if (p == null) {
            int errno = LibC.errno();
            throw new GrantException(mapFailure(domid, refs, prot, errno));
        }
        mapped.addAndGet(refs.length);
        return new RealGrantMapping(this, p, refs.length, what);
    }

    /** Names the first reference that cannot be mapped on its own (only on the error path). */
    private String mapFailure(int domid, int[] refs, int prot, int errno) {
        String why = LibC.describe(errno);
        if (refs.length > 1) {
            for (int ref : refs) {
                Pointer one = lib.xengnttab_map_domain_grant_refs(handle, 1, domid, new int[] {ref}, prot);
                if (one == null) {
                    return "domain " + domid + " grant " + ref + " cannot be mapped: " + LibC.describe(LibC.errno())
                            + " (the guest must grant it to domain 0" + ((prot & GnttabLib.PROT_WRITE) != 0 ? ", writable)" : ")");
                }
                lib.xengnttab_unmap(handle, one, 1);
            }
        }
        return "domain " + domid + " grant" + (refs.length == 1 ? " " + refs[0] : "s " + Arrays.toString(refs))
                + " cannot be mapped: " + why;
    }

    void unmap(Pointer address, int pages, String what) {
        mapped.addAndGet(-pages);
        if (closed) {
            // the handle is gone (and gntdev released its grants); just give the address range back
            LibC.munmap(address, (long) pages * XenPage.SIZE);
            return;
        }
        if (lib.xengnttab_unmap(handle, address, pages) != 0) {
            LOG.warn("{}: unmap failed: {}", what, LibC.describe(LibC.errno()));
        }
    }

    @Override
    public int copy(GrantCopyBatch batch) {
        if (closed) {
            for (int i = 0; i < batch.count(); i++) {
                batch.setStatus(i, GrantCopyBatch.GNTST_GENERAL_ERROR);
            }
            return batch.count();
        }
        GrantCopier copier = copiers.get();
        int failed = copier.run(batch, nativeCopy);
        if (copier.lastRc() != 0 && failed > 0) {
            LOG.warn("grant copy of {} segments failed: {}", batch.count(), LibC.describe(LibC.errno()));
        }
        return failed;
    }

    /** Grants currently mapped through this handle. */
    public int mappedGrants() {
        return mapped.get();
    }

    private void checkOpen(String what) {
        if (closed) {
            throw new GrantException(what + ": the grant table is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (mapped.get() > 0) {
            LOG.warn("grant table closed with {} grants still mapped", mapped.get());
        }
        lib.xengnttab_close(handle);
    }
}
