package io.xendisk.backend;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.Rejection;
import io.xendisk.blkif.Request;
import io.xendisk.blkif.XenbusState;
import io.xendisk.storage.IoEngine;
import io.xendisk.xen.EventChannels;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * One virtual block device the daemon serves: its xenbus handshake
 * ({@link VbdBackend}), its data path ({@link BlkifConnector}), its storage
 * and its counters, and what happens when it ends.
 */
public final class Vbd {
    private static final Logger LOG = LogManager.getLogger(Vbd.class);
    /** The sector size of 4Kn disks, the other one a disk may have. */
    public static final int SECTOR_4K = 4096;
    /** Ring failures are handled off the ring thread, which must not wait on the handshake's lock. */
    private static final ExecutorService EVENTS = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "vbd-events");
        t.setDaemon(true);
        return t;
    });

    private final XenStore xs;
    private final int domid;
    private final int devid;
    private final String vdev;
    private final String storageName;
    private final IoEngine storage;
    private final boolean ownsNodes;
    private final VbdStats stats = new VbdStats();
    private final VbdBackend backend;
    private final BlkifConnector connector;
    private final Consumer<Vbd> onGone;
    private final CountDownLatch gone = new CountDownLatch(1);
    private volatile String endReason;
    private final String name;
    private final int sectorSize;
    private Request.Limits limits;
    private volatile String ringError;

    /**
     * @param ownsNodes true when we created the xenstore directories (connect) and so remove them at the end
     * @param onGone    called once when the VBD has ended and released everything
     */
    public Vbd(XenStore xs, GrantTable grants, EventChannels channels, String backendPath, int domid, int devid,
               String vdev, IoEngine storage, String storageName, boolean readOnly, boolean ownsNodes,
               BlkifFeatures features, Consumer<Vbd> onGone) {
        this(xs, grants, channels, backendPath, domid, devid, vdev, storage, storageName, readOnly, ownsNodes,
                features, KernelBackends.NONE, RingJournals.NONE, Blkif.SECTOR_SIZE, onGone);
    }

    /**
     * The sector-size a disk is served with: {@code requested} (0: the storage's own unit), at
     * least the unit the storage takes I/O in, and a divisor of the disk's size.
     * @throws IllegalArgumentException naming the disk and what to change
     */
    public static int sectorSize(int requested, IoEngine storage, String target) {
        int unit = storage.logicalBlockSize();
        int size = requested == 0 ? unit : requested;
        if (size != Blkif.SECTOR_SIZE && size != SECTOR_4K) {
            throw new IllegalArgumentException("sector size " + size + " of " + target + ": use 512 or 4096");
        }
        if (size < unit) {
            throw new IllegalArgumentException(target + " takes I/O in units of " + unit
                    + " bytes; serve it with sector size " + unit + " (or leave the sector size out)");
        }
        if (storage.sizeBytes() % size != 0) {
            throw new IllegalArgumentException(target + " is " + storage.sizeBytes() + " bytes, not a whole number of "
                    + size + "-byte sectors; grow it to a multiple of " + size + " (truncate -s)");
        }
        return size;
    }

    /**
     * @param kernel the host's kernel backends: a device of kind vbd is taken from them
     *               again right before each ring connects (xen-blkback may have mapped it first)
     * @param journals where its rings keep their response journals, for a daemon that resumes them
     */
    public Vbd(XenStore xs, GrantTable grants, EventChannels channels, String backendPath, int domid, int devid,
               String vdev, IoEngine storage, String storageName, boolean readOnly, boolean ownsNodes,
               BlkifFeatures features, KernelBackends kernel, RingJournals journals, int sectorSize,
               Consumer<Vbd> onGone) {
        this.xs = xs;
        this.domid = domid;
        this.devid = devid;
        this.vdev = vdev;
        this.storage = storage;
        this.storageName = storageName;
        this.ownsNodes = ownsNodes;
        this.onGone = onGone;
        this.name = "vbd " + domid + "/" + devid;
        this.sectorSize = sectorSize;
        // a CD-ROM (the toolstack's or our device-type node) is read-only whatever the mode says
        boolean cdrom = BlkifNodes.CDROM.equals(node(xs, backendPath, BlkifNodes.DEVICE_TYPE));
        boolean ro = readOnly || cdrom || storage.capabilities().readOnly();
        boolean discard = !ro && storage.capabilities().discard() && discardEnabled(xs, backendPath);
        this.limits = new Request.Limits(storage.sizeSectors(), ro, discard, features.maxIndirectSegments(),
                sectorSize);
        this.connector = new BlkifConnector(name, grants, channels, storage, limits, stats, this::ringFailed, () -> {
            String done = kernel.release(domid, devid, 0);
            if (done != null) {
                LOG.info("{}: {}", name, done);
            }
        }, journals, domid, devid);
        this.backend = new VbdBackend(xs, backendPath, domid, devid,
                new DiskInfo(storage.sizeSectors(), sectorSize, ro, true,
                        discard ? Math.max(sectorSize, storage.discardGranularity()) : 0, cdrom), connector, new VbdBackend.Listener() {
                    @Override
                    public void onTeardown(VbdBackend vbd, String reason) {
                        ended(reason);
                    }
                }, features, !ownsNodes);
    }

    /**
     * The toolstack's {@code discard-enable} (xl's no-discard, libvirt's discard='ignore'
     * write 0): absent or anything but 0 lets the engine's discard through, as in blkback.
     */
    private static boolean discardEnabled(XenStore xs, String backendPath) {
        return !"0".equals(node(xs, backendPath, BlkifNodes.DISCARD_ENABLE));
    }

    /** A node of the backend directory, trimmed; "" when absent or unreadable. */
    private static String node(XenStore xs, String backendPath, String name) {
        try {
            return xs.tryRead(BlkifNodes.path(backendPath, name)).orElse("").trim();
        } catch (XenStoreException e) {
            return "";
        }
    }

    /**
     * Grows the disk to {@code newBytes} while it is served: the engine first, then the rings'
     * limits, then the frontend is told (new {@code sectors}, the state written again). Shrinking
     * is refused: the guest's data past the new end would be cut off under a mounted filesystem.
     * @throws IllegalArgumentException naming the disk and why, for a size it cannot take
     * @throws io.xendisk.storage.StorageException when the engine cannot grow
     */
    public synchronized void grow(long newBytes) {
        long old = storage.sizeBytes();
        if (newBytes < old) {
            throw new IllegalArgumentException(name + ": cannot shrink " + storageName + " from " + Sizes.human(old)
                    + " to " + Sizes.human(newBytes) + ": the guest's data past the new end would be cut off;"
                    + " only growing is supported (shrink the filesystem in the guest, disconnect, then shrink the image)");
        }
        if (newBytes % sectorSize != 0) {
            throw new IllegalArgumentException(name + ": " + newBytes + " bytes is not a whole number of the disk's "
                    + sectorSize + "-byte sectors");
        }
        if (newBytes == old) {
            return;
        }
        storage.grow(newBytes);
        limits = new Request.Limits(newBytes >> 9, limits.readOnly(), limits.discard(), limits.maxIndirectSegments(),
                limits.sectorSize());
        connector.grown(limits);
        backend.resized(newBytes >> 9);
        LOG.info("{}: grown from {} to {} ({})", name, Sizes.human(old), Sizes.human(newBytes), storageName);
    }

    public long sizeBytes() {
        return storage.sizeBytes();
    }

    /** Publishes features and starts the handshake. */
    public void start() {
        backend.start();
    }

    public int domid() {
        return domid;
    }

    public int devid() {
        return devid;
    }

    public String vdev() {
        return vdev;
    }

    /** True when we made its xenstore directories ({@code connect}); false for the toolstack's devices. */
    public boolean ownsNodes() {
        return ownsNodes;
    }

    public String storageName() {
        return storageName;
    }

    /** The disk's I/O limits now. */
    public IoLimits limits() {
        return connector.throttle().limits();
    }

    /** Limits the disk's I/O from now on, on every ring it has and will have. */
    public void limits(IoLimits l) {
        connector.throttle().update(l, System.nanoTime());
    }

    public VbdStats stats() {
        return stats;
    }

    public XenbusState state() {
        return backend.state();
    }

    public String backendPath() {
        return backend.backendPath();
    }

    /** The last problem of the handshake or the ring, or null. */
    public String lastError() {
        String r = ringError;
        return r != null ? r : backend.lastError();
    }

    public boolean isGone() {
        return gone.getCount() == 0;
    }

    /** Why it ended, once it has. */
    public String endReason() {
        return endReason;
    }

    /**
     * Hot-unplug, as a toolstack asks for it: online=0 + Closing; the
     * handshake then closes with the frontend. Waits up to {@code timeoutMs}
     * for the end; returns true when it ended.
     */
    public boolean disconnect(long timeoutMs) throws InterruptedException {
        try {
            VbdNodes.requestClose(xs, backend.backendPath());
            backend.reconcile();
        } catch (XenStoreException e) {
            LOG.warn("vbd {}/{}: {}", domid, devid, e.getMessage());
            ended("disconnect: " + e.getMessage());
        }
        return gone.await(timeoutMs, TimeUnit.MILLISECONDS);
    }

    /** The guest died: release everything at once and tell the toolstack Closed. */
    public void abandon(String reason) {
        backend.abandon(reason);
        ended(reason);
    }

    /** Ends at once without a handshake (the guest is dead, or the daemon stops). */
    public void destroy(String reason) {
        backend.close();
        ended(reason);
    }

    /** Counters for list/status, named as users see them. */
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("reads", stats.reads());
        m.put("read-bytes", stats.readBytes());
        m.put("writes", stats.writes());
        m.put("write-bytes", stats.writeBytes());
        m.put("flushes", stats.flushes());
        m.put("discards", stats.discards());
        m.put("errors", stats.errors());
        for (Map.Entry<Rejection, Long> e : stats.rejections().entrySet()) {
            m.put("rejected-" + e.getKey().name().toLowerCase().replace('_', '-'), e.getValue());
        }
        m.put("queues", (long) stats.queues());
        m.put("batches", stats.batches());
        m.put("ring-util-pct", stats.ringUtilisationPercent());
        m.put("notifications", stats.notifications());
        m.put("events", stats.events());
        m.put("spurious-events", stats.spuriousEvents());
        m.put("backoffs", stats.backoffs());
        m.put("indirect-requests", stats.indirectRequests());
        m.put("persistent-grants", (long) stats.persistentGrants());
        return m;
    }

    private void ringFailed(String why) {
        ringError = why;
        EVENTS.execute(() -> backend.fatal(why + "; this VBD closes, the others keep serving"));
    }

    private synchronized void ended(String reason) {
        if (endReason != null) {
            return;
        }
        endReason = reason;
        connector.disconnect();
        if (connector.stuckRings() > 0) {
            ringError = "ending (" + reason + "), but a ring thread is still in the storage " + storageName
                    + "; the disk is released when that call returns";
        }
        // the storage outlives every call into it: a thread stuck in it closes it when it returns
        connector.whenStopped(this::released);
    }

    private void released() {
        storage.close();
        String reason = endReason;
        if (ownsNodes) {
            try {
                VbdNodes.remove(xs, backend.backendPath(), backend.frontendPath());
            } catch (XenStoreException e) {
                LOG.warn("vbd {}/{}: could not remove its xenstore nodes: {}", domid, devid, e.getMessage());
            }
        }
        LOG.info("vbd {}/{} ended: {}", domid, devid, reason);
        gone.countDown();
        onGone.accept(this);
    }
}
