package io.xendisk.daemon;

import java.util.Optional;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.backend.IoLimits;
import io.xendisk.backend.Vbd;
import io.xendisk.backend.VbdNodes;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.blkif.Vdev;
import io.xendisk.blkif.XenbusState;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * Devices that are already in xenstore when we look, taken on by one path:
 * xl's disks with {@code script=xen-disk-java} under {@code backend/vbd}
 * (new ones as the toolstack makes them, and after a daemon restart the ones
 * a previous daemon served), and the disks of our own backend kind that a
 * previous daemon's {@code connect} made. Each is read from its backend
 * directory ({@code params} is the target, {@code [engine:]/path}), its
 * storage opened, the device taken from the kernel's blkback, and served; a
 * frontend still connected resumes where its ring stands. What cannot be
 * served is refused with the reason, so the toolstack's hotplug script fails
 * and says why. Taking a device twice is harmless.
 */
final class ToolstackDevices {
    private static final Logger LOG = LogManager.getLogger(ToolstackDevices.class);
    /**
     * Our word to the hotplug script that a toolstack device is ours and ready; the script then
     * writes hotplug-status=connected, which lets the device connect.
     */
    static final String READY_NODE = "xen-disk-java-status";
    /** How long a new device may take to appear in the kernel (and be bound by xen-blkback) before we take it. */
    private static final long KERNEL_RELEASE_WAIT_MS = 2_000;

    /** Where a device came from, and so who owns its nodes and what a daemon restart did to it. */
    enum Origin {
        /**
         * libxl's {@code backend/vbd}: the toolstack owns the nodes and removes them; a
         * Connected one was served by a previous daemon, any other is new.
         */
        TOOLSTACK(VbdPaths.KIND, false, "closed", "detach it and attach it again"),
        /** Our own backend kind: a previous daemon made the nodes for a {@code connect}, which we now own. */
        PREVIOUS_DAEMON(VbdNodes.KIND, true, "unplugged", "connect it again");

        final String kind;
        final boolean ownsNodes;
        /** What becomes of a copy-on-write disk whose changes a restart lost, and how the user gets it back. */
        final String lostFate;
        final String lostFix;

        Origin(String kind, boolean ownsNodes, String lostFate, String lostFix) {
            this.kind = kind;
            this.ownsNodes = ownsNodes;
            this.lostFate = lostFate;
            this.lostFix = lostFix;
        }
    }

    private final XenStore xs;
    private final VbdTable table;
    private final DomainNames domains;
    private final KernelBackends kernel;

    /** @param kernel the host's kernel backends, from which devices of kind vbd are taken */
    ToolstackDevices(XenStore xs, VbdTable table, DomainNames domains, KernelBackends kernel) {
        this.xs = xs;
        this.table = table;
        this.domains = domains;
        this.kernel = kernel;
    }

    /** Takes on xl's device {@code backend/vbd/<domid>/<devid>}, whose script is ours. */
    void adopt(int domid, int devid) {
        take(Origin.TOOLSTACK, domid, devid);
    }

    /**
     * Takes back every device of our own backend kind that a previous daemon
     * made (it died or was killed); the nodes of a guest that is gone are removed.
     */
    void recover() {
        String base = VbdPaths.backends(VbdService.BACKEND_DOMID, Origin.PREVIOUS_DAEMON.kind);
        for (String d : xs.tryDirectory(base)) {
            for (String n : xs.tryDirectory(base + "/" + d)) {
                if (!VbdPaths.isDomid(d) || !VbdPaths.isDevid(n)) {
                    continue;
                }
                try {
                    take(Origin.PREVIOUS_DAEMON, Integer.parseInt(d), Integer.parseInt(n));
                } catch (XenStoreException | IllegalArgumentException e) {
                    LOG.warn("vbd {}/{}: cannot take it back after a restart: {}", d, n, e.getMessage());
                }
            }
        }
    }

    /** The one path: read the device, open its storage, take it from the kernel, serve it or refuse it. */
    private void take(Origin origin, int domid, int devid) {
        String key = domid + "/" + devid;
        String be = VbdPaths.backend(VbdService.BACKEND_DOMID, origin.kind, domid, devid);
        if (table.has(domid, devid)) {
            return;
        }
        Optional<String> params = xs.tryRead(BlkifNodes.path(be, BlkifNodes.PARAMS));
        if (origin == Origin.TOOLSTACK && (params.isEmpty() || !xs.exists(BlkifNodes.path(be, BlkifNodes.FRONTEND)))) {
            LOG.warn("vbd {}: {} has no params or frontend node; not a device the toolstack finished writing", key, be);
            return;
        }
        if (origin.ownsNodes && !domains.exists(domid)) {
            LOG.info("vbd {}: its guest is gone; removing the nodes a previous daemon left", key);
            VbdNodes.remove(xs, be, xs.tryRead(BlkifNodes.path(be, BlkifNodes.FRONTEND)).orElse(VbdNodes.frontendPath(domid, devid)));
            return;
        }
        boolean readOnly = BlkifNodes.isReadOnly(xs.tryRead(BlkifNodes.path(be, BlkifNodes.MODE)).orElse(BlkifNodes.MODE_READ_WRITE));
        String vdev = xs.tryRead(BlkifNodes.path(be, BlkifNodes.DEV)).orElse(Vdev.name(devid));
        String what = "vbd " + key + " (" + vdev + "): ";
        // our own kind exists at start only because a previous daemon served it
        boolean servedBefore = origin == Origin.PREVIOUS_DAEMON
                || XenbusState.CONNECTED.wire().equals(xs.tryRead(BlkifNodes.path(be, BlkifNodes.STATE)).orElse("").trim());
        StorageSpec spec;
        IoEngine storage;
        IoLimits limits;
        try {
            DiskLimits.Target target = DiskLimits.split(params.orElse(""));
            // what blkdeviotune set last, kept by the daemon that served the disk before
            limits = DiskLimits.saved(xs, be).orElse(target.limits());
            spec = StorageSpec.parse(target.target(), readOnly);
            storage = VbdStorage.open(spec);
        } catch (StorageException | IllegalArgumentException e) {
            refuse(origin, be, domid, devid, what + (origin == Origin.PREVIOUS_DAEMON
                    ? "cannot be served again after a restart: " : "") + e.getMessage());
            return;
        }
        KernelBackends backends = origin == Origin.TOOLSTACK ? kernel : KernelBackends.NONE;
        try {
            String done = backends.release(domid, devid, KERNEL_RELEASE_WAIT_MS);
            if (done != null) {
                LOG.info("vbd {}: {}", key, done);
            }
        } catch (IllegalStateException e) {
            storage.close();
            refuse(origin, be, domid, devid, what + e.getMessage());
            return;
        }
        if (servedBefore && storage.capabilities().ephemeral()) {
            storage.close();
            refuse(origin, be, domid, devid, what + "the daemon restarted while serving this copy-on-write disk,"
                    + " whose changes were lost with the old process; it is " + origin.lostFate
                    + " rather than shown to the guest changed (" + origin.lostFix + ")");
            return;
        }
        String storageName = spec.target();
        int sectorSize;
        try {
            // a disk served before keeps the sector size its frontend was told
            sectorSize = Vbd.sectorSize(origin == Origin.PREVIOUS_DAEMON ? servedSectorSize(be) : 0, storage, storageName);
        } catch (IllegalArgumentException e) {
            storage.close();
            refuse(origin, be, domid, devid, what + e.getMessage());
            return;
        }
        Vbd vbd = table.add(be, domid, devid, vdev, storage, storageName, readOnly, origin.ownsNodes, backends,
                sectorSize);
        vbd.limits(limits);
        try {
            DiskLimits.save(xs, be, limits);
            vbd.start();
            if (origin == Origin.TOOLSTACK) {
                sayReady(be);
            }
        } catch (XenStoreException | IllegalStateException e) {
            vbd.destroy((origin == Origin.TOOLSTACK ? "adopting" : "taking it back after a restart") + " failed: "
                    + e.getMessage());
            return;
        }
        if (origin == Origin.TOOLSTACK) {
            LOG.info("vbd {}: serving {} ({}) for the toolstack as {}{}{}", key, storageName,
                    storage.capabilities().ephemeral() ? "ephemeral: changes vanish when it ends" : "persistent", vdev,
                    limits.none() ? "" : ", limits " + limits,
                    servedBefore ? "; its frontend was connected to a previous daemon: resuming its ring" : "");
        } else {
            LOG.info("vbd {}: served again after a daemon restart ({} as {})", key, storageName, vdev);
        }
    }

    /** Tells the hotplug script the device is ours and ready, unless the toolstack removed it meanwhile. */
    private void sayReady(String be) {
        xs.transaction(t -> {
            if (t.exists(BlkifNodes.path(be, BlkifNodes.FRONTEND))) {
                t.write(BlkifNodes.path(be, READY_NODE), "ready");
            }
            return null;
        });
    }

    /** Refuses the device; on our own nodes, asks the guest to let go first (the toolstack does that for its own). */
    private void refuse(Origin origin, String be, int domid, int devid, String why) {
        if (origin.ownsNodes) {
            VbdNodes.requestClose(xs, be);
        }
        table.refuse(be, domid, devid, why, origin.ownsNodes);
    }

    /** The sector-size node a previous daemon wrote into {@code be}; 0 when absent or not a number. */
    private int servedSectorSize(String be) {
        try {
            return Integer.parseInt(xs.tryRead(BlkifNodes.path(be, BlkifNodes.SECTOR_SIZE)).orElse("0").trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
