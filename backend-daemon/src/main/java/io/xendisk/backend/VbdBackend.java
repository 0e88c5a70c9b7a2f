package io.xendisk.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.blkif.XenbusState;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;
import io.xendisk.xen.store.XsOps;

/**
 * The backend half of one VBD's xenbus handshake (blkif.h "Feature and
 * Parameter Negotiation", PROTOCOL.md §2).
 *
 * <p>Level-triggered: every watch event re-reads the frontend state, the
 * backend state and {@code online} and moves towards what they ask for, so
 * missed intermediate states and duplicate events (both normal with libxl and
 * Linux) need no special cases. So watch events only trigger the VBD's
 * {@link Reconciler}: however many arrive, reconciles of one VBD run one at a
 * time and at most once more after the current one, on a pool shared with the
 * other VBDs, none of which waits on this one.
 */
public final class VbdBackend implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(VbdBackend.class);
    /** How long a connected frontend gets to close after the toolstack asked for it. libxl waits 10 s. */
    static final long CLOSE_GRACE_MS = 5_000;
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "xenbus-timer");
        t.setDaemon(true);
        return t;
    });

    /** Hears what happens to the VBD; called with the VBD's lock held, so keep it short. */
    public interface Listener {
        default void onStateChange(VbdBackend vbd, XenbusState state) {
        }

        /** The handshake is over for good: the frontend or backend directory is gone, or online=0 and Closed. */
        default void onTeardown(VbdBackend vbd, String reason) {
        }
    }

    private final XenStore xs;
    private final String backendPath;
    private final int frontendDomid;
    private final int devid;
    /** Replaced when the disk grows. */
    private DiskInfo disk;
    private final RingConnector connector;
    private final Listener listener;
    private final BlkifFeatures features;
    private final boolean awaitHotplug;
    private final String name;
    private final List<XenStore.Watch> watches = new ArrayList<>();
    private final Reconciler reconciler;
    /** Features another backend (kernel blkback) may have offered on this node, which we do not. */
    private static final List<String> NOT_OFFERED = List.of(BlkifNodes.MAX_RING_PAGES, BlkifNodes.DISCARD_SECURE);
    private static final List<String> DISCARD_NODES = List.of(BlkifNodes.FEATURE_DISCARD,
            BlkifNodes.DISCARD_GRANULARITY, BlkifNodes.DISCARD_ALIGNMENT);

    private String frontendPath;
    private XenbusState state = XenbusState.INITIALISING;
    private FrontendRing ring;
    private String lastError;
    /** The frontend had its time to close after the toolstack asked: Closed without waiting for it. */
    private boolean graceOver;
    /** A reconcile is due when the connector's last stuck ring thread leaves. */
    private boolean releaseWatched;
    private String lastBadFrontendState;
    private boolean toolstackClose;
    private ScheduledFuture<?> closeTimer;
    private boolean done;
    /** Written only under the lock. */
    private volatile long reconciles;

    public VbdBackend(XenStore xs, String backendPath, int frontendDomid, int devid, DiskInfo disk,
                      RingConnector connector, Listener listener) {
        this(xs, backendPath, frontendDomid, devid, disk, connector, listener, BlkifFeatures.BASIC);
    }

    public VbdBackend(XenStore xs, String backendPath, int frontendDomid, int devid, DiskInfo disk,
                      RingConnector connector, Listener listener, BlkifFeatures features) {
        this(xs, backendPath, frontendDomid, devid, disk, connector, listener, features, false);
    }

    /**
     * @param awaitHotplug a toolstack device (kind vbd): as kernel blkback waits for the hotplug
     *                     script's physical-device, connect only once the script has said
     *                     {@code hotplug-status=connected}; libxl runs the script only after
     *                     seeing InitWait, and a backend already Connected by then would make
     *                     it wait in vain
     */
    public VbdBackend(XenStore xs, String backendPath, int frontendDomid, int devid, DiskInfo disk,
                      RingConnector connector, Listener listener, BlkifFeatures features, boolean awaitHotplug) {
        this.awaitHotplug = awaitHotplug;
        this.xs = xs;
        this.backendPath = backendPath;
        this.frontendDomid = frontendDomid;
        this.devid = devid;
        this.disk = disk;
        this.connector = connector;
        this.listener = listener;
        this.features = features;
        this.name = "vbd " + frontendDomid + "/" + devid;
        this.reconciler = new Reconciler(name, this::reconcile);
    }

    /**
     * Publishes the features, goes InitWait and starts watching both ends.
     * @throws XenStoreException naming the node when the backend directory is unusable
     */
    public synchronized void start() {
        Optional<String> fe = xs.tryRead(be(BlkifNodes.FRONTEND));
        if (fe.isEmpty() || !fe.get().startsWith("/")) {
            throw new XenStoreException(name + ": " + be(BlkifNodes.FRONTEND) + " is "
                    + fe.map(v -> "'" + v + "' (not an absolute path)").orElse("missing")
                    + "; the toolstack must write the frontend path before the backend starts", null);
        }
        frontendPath = fe.get();
        if (!XenbusState.CONNECTED.wire().equals(xs.tryRead(fe(BlkifNodes.STATE)).orElse("").trim())) {
            // not a ring a previous daemon served and this one resumes
            connector.freshRings();
        }
        publishFeatures();
        String token = "xdj:" + backendPath;
        XenStore.WatchListener changed = (p, t) -> reconciler.trigger();
        watches.add(xs.watch(be(BlkifNodes.STATE), token + ":state", changed));
        watches.add(xs.watch(be(BlkifNodes.ONLINE), token + ":online", changed));
        watches.add(xs.watch(fe(BlkifNodes.STATE), token + ":fe", changed));
        if (awaitHotplug) {
            watches.add(xs.watch(be(BlkifNodes.HOTPLUG_STATUS), token + ":hotplug", changed));
        }
    }

    public String name() {
        return name;
    }

    public String backendPath() {
        return backendPath;
    }

    public synchronized String frontendPath() {
        return frontendPath;
    }

    public int frontendDomid() {
        return frontendDomid;
    }

    public int devid() {
        return devid;
    }

    /** The state this backend last wrote. */
    public synchronized XenbusState state() {
        return state;
    }

    /** The ring the frontend published at the last connect, or null. */
    public synchronized FrontendRing ring() {
        return ring;
    }

    /** The last problem that stopped the handshake, or null. */
    public synchronized String lastError() {
        return lastError;
    }

    public synchronized boolean isTornDown() {
        return done;
    }

    /** How many times the handshake was reconciled, for tests of coalescing; read without the lock a reconcile holds. */
    long reconciles() {
        return reconciles;
    }

    /** Re-reads both ends and moves the handshake on; safe to call at any time. */
    public synchronized void reconcile() {
        if (done) {
            return;
        }
        reconciles++;
        try {
            step();
        } catch (XenStoreException e) {
            LOG.warn("{}: xenstore error during handshake: {}", name, e.getMessage());
        }
    }

    private void step() {
        Optional<String> beState = xs.tryRead(be(BlkifNodes.STATE));
        if (beState.isEmpty() && !xs.exists(backendPath)) {
            teardown("backend directory " + backendPath + " removed");
            return;
        }
        Optional<String> feRaw = xs.tryRead(fe(BlkifNodes.STATE));
        if (feRaw.isEmpty()) {
            if (!xs.exists(frontendPath)) {
                // xl destroy removes the whole domain directory: say so, it is what the user did;
                // the toolstack may still wait for our Closed to remove the backend directory
                abandon(xs.exists(VbdPaths.domain(frontendDomid))
                        ? "frontend directory " + frontendPath + " removed"
                        : "domain " + frontendDomid + " is gone (its frontend directory " + frontendPath + " was removed)");
            }
            return; // directory being written: wait for the state node
        }
        XenbusState fe = XenbusState.parse(feRaw.get());
        if (fe == null) {
            if (!feRaw.get().equals(lastBadFrontendState)) {
                lastBadFrontendState = feRaw.get();
                LOG.warn("{}: {} is '{}', not a xenbus state (0-8); ignored until the frontend writes a valid one",
                        name, fe(BlkifNodes.STATE), feRaw.get());
            }
            return;
        }
        boolean online = isOnline();
        XenbusState be = XenbusState.parse(beState.orElse(""));
        if (!toolstackClose && (!online || (be == XenbusState.CLOSING && state != XenbusState.CLOSING))) {
            toolstackClose = true;
            LOG.info("{}: toolstack asks to close (online={}, backend state {})", name, online ? 1 : 0, be);
        }
        if (toolstackClose) {
            closeForToolstack(fe, be, online);
            return;
        }
        switch (fe) {
            case INITIALISING, INIT_WAIT -> {
                if (state == XenbusState.CLOSED || state == XenbusState.CONNECTED || state == XenbusState.CLOSING) {
                    // frontend reset (reboot, kexec, driver reload): offer the device again, once
                    // no ring thread can still write the old ring's pages
                    disconnectRing();
                    if (holdClosing()) {
                        return;
                    }
                    offerAgain();
                }
            }
            case INITIALISED, CONNECTED -> {
                if (state == XenbusState.INIT_WAIT) {
                    if (awaitHotplug && !BlkifNodes.HOTPLUG_CONNECTED.equals(
                            xs.tryRead(be(BlkifNodes.HOTPLUG_STATUS)).orElse("").trim())) {
                        return; // the hotplug script has not run yet
                    }
                    connect();
                } else if (state == XenbusState.CONNECTED) {
                    FrontendRing now = readRingQuietly();
                    if (now != null && !now.equals(ring)) {
                        LOG.info("{}: frontend published a new ring, reconnecting", name);
                        disconnectRing();
                        connect();
                    }
                } else if (state == XenbusState.CLOSED) {
                    // went Closed -> Initialised without passing Initialising
                    offerAgain();
                    connect();
                }
            }
            case CLOSING -> {
                if (state != XenbusState.CLOSED) {
                    disconnectRing();
                    setState(XenbusState.CLOSING);
                }
            }
            case CLOSED, UNKNOWN -> {
                disconnectRing();
                if (holdClosing()) {
                    return;
                }
                if (state != XenbusState.CLOSED) {
                    setState(XenbusState.CLOSED);
                }
            }
            default -> { } // Reconfiguring/Reconfigured are not used by blkif
        }
    }

    private void closeForToolstack(XenbusState fe, XenbusState be, boolean online) {
        if (state == XenbusState.CLOSED) {
            if (be != XenbusState.CLOSED) {
                setState(XenbusState.CLOSED); // the toolstack wrote Closing over our Closed: confirm it
            }
            if (!online) {
                teardown("closed by the toolstack (online=0)");
            }
            return;
        }
        disconnectRing();
        if ((fe == XenbusState.CONNECTED || fe == XenbusState.CLOSING) && !graceOver) {
            // a live frontend answers our Closing with Closed; give it time to flush
            if (state != XenbusState.CLOSING) {
                setState(XenbusState.CLOSING);
            }
            if (closeTimer == null) {
                closeTimer = TIMER.schedule(this::forceClosed, CLOSE_GRACE_MS, TimeUnit.MILLISECONDS);
            }
            return;
        }
        if (holdClosing()) {
            return;
        }
        setState(XenbusState.CLOSED);
        if (!online) {
            teardown("closed by the toolstack (online=0)");
        }
    }

    /**
     * Keeps the backend in Closing while a ring thread is still in the
     * storage (a slow NFS read, an fdatasync that does not return): its
     * pages stay mapped until the call returns, and Closed would tell the
     * frontend and the toolstack they may reuse them. The VBD's last error
     * says why; the next reconcile, when the thread has left, closes.
     * @return true when held
     */
    private boolean holdClosing() {
        int stuck = connector.stuckRings();
        if (stuck == 0) {
            return false;
        }
        String why = (stuck == 1 ? "a ring thread is" : stuck + " ring threads are") + " still in the storage;"
                + " the backend stays Closing until the call returns (the guest's pages stay mapped meanwhile)";
        if (!why.equals(lastError)) {
            lastError = why;
            LOG.warn("{}: {}", name, why);
        }
        if (state != XenbusState.CLOSING) {
            setState(XenbusState.CLOSING);
        }
        if (!releaseWatched) {
            releaseWatched = true;
            connector.whenStopped(() -> {
                synchronized (this) {
                    releaseWatched = false;
                }
                reconciler.trigger();
            });
        }
        return true;
    }

    private synchronized void forceClosed() {
        if (done || state == XenbusState.CLOSED) {
            return;
        }
        LOG.warn("{}: frontend did not close within {} ms of the toolstack's request; closing anyway", name, CLOSE_GRACE_MS);
        graceOver = true;
        try {
            if (holdClosing()) {
                return;
            }
            setState(XenbusState.CLOSED);
            boolean online = isOnline();
            if (!online) {
                teardown("closed by the toolstack (online=0)");
            }
        } catch (XenStoreException e) {
            LOG.warn("{}: {}", name, e.getMessage());
        }
    }

    /** The device offered again after a frontend reset: its old rings are gone for good. */
    private void offerAgain() {
        connector.freshRings();
        publishFeatures();
    }

    private void publishFeatures() {
        xs.transaction(t -> {
            if (disk.flush()) {
                t.write(be(BlkifNodes.FEATURE_FLUSH_CACHE), BlkifNodes.ON);
            }
            t.write(be(BlkifNodes.FEATURE_BARRIER), BlkifNodes.OFF);
            // a node we do not offer may have been written by another backend before us (kernel
            // blkback probes every backend/vbd): an absent node is what says "not offered"
            optional(t, BlkifNodes.MULTI_QUEUE_MAX_QUEUES, features.maxQueues() > 1 ? features.maxQueues() : 0);
            optional(t, BlkifNodes.MAX_RING_PAGE_ORDER, features.maxRingPageOrder());
            optional(t, BlkifNodes.FEATURE_MAX_INDIRECT_SEGMENTS, features.maxIndirectSegments());
            optional(t, BlkifNodes.FEATURE_PERSISTENT, features.persistentGrants() ? 1 : 0);
            for (String n : NOT_OFFERED) {
                if (t.exists(be(n))) {
                    t.rm(be(n));
                }
            }
            writeState(t, XenbusState.INIT_WAIT);
            return null;
        });
        changed(XenbusState.INIT_WAIT);
        lastError = null;
    }

    /**
     * The discard offer, read by blkfront when it connects (as blkback writes it then): granularity
     * and alignment always with the feature (blkif.h note 4); discard-secure never, since no
     * engine can promise the freed bytes are gone from the medium.
     */
    private void writeDiscard(XsOps t) {
        if (disk.discard()) {
            t.write(be(BlkifNodes.FEATURE_DISCARD), BlkifNodes.ON);
            t.write(be(BlkifNodes.DISCARD_GRANULARITY), Integer.toString(disk.discardGranularity()));
            t.write(be(BlkifNodes.DISCARD_ALIGNMENT), "0");
        } else {
            for (String n : DISCARD_NODES) {
                if (t.exists(be(n))) {
                    t.rm(be(n));
                }
            }
        }
        if (t.exists(be(BlkifNodes.DISCARD_SECURE))) {
            t.rm(be(BlkifNodes.DISCARD_SECURE));
        }
    }

    /** Writes {@code node} when {@code value} is non-zero, removes it otherwise. */
    private void optional(XsOps t, String node, int value) {
        if (value != 0) {
            t.write(be(node), Integer.toString(value));
        } else if (t.exists(be(node))) {
            t.rm(be(node));
        }
    }

    private void connect() {
        FrontendRing r;
        try {
            r = readRing();
        } catch (BadFrontendException e) {
            fail(e.getMessage());
            return;
        }
        try {
            connector.connect(r);
        } catch (Exception e) {
            fail("cannot serve the ring: " + e.getMessage());
            return;
        }
        ring = r;
        xs.transaction(t -> {
            t.write(be(BlkifNodes.SECTORS), Long.toString(disk.sectors()));
            // device-type is written with the device (connect --cdrom, xl devtype=cdrom), maybe after we were made
            boolean cdrom = BlkifNodes.CDROM.equals(t.tryRead(be(BlkifNodes.DEVICE_TYPE)).orElse("").trim());
            t.write(be(BlkifNodes.INFO), Integer.toString(disk.infoBits()
                    | (cdrom ? DiskInfo.VDISK_CDROM | DiskInfo.VDISK_REMOVABLE | DiskInfo.VDISK_READONLY : 0)));
            t.write(be(BlkifNodes.SECTOR_SIZE), Integer.toString(disk.sectorSize()));
            t.write(be(BlkifNodes.PHYSICAL_SECTOR_SIZE), Integer.toString(disk.sectorSize()));
            writeDiscard(t);
            writeState(t, XenbusState.CONNECTED);
            return null;
        });
        changed(XenbusState.CONNECTED);
        if (r.queues().size() == 1) {
            LOG.info("{}: connected (ring-ref {}, event channel {}, {})", name, r.ringRefs(), r.eventChannel(),
                    r.abi().protocol());
        } else {
            LOG.info("{}: connected, {} queues ({})", name, r.queues().size(), r.abi().protocol());
        }
    }

    /**
     * The disk grew to {@code sectors}: as blkback (and QEMU's xen_block_resize_cb), the new
     * {@code sectors} and the state Connected written again in one transaction, which Linux
     * blkfront takes as "read the size again"; a frontend not connected reads it when it connects.
     */
    public synchronized void resized(long sectors) {
        disk = new DiskInfo(sectors, disk.sectorSize(), disk.readOnly(), disk.flush(), disk.discardGranularity(),
                disk.cdrom());
        if (done || state != XenbusState.CONNECTED) {
            return;
        }
        xs.transaction(t -> {
            t.write(be(BlkifNodes.SECTORS), Long.toString(sectors));
            writeState(t, XenbusState.CONNECTED);
            return null;
        });
        LOG.info("{}: resized to {} sectors; told the frontend", name, sectors);
    }

    /**
     * The data path found the frontend broken (e.g. a producer index beyond
     * the ring): stop serving and close, as Linux's xenbus_dev_fatal does.
     */
    public synchronized void fatal(String why) {
        if (done) {
            return;
        }
        try {
            disconnectRing();
            fail(why);
        } catch (XenStoreException e) {
            LOG.warn("{}: {}", name, e.getMessage());
        }
    }

    /** Like Linux's xenbus_dev_fatal: log, remember, and switch to Closing. */
    private void fail(String why) {
        lastError = why;
        LOG.error("{}: {}", name, why);
        setState(XenbusState.CLOSING);
    }

    private FrontendRing readRingQuietly() {
        try {
            return readRing();
        } catch (BadFrontendException | XenStoreException e) {
            return null;
        }
    }

    private FrontendRing readRing() throws BadFrontendException {
        String fe = frontendPath;
        int queues = (int) number(fe, BlkifNodes.MULTI_QUEUE_NUM_QUEUES, 1, 1, 0xFFFF);
        if (queues > features.maxQueues()) {
            throw new BadFrontendException(BlkifNodes.path(fe, BlkifNodes.MULTI_QUEUE_NUM_QUEUES) + " is " + queues
                    + " but this backend offers at most " + features.maxQueues() + " ("
                    + BlkifNodes.MULTI_QUEUE_MAX_QUEUES + ")");
        }
        int order = (int) number(fe, BlkifNodes.RING_PAGE_ORDER, 0, 0, 31);
        if (order > features.maxRingPageOrder()) {
            throw new BadFrontendException(BlkifNodes.path(fe, BlkifNodes.RING_PAGE_ORDER) + " is " + order
                    + " but this backend offers at most " + features.maxRingPageOrder());
        }
        // blkif.h: one queue keeps its keys in the frontend's directory, several under queue-N/
        List<FrontendRing.Queue> rings = new ArrayList<>();
        for (int q = 0; q < queues; q++) {
            rings.add(readQueue(BlkifNodes.queueDir(fe, queues, q), order));
        }
        String protocol = xs.tryRead(BlkifNodes.path(fe, BlkifNodes.PROTOCOL)).orElse(null);
        Abi abi = Abi.ofProtocol(protocol);
        if (abi == null) {
            throw new BadFrontendException(BlkifNodes.path(fe, BlkifNodes.PROTOCOL) + " is '" + protocol
                    + "'; supported: x86_64-abi, x86_32-abi (or no node for the native ABI)");
        }
        // blkif.h: persistent grants are used only when both ends offer them
        boolean persistent = features.persistentGrants()
                && BlkifNodes.isOn(xs.tryRead(BlkifNodes.path(fe, BlkifNodes.FEATURE_PERSISTENT)).orElse(null));
        return new FrontendRing(frontendDomid, rings, abi, persistent);
    }

    private FrontendRing.Queue readQueue(String dir, int order) throws BadFrontendException {
        List<Integer> refs = new ArrayList<>();
        if (order == 0 && xs.exists(BlkifNodes.path(dir, BlkifNodes.RING_REF))) {
            refs.add((int) number(dir, BlkifNodes.RING_REF, -1, 0, 0xFFFFFFFFL));
        } else {
            for (int i = 0; i < (1 << order); i++) {
                refs.add((int) number(dir, BlkifNodes.ringRef(i), -1, 0, 0xFFFFFFFFL));
            }
        }
        int port = (int) number(dir, BlkifNodes.EVENT_CHANNEL, -1, 1, 0xFFFFFFFEL);
        return new FrontendRing.Queue(refs, port);
    }

    /** A decimal node in [min, max]; {@code dflt} when absent, or -1 to make it mandatory. */
    private long number(String dir, String node, long dflt, long min, long max) throws BadFrontendException {
        String path = BlkifNodes.path(dir, node);
        Optional<String> v = xs.tryRead(path);
        if (v.isEmpty()) {
            if (dflt < 0) {
                throw new BadFrontendException(path + " is missing; the frontend must publish it before Initialised");
            }
            return dflt;
        }
        try {
            long n = Long.parseLong(v.get().trim());
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new BadFrontendException(path + " is '" + v.get() + "', expected a number from "
                    + min + " to " + max);
        }
    }

    private void disconnectRing() {
        if (ring != null) {
            connector.disconnect();
            ring = null;
        }
    }

    private void setState(XenbusState s) {
        xs.transaction(t -> {
            writeState(t, s);
            return null;
        });
        changed(s);
    }

    private void writeState(XsOps t, XenbusState s) {
        // writing into a directory the toolstack already removed would recreate it
        if (!t.exists(be(BlkifNodes.FRONTEND))) {
            throw new XenStoreException(name + ": backend directory " + backendPath + " is gone", null);
        }
        t.write(be(BlkifNodes.STATE), s.wire());
    }

    private void changed(XenbusState s) {
        if (s != state) {
            LOG.info("{}: backend {} -> {}", name, state, s);
        }
        state = s;
        listener.onStateChange(this, s);
    }

    private void teardown(String reason) {
        if (done) {
            return;
        }
        done = true;
        disconnectRing();
        if (closeTimer != null) {
            closeTimer.cancel(false);
        }
        LOG.info("{}: torn down: {}", name, reason);
        reconciler.close();
        closeWatches();
        listener.onTeardown(this, reason);
    }

    private void closeWatches() {
        for (XenStore.Watch w : watches) {
            try {
                w.close();
            } catch (XenStoreException e) {
                LOG.debug("{}: unwatch {}: {}", name, w.path(), e.getMessage());
            }
        }
        watches.clear();
    }

    /**
     * The guest is gone: releases the ring at once (its grants must not keep
     * the dying domain) and says Closed, which is what a toolstack tearing the
     * device down waits for (libxl's xl destroy), as kernel blkback does when
     * its frontend vanishes; then stops watching.
     */
    public synchronized void abandon(String reason) {
        if (done) {
            return;
        }
        disconnectRing();
        try {
            if (state != XenbusState.CLOSED) {
                setState(XenbusState.CLOSED);
            }
        } catch (XenStoreException e) {
            LOG.debug("{}: {}", name, e.getMessage()); // the directory went with the domain
        }
        teardown(reason);
    }

    /** Stops watching and releases the ring without touching xenstore (daemon shutdown). */
    @Override
    public void close() {
        reconciler.close(); // before the lock, which a reconcile under way holds: nothing new is queued meanwhile
        synchronized (this) {
            if (!done) {
                done = true;
                disconnectRing();
                if (closeTimer != null) {
                    closeTimer.cancel(false);
                }
                closeWatches();
            }
        }
    }

    /** "0" in online asks us to close; no node (or anything else) means stay. */
    private boolean isOnline() {
        return !BlkifNodes.OFF.equals(xs.tryRead(be(BlkifNodes.ONLINE)).orElse("1").trim());
    }

    private String be(String node) {
        return BlkifNodes.path(backendPath, node);
    }

    private String fe(String node) {
        return BlkifNodes.path(frontendPath, node);
    }

    private static final class BadFrontendException extends Exception {
        BadFrontendException(String message) {
            super(message);
        }
    }
}
