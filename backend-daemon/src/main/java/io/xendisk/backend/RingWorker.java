package io.xendisk.backend;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.BackRing;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.Rejection;
import io.xendisk.blkif.Request;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.Capabilities;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.xen.EventChannel;
import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantTable;
import io.xendisk.xen.XenPage;

/**
 * Serves one blkif ring on its own thread. The path of every request, top to
 * bottom in this file:
 *
 * <ol>
 *   <li><b>take</b> ({@link #take}): as many published requests as there are
 *       free response slots; each slot copied once and parsed into a pooled
 *       {@link RingRequest} (INDIRECT requests: their descriptor pages copied
 *       once, for the whole batch, then parsed); a FLUSH or BARRIER ends the batch;</li>
 *   <li><b>place</b>: the first {@link Placement} that takes it says where its
 *       data lives (the guest's kept pages, the image's memory, a bounce
 *       buffer), and a write's data is fetched from the guest by one grant
 *       copy for the batch;</li>
 *   <li><b>submit</b> ({@link #submit}) to the engine, which executes it now or
 *       completes it later from its own thread ({@link Completions}); up to a
 *       ring of requests are in flight. A FLUSH or BARRIER waits until
 *       everything taken before it has completed, and nothing new is taken
 *       while a BARRIER is in flight;</li>
 *   <li><b>respond</b> ({@link #respond}): for every completed request, a
 *       read's data goes to the guest (one grant copy for them all), then
 *       {@link #finish} writes its response; one push and at most one
 *       notification for them all, in completion order.</li>
 * </ol>
 * Then the ring is re-armed (req_event) before sleeping on the event
 * channel, which the guest's kick or an engine's completion wakes.
 *
 * <p>Everything the path touches is allocated here, sized by the ring.
 */
public final class RingWorker implements Runnable {
    private static final Logger LOG = LogManager.getLogger(RingWorker.class);
    /**
     * The JVM option that says how long a ring polls after a batch before it blocks on its event
     * channel, in microseconds (0 to 1000, 50 by default): latency at low queue depth against CPU.
     */
    public static final String SPIN_PROPERTY = "xen-disk-java.ring-spin-micros";
    /** How long to poll the ring after a batch before blocking on the event channel. */
    private static final long SPIN_NANOS = spinNanos(System.getProperty(SPIN_PROPERTY));
    /** Upper bound of one blocking wait, so stop() is noticed even without a kick. */
    private static final long WAIT_NANOS = 200_000_000L;
    /** How long a stopping ring waits for the requests still in its engine. */
    private static final long DRAIN_NANOS = 4_000_000_000L;
    /**
     * Events in a row after which the ring had nothing new, taken as they come:
     * one is routine (a kick for requests the spin already took), and Linux's
     * lateeoi lets two pass before it delays.
     */
    private static final int FREE_SPURIOUS = 2;
    /** The back-off after one spurious event too many, doubled with each further one, up to the cap. */
    private static final long FIRST_BACKOFF_NANOS = 1_000_000L;
    /** A storming frontend's ring then looks at most 20 times a second. */
    private static final long MAX_BACKOFF_NANOS = 50_000_000L;
    /** The pause after a batch with invalid requests, as blkback's after a failed request. */
    private static final long INVALID_BACKOFF_NANOS = 1_000_000L;

    private final String name;
    private final BackRing ring;
    private final EventChannel evtchn;
    private final GrantTable grants;
    private final IoEngine engine;
    /** Replaced (never shrunk) when the disk grows; read once per request. */
    private volatile Request.Limits limits;
    private final VbdStats stats;
    private final Consumer<String> onRingFailure;
    private final byte[] slot;
    private final RingRequest[] pool;
    private final int[] free;
    private int freeCount;
    private final Placement[] placements;
    private final GuestCopies copies;
    private final PersistentGrants persistent;
    private final Completions completions;
    private final GrantCopyBatch copyIndirect;
    private final GrantCopyBatch copyIn;
    private final GrantCopyBatch copyOut;
    /** The requests of the batch being taken. */
    private final RingRequest[] taken;
    /** Completed requests waiting for their response. */
    private final RingRequest[] done;
    private int doneCount;
    /** Requests the engine accepted and has not completed. */
    private int inFlight;
    /**
     * Requests taken and not yet submitted, in ring order: a FLUSH or BARRIER
     * at the head waits for the requests in flight before it, a read or write
     * for the disk's limits. Nothing new is taken while any waits.
     */
    private final RingRequest[] waiting;
    private int waitingHead;
    private int waitingCount;
    /** The disk's I/O limits, shared by its rings. */
    private final Throttle throttle;
    /** When the limits let the head of {@link #waiting} go (System.nanoTime); meaningful while it waits for them. */
    private long throttledUntil;
    private boolean throttled;
    /** A BARRIER in flight: nothing new is taken until it completes; null when none. */
    private RingRequest barrier;
    private final RateLimitedLog rejections;
    /** Where the responses of a batch are kept until pushed, for a daemon that resumes this ring; null for none. */
    private final ResponseJournal journal;
    /** The last wait ended with an event, and nothing was taken since. */
    private boolean kicked;
    /** Events in a row that brought nothing. */
    private int spurious;
    /** The batch just taken had requests the frontend got wrong: pause before the next. */
    private boolean penalised;
    /** Whether an operation went to the engine since its last {@link IoEngine#unplug()}. */
    private boolean plugged;
    /** What this ring last added to the VBD's persistent-grants counter. */
    private int persistentReported;
    private volatile boolean running = true;

    /**
     * @param engine           the VBD's disk, shared by its rings
     * @param persistentGrants the frontend negotiated feature-persistent: keep its pages mapped
     */
    public RingWorker(String name, BackRing ring, EventChannel evtchn, GrantTable grants, int domid,
                      IoEngine engine, Request.Limits limits, boolean persistentGrants, VbdStats stats,
                      Consumer<String> onRingFailure) {
        this(name, ring, evtchn, grants, domid, engine, limits, persistentGrants, stats, onRingFailure, null,
                new Throttle(IoLimits.NONE, System.nanoTime()));
    }

    /**
     * @param journal  where a batch's responses are kept until pushed, so that a daemon resuming
     *                 this ring after a kill -9 publishes what this one could not; null for none
     * @param throttle the disk's I/O limits, shared by its rings
     */
    /** The disk grew: requests taken from now on are checked against {@code grown}. */
    void limits(Request.Limits grown) {
        limits = grown;
    }

    public RingWorker(String name, BackRing ring, EventChannel evtchn, GrantTable grants, int domid,
                      IoEngine engine, Request.Limits limits, boolean persistentGrants, VbdStats stats,
                      Consumer<String> onRingFailure, ResponseJournal journal, Throttle throttle) {
        this.name = name;
        this.throttle = throttle;
        this.journal = journal;
        this.ring = ring;
        this.evtchn = evtchn;
        this.grants = grants;
        this.engine = engine;
        this.limits = limits;
        this.stats = stats;
        this.onRingFailure = onRingFailure;
        int n = ring.size();
        stats.ringSize(n);
        int maxSegments = limits.maxSegments();
        this.slot = new byte[ring.abi().stride];
        this.completions = new Completions(evtchn);
        int indirectPageCount = Blkif.indirectPages(limits.maxIndirectSegments());
        ByteBuffer indirectSlab = indirectPageCount == 0 ? null
                : ByteBuffer.allocateDirect(n * indirectPageCount * XenPage.SIZE);
        this.pool = new RingRequest[n];
        this.free = new int[n];
        for (int i = 0; i < n; i++) {
            ByteBuffer pages = indirectSlab == null ? null
                    : indirectSlab.slice(i * indirectPageCount * XenPage.SIZE, indirectPageCount * XenPage.SIZE);
            pool[i] = new RingRequest(i, maxSegments, pages, completions);
            free[i] = n - 1 - i;
        }
        this.freeCount = n;
        this.taken = new RingRequest[n];
        this.waiting = new RingRequest[n];
        this.done = new RingRequest[n];
        this.copyIn = new GrantCopyBatch(n * maxSegments);
        this.copyOut = new GrantCopyBatch(n * maxSegments);
        this.copyIndirect = new GrantCopyBatch(Math.max(1, n * indirectPageCount));
        this.persistent = persistentGrants
                ? new PersistentGrants(grants, domid, PersistentGrants.capacityFor(n, maxSegments)) : null;
        this.rejections = new RateLimitedLog(LOG, 10, 1_000_000_000L);
        this.copies = new GuestCopies(name, grants, domid, persistent, rejections);
        this.placements = placements(engine.capabilities(), persistentGrants, n, maxSegments);
    }

    /**
     * The strategies this ring tries, cheapest first: the image's memory (for
     * reads only where the engine writes through calls: a copy out of the page
     * cache costs less than a system call), the guest's kept pages straight to
     * an engine that takes pieces, a bounce buffer.
     */
    private Placement[] placements(Capabilities caps, boolean persistentGrants, int n, int maxSegments) {
        Placement bounce = new BouncePlacement(copies, n, maxSegments);
        if (caps.zeroCopy()) {
            return new Placement[] {new ImagePlacement(engine, copies, true), bounce};
        }
        Placement pages = caps.vectored() && persistentGrants ? new GuestPagesPlacement(copies) : null;
        Placement image = caps.zeroCopyReads() ? new ImagePlacement(engine, copies, false) : null;
        return Stream.of(image, pages, bounce).filter(Objects::nonNull).toArray(Placement[]::new);
    }

    /** The spin of {@link #SPIN_PROPERTY}'s value {@code v} (null: the default); a bad value is logged and ignored. */
    static long spinNanos(String v) {
        long dflt = 50_000;
        if (v == null) {
            return dflt;
        }
        try {
            long micros = Long.parseLong(v.trim());
            if (micros >= 0 && micros <= 1000) {
                return micros * 1000;
            }
        } catch (NumberFormatException e) {
            // named below
        }
        LOG.warn("JVM option {}='{}' is not a number of microseconds from 0 to 1000; rings poll for 50 us", SPIN_PROPERTY, v);
        return dflt;
    }

    /** Asks the loop to finish what it has taken and return. */
    public void stop() {
        running = false;
        // an idle ring sleeps on its port for up to WAIT_NANOS: a frontend closing or resetting waits for that
        evtchn.wakeup();
    }

    @Override
    public void run() {
        try {
            replayJournal();
            loop();
            drain();
            if (journal != null) {
                journal.delete(); // everything answered is published
            }
        } catch (RuntimeException | Error e) {
            LOG.error("{}: ring thread failed; this VBD stops serving, the others are not affected", name, e);
            onRingFailure.accept("ring thread failed: " + e);
        } finally {
            // requests the ring is left with get no response from this thread: none is in flight for us now
            stats.inFlight(-(pool.length - freeCount));
            releasePersistentGrants();
        }
    }

    /** A predecessor killed between writing responses and pushing them: publish them now. */
    private void replayJournal() {
        int n = journal == null ? 0 : journal.replay(ring);
        if (n > 0) {
            LOG.info("{}: published {} responses the previous daemon wrote but did not live to push (from {})",
                    name, n, journal);
            ring.pushResponses();
            evtchn.notifyRemote();
        }
    }

    private void loop() {
        while (running) {
            boolean busy = collectCompletions();
            if (waitingCount > 0) {
                int before = waitingCount;
                admit();
                busy |= waitingCount < before;
            }
            if (waitingCount == 0 && barrier == null) {
                int n = ring.unconsumed();
                if (n == BackRing.OVERFLOW) {
                    onRingFailure.accept("frontend's req_prod " + Integer.toUnsignedString(ring.reqProd())
                            + " is more than a ring (" + ring.size() + ") ahead of rsp_prod "
                            + Integer.toUnsignedString(ring.rspProdPvt()) + "; ring stopped");
                    return;
                }
                if (n > 0) {
                    kicked = false;
                    spurious = 0;
                    if (persistent != null && inFlight == 0 && doneCount == 0) {
                        persistent.tidy(); // no request holds a kept page now
                    }
                    take(n);
                    busy = true;
                }
            }
            unplug();
            if (doneCount > 0) {
                respond();
            }
            if (penalised) {
                penalised = false;
                backOff(INVALID_BACKOFF_NANOS);
            }
            if (!busy) {
                idle();
            }
        }
    }

    /**
     * Takes up to {@code available} requests (a FLUSH or BARRIER closes the
     * batch), places them, fetches the data of the writes, and submits them
     * in ring order.
     */
    private void take(int available) {
        int n = 0;
        copyIndirect.clear();
        while (n < available) {
            RingRequest r = pool[free[--freeCount]];
            taken[n++] = r;
            ring.takeRequest(slot);
            Request.Kind k = r.wire.parse(slot, ring.abi(), limits);
            r.copyFrom = -1;
            if (k == Request.Kind.FLUSH || k == Request.Kind.BARRIER) {
                break;
            }
        }
        stats.batch(n);
        stats.inFlight(n);
        long now = System.nanoTime();
        for (int i = 0; i < n; i++) {
            taken[i].takenAt = now;
        }
        copies.keepIndirectPages(taken, n);
        for (int i = 0; i < n; i++) {
            if (taken[i].wire.awaitingSegments()) {
                stats.indirect();
                copies.fetchIndirectPages(taken[i], copyIndirect);
            }
        }
        loadIndirectSegments(n);
        copies.keepSegmentPages(taken, n);
        copyIn.clear();
        for (int i = 0; i < n; i++) {
            RingRequest r = taken[i];
            r.begin();
            if (r.wire.kind() == Request.Kind.REJECTED || r.wire.nrSegments() == 0) {
                continue;
            }
            for (Placement p : placements) {
                if (p.place(r)) {
                    r.placement = p;
                    break;
                }
            }
            if (r.wire.kind() != Request.Kind.READ) {
                r.placement.fetch(r, copyIn);
            }
        }
        copies.run(copyIn, taken, n);
        for (int i = 0; i < n; i++) {
            RingRequest r = taken[i];
            taken[i] = null;
            if (r.wire.kind() == Request.Kind.REJECTED) {
                penalised = true; // the frontend's fault (a storage error comes later, from the engine)
            }
            waiting[(waitingHead + waitingCount++) % waiting.length] = r;
        }
        admit();
    }

    /**
     * Submits the waiting requests in ring order, as far as the fences and the
     * disk's limits let it: a FLUSH or BARRIER goes once everything before it
     * has completed, a read or write once the limits take it.
     */
    private void admit() {
        throttled = false;
        while (waitingCount > 0) {
            RingRequest r = waiting[waitingHead];
            Request.Kind k = r.wire.kind();
            if (k == Request.Kind.FLUSH || k == Request.Kind.BARRIER) {
                if (inFlight > 0) {
                    return;
                }
            } else if ((k == Request.Kind.READ || k == Request.Kind.WRITE) && throttle.active()) {
                long now = System.nanoTime();
                long wait = throttle.admit(k == Request.Kind.WRITE, r.bytes(), now);
                if (wait > 0) {
                    throttled = true;
                    throttledUntil = now + wait;
                    return;
                }
            }
            waiting[waitingHead] = null;
            waitingHead = (waitingHead + 1) % waiting.length;
            waitingCount--;
            submit(r);
        }
    }

    /** Parses the descriptors of the batch's INDIRECT requests from the private copies of their pages. */
    private void loadIndirectSegments(int n) {
        copies.run(copyIndirect, taken, n);
        for (int i = 0; i < n; i++) {
            Request w = taken[i].wire;
            if (w.awaitingSegments()) {
                w.loadIndirectSegments(taken[i].indirectPages, 0, limits);
            }
        }
    }

    /** Hands a request to the engine, or straight to its response when it has already failed. */
    private void submit(RingRequest r) {
        if (r.wire.kind() == Request.Kind.REJECTED) {
            done(r);
            return;
        }
        IoEngine.Submission s;
        try {
            s = engine.submit(r);
        } catch (StorageException e) {
            ioDone(r, e);
            return;
        }
        if (s == IoEngine.Submission.EXECUTED) {
            ioDone(r, null);
        } else {
            plugged = true;
            inFlight++;
            if (r.wire.kind() == Request.Kind.BARRIER) {
                barrier = r;
            }
        }
    }

    /** Lets the engine send what this pass submitted, together. */
    private void unplug() {
        if (plugged) {
            plugged = false;
            engine.unplug();
        }
    }

    /** The engine finished one operation of {@code r}: the next one (a flush's data), or its response. */
    private void ioDone(RingRequest r, StorageException failure) {
        if (failure != null) {
            rejections.warn("{}: {}: {}", name, r, failure.getMessage());
            r.wire.fail(Rejection.IO_ERROR);
        } else if (r.writeAfterFlush()) {
            submit(r);
            return;
        }
        if (r == barrier) {
            barrier = null;
        }
        done(r);
    }

    private void done(RingRequest r) {
        done[doneCount++] = r;
    }

    /** Takes the requests engine threads completed; true when there were any. */
    private boolean collectCompletions() {
        RingRequest r = completions.takeAll();
        if (r == null) {
            return false;
        }
        while (r != null) {
            RingRequest next = r.nextDone;
            r.nextDone = null;
            inFlight--;
            ioDone(r, r.takeIoFailure());
            r = next;
        }
        return true;
    }

    /** Delivers the completed reads' data, answers every completed request, and notifies once. */
    private void respond() {
        copyOut.clear();
        for (int i = 0; i < doneCount; i++) {
            RingRequest r = done[i];
            r.copyFrom = -1;
            if (r.wire.kind() == Request.Kind.READ) {
                r.placement.deliver(r, copyOut);
            }
        }
        copies.run(copyOut, done, doneCount);
        if (journal != null) {
            journal.begin();
            for (int i = 0; i < doneCount; i++) {
                Request w = done[i].wire;
                journal.record(i, w.id(), w.operation(), w.status());
            }
            journal.commit(ring.rspProdPvt(), doneCount);
        }
        long now = System.nanoTime();
        for (int i = 0; i < doneCount; i++) {
            finish(done[i], now);
            done[i] = null;
        }
        stats.inFlight(-doneCount);
        doneCount = 0;
        if (persistent != null) {
            int mapped = persistent.mapped();
            stats.persistentGrantsChanged(mapped - persistentReported);
            persistentReported = mapped;
        }
        if (ring.pushResponses()) {
            evtchn.notifyRemote();
            stats.notified();
        }
    }

    /** The one end of every request: its counters, its response, its pool entry back; {@code now} as nanoTime. */
    private void finish(RingRequest r, long now) {
        Request w = r.wire;
        long latency = now - r.takenAt;
        switch (w.kind()) {
            case READ -> {
                stats.read(r.bytes());
                stats.latency(IoRequest.Op.READ, latency);
            }
            case WRITE -> {
                stats.write(r.bytes());
                stats.latency(IoRequest.Op.WRITE, latency);
            }
            case FLUSH, BARRIER -> {
                stats.flush();
                stats.latency(IoRequest.Op.FLUSH, latency);
                if (w.nrSegments() > 0) {
                    stats.write(r.bytes());
                }
            }
            case DISCARD -> {
                stats.discard();
                stats.latency(IoRequest.Op.DISCARD, latency);
            }
            case REJECTED -> {
                stats.error();
                stats.reject(w.rejection());
                if (w.rejection() != Rejection.BAD_GRANT && w.rejection() != Rejection.IO_ERROR) {
                    rejections.warn("{}: rejected request id {} ({}): {}", name, w.id(), Blkif.opName(w.operation()),
                            w.rejection().description);
                }
            }
            default -> { }
        }
        ring.putResponse(w.id(), w.operation(), w.status());
        r.release();
        free[freeCount++] = r.index;
    }

    /**
     * Nothing to do: poll a little, re-arm req_event, then sleep until a kick
     * or a completion. A frontend that kicks again and again for nothing is
     * answered by pauses that double up to a cap instead (as Linux's lateeoi
     * for XSA-332), so a storm costs bounded CPU; its next real request ends them.
     */
    private void idle() {
        if (kicked) {
            kicked = false;
            stats.spuriousEvent();
            if (++spurious > FREE_SPURIOUS) {
                int doublings = Math.min(spurious - FREE_SPURIOUS - 1, 16);
                backOff(Math.min(MAX_BACKOFF_NANOS, FIRST_BACKOFF_NANOS << doublings));
                return; // look at the ring again before waiting
            }
        }
        boolean canTake = waitingCount == 0 && barrier == null;
        long end = System.nanoTime() + (spurious > FREE_SPURIOUS ? 0 : SPIN_NANOS);
        do {
            if ((canTake && ring.unconsumed() != 0) || completions.any()) {
                return;
            }
            Thread.onSpinWait();
        } while (System.nanoTime() < end && running);
        if (canTake && ring.finalCheckForRequests()) {
            return;
        }
        completions.parked(true);
        try {
            // a request held by the limits goes when they let it, whatever else comes
            long wait = throttled ? Math.max(1, Math.min(WAIT_NANOS, throttledUntil - System.nanoTime())) : WAIT_NANOS;
            if (!completions.any() && evtchn.await(wait)) {
                stats.wakeup();
                kicked = true;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        } finally {
            completions.parked(false);
        }
    }

    /** Sleeps instead of serving, in slices so that stop() is noticed. */
    private void backOff(long nanos) {
        stats.backoff();
        long end = System.nanoTime() + nanos;
        long left;
        try {
            while (running && (left = end - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.sleep(Math.min(left, 10_000_000L));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    /**
     * After stop: answers what the engine still completes, for a while. A
     * request taken but never submitted (a fence, or one the limits held) stays unanswered: a
     * frontend that reconnects sends it again.
     */
    private void drain() {
        long end = System.nanoTime() + DRAIN_NANOS;
        while (inFlight > 0 && System.nanoTime() < end) {
            if (collectCompletions()) {
                unplug(); // a flush's data may have followed it
                respond();
                continue;
            }
            completions.parked(true);
            try {
                if (!completions.any()) {
                    evtchn.await(10_000_000L);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } finally {
                completions.parked(false);
            }
        }
        if (inFlight > 0) {
            LOG.error("{}: {} requests still in the engine ({}) {} s after the ring stopped; the guest's pages"
                    + " they use stay mapped", name, inFlight, engine, DRAIN_NANOS / 1_000_000_000L);
        }
    }

    /** Before the connector unmaps the ring: no page of the guest stays mapped by us, unless an engine may still use it. */
    private void releasePersistentGrants() {
        if (persistent == null || inFlight > 0) {
            return;
        }
        persistent.close();
        stats.persistentGrantsChanged(-persistentReported);
        persistentReported = 0;
    }
}
