package io.xendisk.guest;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.blkif.XenbusState;
import io.xendisk.xen.sim.domain.GuestProgram;
import io.xendisk.xen.sim.domain.SimDomain;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * The frontend of one virtual disk, run as Linux blkfront does
 * (PROTOCOL.md §2.3): waits for the backend's InitWait, reads its features,
 * sets up the ring ({@link BlkfrontIo}), publishes ring-ref, event-channel
 * and protocol in one transaction, goes Initialised; on the backend's
 * Connected reads sectors, info and sector-size (all mandatory) and goes
 * Connected. When the backend closes, in-flight I/O is drained, the frontend
 * goes Closed and the grants are revoked. Asked for several queues, it takes
 * as many as the backend offers (multi-queue-max-queues) up to that, one ring
 * each, published under queue-N/ as Linux does for one queue per vCPU.
 *
 * <p>The handshake runs on the frontend's own thread, woken by a watch on the
 * backend's state and level-triggered (it re-reads the states on every wake).
 * I/O goes through {@link #withIo}, one user of each ring at a time.
 */
public final class Blkfront implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(Blkfront.class);
    /** Safety net: re-read the states this often even without a watch event. */
    private static final long POLL_MS = 1_000;
    /** How long a closing frontend waits for running I/O, and for the backend to acknowledge a close. */
    private static final long DRAIN_MS = 10_000;
    private static final long CLOSE_ACK_MS = 5_000;
    /** How long a state change in the middle of I/O waits for each step of the backend. */
    private static final long CHANGE_STEP_MS = 30_000;

    /** What a user of the data path does while holding it. */
    @FunctionalInterface
    public interface IoTask<T> {
        T run(BlkfrontIo io, DiskProperties disk) throws Exception;
    }

    private final XenStore xs;
    private final SimDomain domain;
    private final String fePath;
    private final int devid;
    private final Abi abi;
    private final int maxIndirectSegments;
    private final int maxRingPageOrder;
    private final int maxQueues;
    private final String name;
    /** One per possible ring: who is using it. */
    private final ReentrantLock[] ioLocks;
    private final Object signal = new Object();
    private long events;

    private volatile XenbusState state = XenbusState.INITIALISING;
    private volatile String backendPath;
    private volatile int backendId;
    private volatile DiskProperties disk;
    /** The rings (queues) while set up, else empty. */
    private volatile List<BlkfrontIo> rings = List.of();
    private volatile String error;
    private volatile boolean closing;
    private volatile boolean stopRequested;
    private volatile boolean gone;
    private volatile boolean finished;
    private boolean flushCache;
    private boolean barrier;
    private boolean discard;
    private XenStore.Watch beWatch;
    private Thread thread;
    /** A state change asked for by the I/O holder, for the handshake thread; guarded by signal. */
    private FrontendStateChange changeAsked;
    /** State changes whose old ring is gone (the new one follows); guarded by signal. */
    private long changesDone;
    private String changeFailure;

    /**
     * @param xs     the guest's own xenstore connection
     * @param devid  the device id (the last component of the frontend directory)
     */
    public Blkfront(XenStore xs, SimDomain domain, int devid, Abi abi) {
        this(xs, domain, devid, abi, GuestProgram.DEFAULT_MAX_INDIRECT_SEGMENTS);
    }

    /**
     * @param maxIndirectSegments the most segments per INDIRECT request this frontend uses
     *                            (if the backend offers them); 0 for direct requests only
     */
    public Blkfront(XenStore xs, SimDomain domain, int devid, Abi abi, int maxIndirectSegments) {
        this(xs, domain, devid, abi, maxIndirectSegments, 1);
    }

    /**
     * @param maxQueues the most rings this frontend sets up (Linux: one per vCPU, at most 4 by
     *                  default), if the backend offers several
     */
    public Blkfront(XenStore xs, SimDomain domain, int devid, Abi abi, int maxIndirectSegments, int maxQueues) {
        this(xs, domain, devid, abi, maxIndirectSegments, maxQueues, 0);
    }

    /**
     * @param maxRingPageOrder the largest ring this frontend sets up, 2^order pages, if the backend
     *                         offers it (Linux: xen_blkfront.max_ring_page_order, 0 by default)
     */
    public Blkfront(XenStore xs, SimDomain domain, int devid, Abi abi, int maxIndirectSegments, int maxQueues,
                    int maxRingPageOrder) {
        if (maxRingPageOrder < 0 || maxRingPageOrder > BlkfrontIo.MAX_RING_PAGE_ORDER) {
            throw new IllegalArgumentException("ring page order: 0.." + BlkfrontIo.MAX_RING_PAGE_ORDER + ", not "
                    + maxRingPageOrder);
        }
        this.maxRingPageOrder = maxRingPageOrder;
        if (maxQueues < 1) {
            throw new IllegalArgumentException("queues: at least 1, not " + maxQueues);
        }
        this.maxQueues = maxQueues;
        this.ioLocks = new ReentrantLock[maxQueues];
        for (int i = 0; i < maxQueues; i++) {
            ioLocks[i] = new ReentrantLock();
        }
        this.maxIndirectSegments = maxIndirectSegments;
        this.xs = xs;
        this.domain = domain;
        this.fePath = VbdPaths.frontend(domain.domid(), devid);
        this.devid = devid;
        this.abi = abi;
        this.name = "blkfront " + domain.domid() + "/" + devid;
    }

    /** Starts the handshake thread. */
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    public int devid() {
        return devid;
    }

    /** The request layout this frontend publishes as its protocol. */
    public Abi abi() {
        return abi;
    }

    public String frontendPath() {
        return fePath;
    }

    /** The backend directory, once read. */
    public String backendPath() {
        return backendPath;
    }

    /** The state this frontend last wrote. */
    public XenbusState state() {
        return state;
    }

    /** The disk as the backend described it at Connected, or null before. */
    public DiskProperties disk() {
        return disk;
    }

    /** The fatal error that stopped the handshake, or why the ring was disabled; null when none. */
    public String error() {
        if (error != null) {
            return error;
        }
        for (BlkfrontIo r : rings) {
            if (r.broken() != null) {
                return r.broken();
            }
        }
        return null;
    }

    /** How many rings are set up (0 before the handshake). */
    public int queues() {
        return rings.size();
    }

    /** True once the frontend has reached its end (Closed, or its directory vanished). */
    public boolean isFinished() {
        return finished;
    }

    /** True while closing: running workloads stop issuing and drain. */
    public boolean isClosing() {
        return closing || stopRequested;
    }

    /** Waits until Connected (true) or the end of the frontend (false). */
    public boolean awaitConnected(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (signal) {
            while (state != XenbusState.CONNECTED && !finished) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(signal, left);
            }
            return state == XenbusState.CONNECTED;
        }
    }

    /** Waits until the frontend has finished (Closed or removed). */
    public boolean awaitFinished(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (signal) {
            while (!finished) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(signal, left);
            }
            return true;
        }
    }

    /**
     * Runs {@code task} with exclusive use of a ring: the first free one,
     * else the first one once free, waiting up to {@code waitMs} for another
     * user to finish.
     * @throws BlkfrontException when the disk is not connected, closing, disabled or busy
     */
    public <T> T withIo(long waitMs, IoTask<T> task) throws Exception {
        return withIo(waitMs, -1, task);
    }

    /**
     * Like {@link #withIo(long, IoTask)} on ring {@code queue} (0..queues()-1), or any ring for -1.
     * @throws BlkfrontException also when there is no such ring
     */
    public <T> T withIo(long waitMs, int queue, IoTask<T> task) throws Exception {
        // a disk just hot-plugged may still be finishing its handshake
        awaitConnected(waitMs, TimeUnit.MILLISECONDS);
        List<BlkfrontIo> now = rings;
        if (queue >= now.size() || queue < -1) {
            throw new BlkfrontException(name + ": no queue " + queue + " (the disk has " + now.size()
                    + (now.size() == 1 ? " ring: queue 0" : " rings: queues 0.." + (now.size() - 1)) + ")");
        }
        int q = queue;
        if (q < 0) {
            for (int i = 0; i < now.size() && q < 0; i++) {
                if (ioLocks[i].tryLock()) {
                    ioLocks[i].unlock();
                    q = i;
                }
            }
            q = Math.max(q, 0);
        }
        ReentrantLock ioLock = ioLocks[q];
        if (!ioLock.tryLock(waitMs, TimeUnit.MILLISECONDS)) {
            throw new BlkfrontException(name + ": busy with another workload for " + waitMs
                    + " ms (wait for it to finish" + (now.size() > 1 ? ", or use another queue" : "") + ")");
        }
        try {
            List<BlkfrontIo> current = rings;
            BlkfrontIo i = q < current.size() ? current.get(q) : null;
            DiskProperties d = disk;
            if (state != XenbusState.CONNECTED || i == null || d == null || isClosing()) {
                throw new BlkfrontException(name + ": not connected (frontend state " + state
                        + (error() != null ? ", " + error() : "") + ")");
            }
            if (i.broken() != null) {
                throw new BlkfrontException(name + ": " + i.broken());
            }
            return task.run(i, d);
        } finally {
            ioLock.unlock();
        }
    }

    /**
     * Changes the frontend's state under running I/O (the fuzzer's hostile
     * frontend), from the caller that holds the disk's only ring: the old
     * ring's requests in flight are abandoned, its grants kept until the
     * backend let go of the ring (Closed, or InitWait after a reset) and then
     * ended, and the handshake runs again.
     * @return the fresh ring, once Connected again
     * @throws BlkfrontException when the disk has several rings, or the backend did not follow in time
     */
    BlkfrontIo changeState(FrontendStateChange how) throws InterruptedException {
        if (rings.size() != 1) {
            throw new BlkfrontException(name + ": a state change under I/O needs the disk's only ring; it has "
                    + rings.size());
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(4 * CHANGE_STEP_MS);
        synchronized (signal) {
            long target = changesDone + 1;
            changeAsked = how;
            changeFailure = null;
            events++;
            signal.notifyAll();
            while (changeFailure == null && !finished && (changesDone < target || state != XenbusState.CONNECTED)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new BlkfrontException(name + ": not Connected again " + 4 * CHANGE_STEP_MS / 1000
                            + " s after " + how.label + " (frontend " + state + ")");
                }
                TimeUnit.NANOSECONDS.timedWait(signal, left);
            }
            if (changeFailure != null) {
                throw new BlkfrontException(changeFailure);
            }
            if (finished) {
                throw new BlkfrontException(name + ": the frontend ended during " + how.label
                        + (error() != null ? ": " + error() : ""));
            }
        }
        return rings.get(0);
    }

    /**
     * Writes {@code value} to the frontend's state node as it is (a hostile
     * frontend's garbage, or the state back after it); what this frontend
     * believes its state is does not change.
     */
    void writeStateNode(String value) {
        xs.transaction(t -> {
            if (!t.exists(fe(BlkifNodes.BACKEND))) {
                return false;
            }
            t.write(fe(BlkifNodes.STATE), value);
            return true;
        });
    }

    /** The backend's state as its node says now, or null when missing or not a state. */
    XenbusState backendState() {
        return xs.tryRead(be(BlkifNodes.STATE)).map(XenbusState::parse).orElse(null);
    }

    /** The toolstack removed the frontend directory: stop without writing to it. */
    public void frontendGone() {
        gone = true;
        stopRequested = true;
        kick();
    }

    /** Starts closing (see {@link #shutdown}) without waiting: to close several disks at once. */
    public void requestStop() {
        stopRequested = true;
        kick();
    }

    /**
     * Closes the device as a shutting-down guest does: stops new I/O, drains,
     * goes Closing, waits for the backend to follow, goes Closed and revokes
     * the grants; waits up to {@code timeoutMs} for all that.
     */
    public void shutdown(long timeoutMs) throws InterruptedException {
        requestStop();
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null && t != Thread.currentThread()) {
            t.join(timeoutMs);
        }
    }

    @Override
    public void close() {
        try {
            shutdown(DRAIN_MS + CLOSE_ACK_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void kick() {
        synchronized (signal) {
            events++;
            signal.notifyAll();
        }
    }

    private void run() {
        try {
            backendPath = xs.read(fe(BlkifNodes.BACKEND));
            backendId = Integer.parseInt(xs.read(fe(BlkifNodes.BACKEND_ID)).trim());
            beWatch = xs.watch(be(BlkifNodes.STATE), "blkfront:" + domain.domid() + ":" + devid + ":"
                    + System.identityHashCode(this), (p, t) -> kick());
            long seen = -1;
            while (!finished) {
                synchronized (signal) {
                    if (events == seen) {
                        signal.wait(POLL_MS);
                    }
                    seen = events;
                }
                if (stopRequested) {
                    stop();
                } else {
                    FrontendStateChange c = takeChange();
                    if (c != null) {
                        changeMidIo(c);
                    }
                    step();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            error = "frontend failed: " + e.getMessage();
            LOG.error("{}: {}", name, error, e);
            releaseRing();
        } finally {
            if (beWatch != null) {
                beWatch.close();
            }
            finish();
        }
    }

    private void step() throws InterruptedException {
        Optional<String> raw = xs.tryRead(be(BlkifNodes.STATE));
        XenbusState be = raw.map(XenbusState::parse).orElse(null);
        if (be == null) {
            return; // backend not there yet, or writing garbage: wait
        }
        switch (state) {
            case INITIALISING -> {
                if (be == XenbusState.INIT_WAIT || be == XenbusState.CONNECTED) {
                    talkToBackend();
                    if (be == XenbusState.CONNECTED && state == XenbusState.INITIALISED) {
                        connect();
                    }
                } else if (be == XenbusState.CLOSING) {
                    closeFromBackend();
                }
            }
            case INITIALISED -> {
                if (be == XenbusState.CONNECTED) {
                    connect();
                } else if (be == XenbusState.CLOSING || be == XenbusState.CLOSED) {
                    closeFromBackend();
                }
            }
            case CONNECTED -> {
                if (be == XenbusState.CLOSING || be == XenbusState.CLOSED) {
                    closeFromBackend();
                } else if (be == XenbusState.CONNECTED) {
                    rereadSize();
                }
            }
            case CLOSING -> {
                if (be == XenbusState.CLOSING || be == XenbusState.CLOSED) {
                    setState(XenbusState.CLOSED);
                    releaseRing();
                    finish();
                }
            }
            default -> { }
        }
    }

    /**
     * talk_to_blkback: rings, grants and event channels, published in one
     * transaction (flat for one ring, under queue-N/ for several), then Initialised.
     */
    private void talkToBackend() {
        flushCache = flag(BlkifNodes.FEATURE_FLUSH_CACHE);
        barrier = flag(BlkifNodes.FEATURE_BARRIER);
        // as blkfront: the smaller of our maximum and the backend's offer (absent: one page)
        Long offeredOrder = numberQuietly(BlkifNodes.MAX_RING_PAGE_ORDER);
        int order = (int) Math.max(0, Math.min(maxRingPageOrder, offeredOrder == null ? 0 : offeredOrder));
        Long offeredQueues = numberQuietly(BlkifNodes.MULTI_QUEUE_MAX_QUEUES);
        int queues = (int) Math.max(1, Math.min(maxQueues, offeredQueues == null ? 1 : offeredQueues));
        int segments = segmentsPerRequest();
        List<BlkfrontIo> made = new ArrayList<>();
        try {
            for (int q = 0; q < queues; q++) {
                BlkfrontIo io = new BlkfrontIo(queues == 1 ? name : name + " q" + q, domain, backendId, abi, devid,
                        segments, order);
                io.backendOffers(offeredSegments());
                made.add(io);
            }
        } catch (RuntimeException e) {
            rings = made;
            fatal("cannot set up the ring: " + e.getMessage());
            return;
        }
        rings = List.copyOf(made);
        boolean published = xs.transaction(t -> {
            // the toolstack may have removed the device meanwhile: never recreate its directory
            if (!t.exists(fe(BlkifNodes.BACKEND))) {
                return false;
            }
            if (queues > 1) {
                t.write(fe(BlkifNodes.MULTI_QUEUE_NUM_QUEUES), Integer.toString(queues));
            }
            if (order > 0) {
                // one order for every queue, at the top (blkif.h)
                t.write(fe(BlkifNodes.RING_PAGE_ORDER), Integer.toString(order));
            }
            for (int q = 0; q < queues; q++) {
                String dir = BlkifNodes.queueDir(fePath, queues, q);
                if (order == 0) {
                    t.write(BlkifNodes.path(dir, BlkifNodes.RING_REF), Integer.toString(made.get(q).ringRef()));
                } else {
                    int[] refs = made.get(q).ringRefs();
                    for (int i = 0; i < refs.length; i++) {
                        t.write(BlkifNodes.path(dir, BlkifNodes.ringRef(i)), Integer.toString(refs[i]));
                    }
                }
                t.write(BlkifNodes.path(dir, BlkifNodes.EVENT_CHANNEL), Integer.toString(made.get(q).eventChannel()));
            }
            t.write(fe(BlkifNodes.PROTOCOL), abi.protocol());
            // every page stays granted for the life of the ring, so the backend may keep them mapped
            t.write(fe(BlkifNodes.FEATURE_PERSISTENT), BlkifNodes.ON);
            return true;
        });
        if (!published) {
            LOG.info("{}: device removed before the ring was published", name);
            return;
        }
        setState(XenbusState.INITIALISED);
        LOG.info("{}: {}, {}, {} segments per request, rings of {} page(s)", name, queues == 1
                ? "ring-ref " + made.get(0).ringRef() + ", event-channel " + made.get(0).eventChannel()
                : queues + " queues", abi.protocol(), segments, 1 << order);
    }

    /** blkfront_connect: the disk's properties are mandatory. */
    private void connect() {
        Long sectors = number(BlkifNodes.SECTORS);
        Long info = number(BlkifNodes.INFO);
        Long sectorSize = number(BlkifNodes.SECTOR_SIZE);
        if (sectors == null || info == null || sectorSize == null) {
            return; // fatal already reported
        }
        // blkfront_gather_backend_features: the discard offer is read when the backend is Connected
        discard = flag(BlkifNodes.FEATURE_DISCARD);
        disk = new DiskProperties(sectors, sectorSize.intValue(), info.intValue(), flushCache, barrier, discard);
        setState(XenbusState.CONNECTED);
        LOG.info("{}: connected, {} sectors of 512 bytes, sector-size {}{}", name, sectors, sectorSize,
                disk.readOnly() ? ", read-only" : "");
    }

    private void rereadSize() {
        Long sectors = numberQuietly(BlkifNodes.SECTORS);
        DiskProperties d = disk;
        if (d != null && sectors != null && sectors != d.sectors()) {
            LOG.info("{}: backend resized the disk from {} to {} sectors", name, d.sectors(), sectors);
            disk = new DiskProperties(sectors, d.sectorSize(), d.info(), d.flushCache(), d.barrier(), d.discard());
        }
    }

    /**
     * 11, or what INDIRECT requests may carry: the smaller of our maximum and
     * the backend's feature-max-indirect-segments (as blkfront_setup_indirect).
     */
    private int segmentsPerRequest() {
        int offered = offeredSegments();
        int direct = Blkif.MAX_SEGMENTS_PER_REQUEST;
        if (offered <= direct || maxIndirectSegments <= direct) {
            return direct;
        }
        return Math.min(offered, maxIndirectSegments);
    }

    /** The backend's feature-max-indirect-segments (at most the protocol's 4096), or 11 without it. */
    private int offeredSegments() {
        Long offered = numberQuietly(BlkifNodes.FEATURE_MAX_INDIRECT_SEGMENTS);
        int direct = Blkif.MAX_SEGMENTS_PER_REQUEST;
        return offered == null || offered <= direct ? direct : (int) Math.min(offered, 4096);
    }

    private boolean flag(String node) {
        return BlkifNodes.isOn(xs.tryRead(be(node)).orElse(null));
    }

    /** A mandatory decimal node of the backend; null after reporting it as fatal. */
    private Long number(String node) {
        Optional<String> v = xs.tryRead(be(node));
        if (v.isEmpty()) {
            fatal(be(node) + " is missing; the backend must write " + BlkifNodes.SECTORS + ", " + BlkifNodes.INFO
                    + " and " + BlkifNodes.SECTOR_SIZE + " before it goes Connected");
            return null;
        }
        try {
            long n = Long.parseLong(v.get().trim());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            fatal(be(node) + " is '" + v.get() + "', not a non-negative number");
            return null;
        }
    }

    private Long numberQuietly(String node) {
        try {
            return Long.parseLong(xs.tryRead(be(node)).orElse("").trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** xenbus_dev_fatal: report under error/, go Closing; Closed follows when the backend closes too. */
    private void fatal(String why) {
        error = why;
        LOG.error("{}: {}", name, why);
        try {
            xs.write(VbdPaths.frontendError(VbdPaths.domain(domain.domid()), devid), why);
        } catch (XenStoreException e) {
            LOG.warn("{}: cannot write the error node: {}", name, e.getMessage());
        }
        setState(XenbusState.CLOSING);
    }

    /** The backend is closing: drain our I/O, go Closed, revoke the grants. */
    private void closeFromBackend() throws InterruptedException {
        drain();
        setState(XenbusState.CLOSED);
        releaseRing();
        finish();
    }

    /** Guest shutdown or device removal. */
    private void stop() throws InterruptedException {
        drain();
        if (!gone && state != XenbusState.CLOSED) {
            setState(XenbusState.CLOSING);
            awaitBackendClosing();
            setState(XenbusState.CLOSED);
        }
        releaseRing();
        finish();
    }

    private FrontendStateChange takeChange() {
        synchronized (signal) {
            FrontendStateChange c = changeAsked;
            changeAsked = null;
            return c;
        }
    }

    /**
     * Runs a state change up to the old ring's release, then leaves the
     * frontend Initialising for {@link #step} to set up a fresh ring.
     */
    private void changeMidIo(FrontendStateChange how) throws InterruptedException {
        String failure = null;
        if (state != XenbusState.CONNECTED) {
            failure = name + ": " + how.label + " asked while " + state;
        } else if (how == FrontendStateChange.CLOSE_AND_RECONNECT) {
            setState(XenbusState.CLOSING);
            if (!awaitBackend(XenbusState.CLOSING, XenbusState.CLOSED)) {
                failure = name + ": the backend did not follow the frontend's Closing";
            } else {
                setState(XenbusState.CLOSED);
                // Linux keeps the grants of requests in flight until the backend is Closed: it unmapped them by then
                if (!awaitBackend(XenbusState.CLOSED, XenbusState.CLOSED)) {
                    failure = name + ": the backend did not follow the frontend's Closed";
                }
            }
        } else {
            setState(how == FrontendStateChange.INITIALISING_AGAIN ? XenbusState.INITIALISING : XenbusState.INIT_WAIT);
            // the backend drops the ring before it offers the device again
            if (!awaitBackend(XenbusState.INIT_WAIT, XenbusState.INIT_WAIT)) {
                failure = name + ": the backend did not offer the device again (InitWait) after " + how.label;
            }
        }
        if (failure == null) {
            releaseRing();
            rings = List.of();
            setState(XenbusState.INITIALISING);
        }
        synchronized (signal) {
            changesDone++;
            changeFailure = failure;
            signal.notifyAll();
        }
    }

    /** Waits until the backend's state is {@code a} or {@code b}; false on timeout or a stop. */
    private boolean awaitBackend(XenbusState a, XenbusState b) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CHANGE_STEP_MS);
        long seen = -1;
        while (System.nanoTime() < deadline && !stopRequested) {
            XenbusState be = backendState();
            if (be == a || be == b) {
                return true;
            }
            synchronized (signal) {
                if (events == seen) {
                    signal.wait(50);
                }
                seen = events;
            }
        }
        return false;
    }

    private void awaitBackendClosing() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_ACK_MS);
        long seen = -1;
        while (System.nanoTime() < deadline) {
            XenbusState be = xs.tryRead(be(BlkifNodes.STATE)).map(XenbusState::parse).orElse(null);
            if (be == null || be == XenbusState.CLOSING || be == XenbusState.CLOSED) {
                return;
            }
            synchronized (signal) {
                if (events == seen) {
                    signal.wait(50);
                }
                seen = events;
            }
        }
        LOG.warn("{}: backend did not acknowledge Closing within {} ms; closing anyway", name, CLOSE_ACK_MS);
    }

    /** Stops new I/O and waits for the running workload, which drains its requests, to let go of the ring. */
    private void drain() throws InterruptedException {
        closing = true;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DRAIN_MS);
        for (ReentrantLock ioLock : ioLocks) {
            if (ioLock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                ioLock.unlock();
            } else {
                LOG.warn("{}: I/O still running after {} ms; closing anyway", name, DRAIN_MS);
                return;
            }
        }
    }

    private void releaseRing() {
        List<BlkfrontIo> all = rings;
        if (all.isEmpty()) {
            return;
        }
        int left = 0;
        for (BlkfrontIo ring : all) {
            left += ring.closeAndRevoke();
        }
        // the backend unmaps right after it leaves Connected; give it a moment
        for (int i = 0; i < 20 && left > 0; i++) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            left = 0;
            for (BlkfrontIo ring : all) {
                left += ring.revokeRemaining();
            }
        }
        if (left > 0) {
            LOG.warn("{}: {} grants are still in use by the backend and stay granted", name, left);
        }
    }

    private void setState(XenbusState s) {
        if (!gone) {
            try {
                boolean written = xs.transaction(t -> {
                    // never recreate a directory the toolstack removed
                    if (!t.exists(fe(BlkifNodes.BACKEND))) {
                        return false;
                    }
                    t.write(fe(BlkifNodes.STATE), s.wire());
                    return true;
                });
                if (!written) {
                    gone = true;
                }
            } catch (XenStoreException e) {
                LOG.warn("{}: cannot write state {}: {}", name, s, e.getMessage());
            }
        }
        synchronized (signal) {
            state = s;
            signal.notifyAll();
        }
    }

    private void finish() {
        synchronized (signal) {
            finished = true;
            signal.notifyAll();
        }
    }

    private String fe(String node) {
        return BlkifNodes.path(fePath, node);
    }

    private String be(String node) {
        return BlkifNodes.path(backendPath, node);
    }

    @Override
    public String toString() {
        return name + " [" + state + "]";
    }
}
