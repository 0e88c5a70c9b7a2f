package io.xendisk.guest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.blkif.Vdev;
import io.xendisk.blkif.XenbusState;
import io.xendisk.xen.sim.domain.DomainIds;
import io.xendisk.xen.sim.domain.DomainLock;
import io.xendisk.xen.sim.domain.GuestControl;
import io.xendisk.xen.sim.domain.GuestProgram;
import io.xendisk.xen.sim.domain.SimDomain;
import io.xendisk.xen.sim.domain.SimPaths;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreClient;
import io.xendisk.xen.store.XenStoreException;

/**
 * A simulated guest domain with its block frontends. As the toolstack it
 * reserves a domid ({@link DomainIds}), creates the domain's files (RAM,
 * grant table, event channels) and its liveness lock, and introduces it to
 * xenstored; as the guest it connects to its own xenstore socket, watches
 * {@code device/vbd} and runs a {@link Blkfront} for every disk a toolstack
 * adds there. {@link #close()} shuts down like a guest does: frontends close
 * cleanly, then the domain is released and its files removed.
 */
public final class Guest implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(Guest.class);
    /**
     * Grant entries per guest, as Xen 4.17 gives a domain by default (64 frames of 512 v1
     * entries): a frontend uses 1 + 32 x (32 + 1) on a one-page ring with the default indirect
     * segments, 16 + 512 x (32 + 1) on a 16-page ring.
     */
    static final int GRANT_ENTRIES = 32768;
    private static final long SHUTDOWN_MS = 20_000;

    /**
     * How to start a guest.
     * @param xenstoreSocket the main (dom0) socket of xenstored
     * @param controlSocket  null for {@code <simdir>/dom<N>/control.sock}
     * @param maxIndirectSegments segments per INDIRECT request the frontends use at most; 0 for direct requests only
     * @param queues         rings per disk the frontends set up at most (as Linux blkfront, one per vCPU),
     *                       if the backend offers several
     * @param ringPageOrder  rings of up to 2^order pages, if the backend offers them (as Linux
     *                       blkfront's max_ring_page_order, 0 by default)
     */
    public record Config(String name, Path xenstoreSocket, Path simdir, int memoryMib, Abi abi, Path controlSocket,
                         int maxIndirectSegments, int queues, int ringPageOrder) {
        /** One-page rings. */
        public Config(String name, Path xenstoreSocket, Path simdir, int memoryMib, Abi abi, Path controlSocket,
                      int maxIndirectSegments, int queues) {
            this(name, xenstoreSocket, simdir, memoryMib, abi, controlSocket, maxIndirectSegments, queues, 0);
        }

        /** With the default indirect segments. */
        public Config(String name, Path xenstoreSocket, Path simdir, int memoryMib, Abi abi, Path controlSocket) {
            this(name, xenstoreSocket, simdir, memoryMib, abi, controlSocket, GuestProgram.DEFAULT_MAX_INDIRECT_SEGMENTS, 1);
        }

        public Config {
            if (ringPageOrder < 0 || ringPageOrder > BlkfrontIo.MAX_RING_PAGE_ORDER) {
                throw new IllegalArgumentException("ring page order: 0.." + BlkfrontIo.MAX_RING_PAGE_ORDER + ", not "
                        + ringPageOrder);
            }
            if (queues < 1 || queues > GuestProgram.MAX_QUEUES) {
                throw new IllegalArgumentException("queues: 1.." + GuestProgram.MAX_QUEUES + ", not " + queues);
            }
            if (maxIndirectSegments != 0 && (maxIndirectSegments <= Blkif.MAX_SEGMENTS_PER_REQUEST
                    || maxIndirectSegments > 4096)) {
                throw new IllegalArgumentException("max indirect segments: 0 (direct requests only) or 12..4096, not "
                        + maxIndirectSegments);
            }
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(xenstoreSocket, "xenstoreSocket");
            Objects.requireNonNull(simdir, "simdir");
            Objects.requireNonNull(abi, "abi");
            if (memoryMib < 4 || memoryMib > 1 << 20) {
                throw new IllegalArgumentException("guest memory " + memoryMib + " MiB: use 4 MiB .. 1 TiB");
            }
        }
    }

    private final Config config;
    private final int domid;
    private final XenStoreClient dom0;
    private final SimDomain domain;
    private final DomainLock lock;
    private final Map<Integer, Blkfront> frontends = new ConcurrentHashMap<>();
    private final long started = System.nanoTime();
    private XenStoreClient xs;
    private XenStore.Watch devices;
    private ControlServer control;
    private volatile boolean closed;

    private Guest(Config config, int domid, XenStoreClient dom0, SimDomain domain, DomainLock lock) {
        this.config = config;
        this.domid = domid;
        this.dom0 = dom0;
        this.domain = domain;
        this.lock = lock;
    }

    /**
     * Builds and boots the guest. On failure everything done so far is undone.
     * @throws IOException naming what could not be set up
     */
    public static Guest start(Config c) throws IOException {
        XenStoreClient dom0 = XenStoreClient.connect(c.xenstoreSocket());
        int domid;
        try {
            domid = DomainIds.reserve(dom0, c.name(), c.simdir());
        } catch (RuntimeException e) {
            dom0.close();
            throw e;
        }
        SimDomain domain = null;
        DomainLock lock = null;
        Guest g = null;
        try {
            domain = SimDomain.create(c.simdir(), domid, c.memoryMib() * 256, GRANT_ENTRIES);
            lock = DomainLock.acquire(c.simdir(), domid);
            g = new Guest(c, domid, dom0, domain, lock);
            g.boot();
            return g;
        } catch (IOException | RuntimeException e) {
            if (g != null) {
                g.close();
            } else {
                cleanup(dom0, domid, domain, lock);
                dom0.close();
            }
            throw e;
        }
    }

    private void boot() throws IOException {
        Path dir = domain.dir();
        Path controlPath = config.controlSocket() != null ? config.controlSocket().toAbsolutePath()
                : dir.resolve(GuestControl.SOCKET);
        // what GuestControl finds the guest by
        Files.writeString(dir.resolve(SimPaths.NAME), config.name() + "\n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve(SimPaths.CONTROL), controlPath + "\n", StandardCharsets.UTF_8);
        // the domain's files and lock exist before anyone hears of it (the reaper watches introductions)
        dom0.introduce(domid, 0, 0);
        xs = XenStoreClient.connect(domainSocket(config.xenstoreSocket(), domid));
        xs.onDisconnect(() -> {
            if (!closed) {
                LOG.error("guest {} (domain {}): lost its xenstore connection; its disks stop changing state",
                        config.name(), domid);
            }
        });
        control = ControlServer.start(controlPath, new GuestCommands(this)::handle);
        devices = xs.watch(VbdPaths.frontends(VbdPaths.domain(domid)), "guest:" + domid + ":vbd", (p, t) -> scan());
        LOG.info("guest {} is domain {}", config.name(), domid);
    }

    /** Where xenstored puts an introduced domain's socket: beside the main one. */
    static Path domainSocket(Path mainSocket, int domid) {
        return mainSocket.toAbsolutePath().normalize().getParent().resolve("domain")
                .resolve(Integer.toString(domid)).resolve("socket");
    }

    public int domid() {
        return domid;
    }

    public String name() {
        return config.name();
    }

    public Config config() {
        return config;
    }

    /** The control socket clients talk to. */
    public Path controlSocket() {
        return control.path();
    }

    public double uptimeSeconds() {
        return (System.nanoTime() - started) / 1e9;
    }

    /** The frontends, by device id. */
    public List<Blkfront> frontends() {
        List<Blkfront> l = new ArrayList<>(frontends.values());
        l.sort(Comparator.comparingInt(Blkfront::devid));
        return l;
    }

    /** The frontend of a device id, or null. */
    public Blkfront frontend(int devid) {
        return frontends.get(devid);
    }

    /** Waits until the frontend of {@code devid} exists and is Connected; null on timeout or when it ended. */
    public Blkfront awaitConnected(int devid, long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        for (;;) {
            Blkfront fe = frontends.get(devid);
            long left = deadline - System.nanoTime();
            if (fe != null) {
                return fe.awaitConnected(Math.max(0, left), TimeUnit.NANOSECONDS) ? fe : null;
            }
            if (left <= 0) {
                return null;
            }
            Thread.sleep(5);
        }
    }

    /** Starts a frontend for every new device whose directory is complete; stops those removed. */
    private synchronized void scan() {
        if (closed) {
            return;
        }
        try {
            List<String> names = xs.tryDirectory(VbdPaths.frontends(VbdPaths.domain(domid)));
            for (String n : names) {
                int devid;
                try {
                    devid = Integer.parseInt(n);
                } catch (NumberFormatException e) {
                    continue;
                }
                Blkfront fe = frontends.get(devid);
                if (fe != null && !fe.isFinished()) {
                    continue;
                }
                String dir = VbdPaths.frontend(domid, devid);
                // a device to start: complete, and Initialising (a finished one is restarted only when reset)
                if (!XenbusState.INITIALISING.wire().equals(xs.tryRead(BlkifNodes.path(dir, BlkifNodes.STATE))
                        .map(String::trim).orElse(""))
                        || !xs.exists(BlkifNodes.path(dir, BlkifNodes.BACKEND))
                        || !xs.exists(BlkifNodes.path(dir, BlkifNodes.BACKEND_ID))) {
                    continue;
                }
                Blkfront fresh = new Blkfront(xs, domain, devid, config.abi(), config.maxIndirectSegments(),
                        config.queues(), config.ringPageOrder());
                frontends.put(devid, fresh);
                fresh.start();
                LOG.info("guest {}: disk {} (device {}) added", config.name(), Vdev.name(devid), devid);
            }
            for (Integer devid : List.copyOf(frontends.keySet())) {
                if (!names.contains(Integer.toString(devid))) {
                    Blkfront gone = frontends.remove(devid);
                    gone.frontendGone();
                    LOG.info("guest {}: disk {} removed", config.name(), Vdev.name(devid));
                }
            }
        } catch (XenStoreException e) {
            LOG.warn("guest {}: cannot scan {}: {}", config.name(), VbdPaths.frontends(VbdPaths.domain(domid)), e.getMessage());
        }
    }

    /** Runs a workload on a disk given by vdev name or device id. */
    boolean run(String vdev, String workload, List<String> args, Consumer<String> out) throws Exception {
        int devid = Vdev.devid(vdev);
        Blkfront fe = frontends.get(devid);
        if (fe == null) {
            throw new IllegalArgumentException("guest " + config.name() + " has no disk " + vdev + " (device " + devid
                    + "); its disks: " + (frontends.isEmpty() ? "none" : Arrays.toString(
                    frontends().stream().map(f -> Vdev.name(f.devid())).toArray())));
        }
        return Workloads.run(fe, workload, args, out);
    }

    /**
     * Shuts down as a guest does: every frontend drains and closes (Closing,
     * then Closed once the backend follows), then, as the toolstack, removes
     * the domain's xenstore home, releases the domain and removes its files.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (control != null) {
            control.close();
        }
        List<Blkfront> all = List.copyOf(frontends.values());
        for (Blkfront fe : all) {
            fe.requestStop();
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SHUTDOWN_MS);
        for (Blkfront fe : all) {
            try {
                fe.shutdown(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (devices != null) {
            devices.close();
        }
        if (xs != null) {
            xs.close();
        }
        cleanup(dom0, domid, domain, lock);
        dom0.close();
        LOG.info("guest {} (domain {}) shut down", config.name(), domid);
    }

    /** Undoes the toolstack's work: home removed, domain released (fires @releaseDomain), files removed, lock dropped. */
    private static void cleanup(XenStoreClient dom0, int domid, SimDomain domain, DomainLock lock) {
        try {
            dom0.rm("/local/domain/" + domid);
        } catch (XenStoreException e) {
            LOG.warn("domain {}: cannot remove /local/domain/{}: {}", domid, domid, e.getMessage());
        }
        try {
            if (dom0.isDomainIntroduced(domid)) {
                dom0.release(domid);
            }
        } catch (XenStoreException e) {
            LOG.warn("domain {}: RELEASE failed: {}", domid, e.getMessage());
        }
        if (domain != null) {
            try {
                domain.close();
            } catch (RuntimeException e) {
                LOG.warn("domain {}: {}", domid, e.getMessage());
            }
        }
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                LOG.debug("domain {}: releasing the lock: {}", domid, e.getMessage());
            }
        }
    }

    /** The simulated domain directory of a domid, for tools. */
    public static Path domainDir(Path simdir, int domid) {
        return SimPaths.domain(simdir, domid);
    }
}
