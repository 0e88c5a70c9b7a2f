package io.xendisk.guest;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.XenbusState;
import io.xendisk.xen.XenPage;

/**
 * A hostile frontend, seeded: {@code fuzz [--requests N (1000000)] [--seed S
 * (random, printed)] [--valid-percent P (50)] [--state-changes N (one per
 * 20000 requests)]}. Mixes valid reads, writes and flushes with requests that
 * break every rule of the validation checklist ({@link FuzzCase}), keeping the
 * ring full, and changes the frontend's xenbus state in the middle of that I/O
 * ({@link FuzzStateSchedule}): Closing and Closed, then a fresh ring; Initialising
 * or InitWait over Connected, then a fresh ring; garbage in the state node, which
 * the backend ignores while it serves on. Requests in flight at a change that
 * drops the ring get no response: their writes may have reached the disk or not
 * (uncertain, as a failed write is), and their pages stay granted until the backend
 * let go of the ring. It checks:
 * <ul>
 *   <li>every response carries the id of a request in flight and its
 *       operation ({@link BlkfrontIo} disables the ring otherwise), and a
 *       blkif status;</li>
 *   <li>valid requests get OKAY, and valid reads return exactly what the
 *       disk was last written with ({@link DiskShadow}), touching no byte of
 *       their pages outside their segments;</li>
 *   <li>invalid requests get an error, and write nothing;</li>
 *   <li>no guest page the backend was not granted writable changes
 *       ({@link Canaries}; a page revoked in flight, {@link RevocablePages});</li>
 *   <li>the backend still serves at the end, on the ring of the last reconnection:
 *       every sector is read back and checked.</li>
 * </ul>
 * Request k is the same for a seed whatever the timing, so a failure's
 * rerun line repeats the run. Prints one summary line, {@code fuzz PASS ...}
 * or {@code fuzz FAIL ...}, ending in the seed.
 *
 * <p>Not done here: breaking the ring's indexes (the backend stops the ring,
 * which ends a session: {@code hostile prod-overflow} covers it). A disk with
 * several rings gets bogus states only: a fresh ring would end the workloads on
 * the others.
 */
final class FuzzWorkload implements BlkfrontIo.Completion {
    private static final Set<String> OPTIONS = Set.of("requests", "seed", "valid-percent", "state-changes");
    /** The default: a few dozen state changes in a million requests, none in a short run. */
    private static final long REQUESTS_PER_STATE_CHANGE = 20_000;
    /** The shadow covers at most the first 64 MiB of a disk. */
    private static final int MAX_SHADOW_SECTORS = 1 << 17;
    private static final long STUCK_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final int MAX_PROBLEMS = 10;
    private static final int REVOCABLE_PAGES = 16;
    private static final long CANARY_INTERVAL = 4096;

    private final IoContext ctx;
    /** The ring in use: a state change that drops it brings a fresh one. */
    private BlkfrontIo io;
    private final long seed;
    private final long total;
    private final int validPercent;
    private final long plannedStateChanges;
    private final DiskShadow shadow;
    private final Canaries canaries;
    private final ReadOnlyPages readOnly;
    private final RevocablePages revocable;
    private final FuzzPlanner planner;
    private final FuzzRequest[] bySlot;
    private FuzzRequest next;
    private FuzzRequest nextPair;
    private boolean planned;
    private long number;
    private final int[] grefs;
    private final int[] pageRefs = new int[Blkif.MAX_INDIRECT_PAGES_PER_REQUEST];
    private final int[] revokeSlots;
    private int revokeCount;
    private final int[] lateRevokeSlots;
    private int lateRevokeCount;
    private long revokedOkay;
    private long revokedError;
    private final long[] perCase = new long[FuzzCase.values().length];
    private final List<String> problems = new ArrayList<>();
    private long sent;
    private long valid;
    private long invalid;
    private long uncertain;
    private boolean readingBack;
    private long readBackSector;
    private long readBackRequests;
    private long nextCanaryCheck = CANARY_INTERVAL;
    private final Blkfront frontend;
    private final FuzzStateSchedule schedule;
    private final long[] perStateChange = new long[FuzzStateSchedule.Kind.values().length];
    private long stateChanges;
    /** Requests in flight when their ring was dropped, never answered. */
    private long abandoned;
    /** Time spent waiting for the frontend to reconnect. */
    private long changeNanos;
    /** While a bogus value is in the state node: how many requests are sent before Connected is written back, else 0. */
    private long bogusUntil;
    private String bogusValue;

    private FuzzWorkload(IoContext ctx, long seed, long total, int validPercent, int shadowSectors, long stateChanges) {
        this.ctx = ctx;
        this.frontend = ctx.frontend();
        this.validPercent = validPercent;
        this.plannedStateChanges = stateChanges;
        this.schedule = new FuzzStateSchedule(seed, total, stateChanges,
                frontend != null && frontend.queues() == 1);
        this.io = ctx.io();
        this.seed = seed;
        this.total = total;
        this.shadow = new DiskShadow(shadowSectors, seed);
        this.canaries = new Canaries(io.domain(), io.backendDomid());
        this.readOnly = new ReadOnlyPages(io.domain(), io.backendDomid());
        this.revocable = new RevocablePages(io.domain(), io.backendDomid(), REVOCABLE_PAGES);
        this.planner = new FuzzPlanner(seed, validPercent, ctx.disk(), shadowSectors, io.maxSegments(),
                io.offeredSegments(), canaries);
        this.bySlot = new FuzzRequest[io.slots()];
        for (int s = 0; s < bySlot.length; s++) {
            bySlot[s] = new FuzzRequest(io.maxSegments());
        }
        next = new FuzzRequest(io.maxSegments());
        nextPair = new FuzzRequest(io.maxSegments());
        grefs = new int[io.maxSegments() + 1];
        revokeSlots = new int[io.slots()];
        lateRevokeSlots = new int[io.slots()];
    }

    /** @return true when every check held */
    static boolean run(IoContext ctx, List<String> args) throws InterruptedException {
        WorkloadArgs a = new WorkloadArgs("fuzz", args, OPTIONS);
        if (!a.positional().isEmpty()) {
            throw new IllegalArgumentException(
                    "fuzz: usage: fuzz [--requests N] [--seed S] [--valid-percent P] [--state-changes N]");
        }
        long total = a.number("requests", 1_000_000);
        long seed = a.has("seed") ? a.number("seed", 0) : ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
        long validPercent = a.number("valid-percent", 50);
        long stateChanges = a.number("state-changes", total / REQUESTS_PER_STATE_CHANGE);
        if (stateChanges < 0 || stateChanges > total) {
            throw new IllegalArgumentException("fuzz: --state-changes " + stateChanges + ": 0.." + total);
        }
        if (ctx.frontend() == null) {
            stateChanges = 0; // nothing to change the state of
        }
        if (total < 1) {
            throw new IllegalArgumentException("fuzz: --requests " + total + ": at least 1");
        }
        if (validPercent < 0 || validPercent > 100) {
            throw new IllegalArgumentException("fuzz: --valid-percent " + validPercent + ": 0..100");
        }
        DiskProperties disk = ctx.disk();
        long needed = 2L * ctx.io().maxRequestBytes() / Blkif.SECTOR_SIZE;
        if (disk.sectors() < needed) {
            throw new IllegalArgumentException("fuzz: the disk has " + disk.sectors() + " sectors; the fuzzer needs "
                    + needed + " (twice the largest request)");
        }
        int shadowSectors = (int) Math.min(disk.sectors(), MAX_SHADOW_SECTORS);
        ctx.out().accept("fuzz seed=" + seed + " requests=" + total + " valid-percent=" + validPercent
                + " state-changes=" + stateChanges + " disk-sectors=" + disk.sectors() + " checked-sectors=" + shadowSectors + " max-segments="
                + ctx.io().maxSegments() + (disk.readOnly() ? " read-only" : ""));
        FuzzWorkload f = new FuzzWorkload(ctx, seed, total, (int) validPercent, shadowSectors, stateChanges);
        try {
            return f.fuzz();
        } finally {
            f.close();
        }
    }

    private boolean fuzz() throws InterruptedException {
        long start = System.nanoTime();
        boolean usable = drive();
        if (usable && bogusUntil > 0) {
            restoreState();
        }
        if (usable && problems.isEmpty()) {
            readingBack = true;
            usable = drive();
        }
        int deferred = revocable.retryDeferred();
        String canary = canaries.check();
        if (canary != null) {
            problem(canary);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        StringBuilder cases = new StringBuilder("fuzz cases");
        for (FuzzCase c : FuzzCase.values()) {
            if (perCase[c.ordinal()] > 0) {
                cases.append(' ').append(c.label).append('=').append(perCase[c.ordinal()]);
            }
        }
        ctx.out().accept(cases.toString());
        ctx.out().accept("fuzz grants revoked-in-flight=" + revocable.revoked() + " (answered okay=" + revokedOkay
                + " error=" + revokedError + ") revoke-refused-in-use=" + revocable.refused()
                + " still-granted-at-end=" + deferred);
        StringBuilder changes = new StringBuilder("fuzz state-changes");
        for (FuzzStateSchedule.Kind k : FuzzStateSchedule.Kind.values()) {
            changes.append(' ').append(k.label()).append('=').append(perStateChange[k.ordinal()]);
        }
        ctx.out().accept(changes.append(" unanswered-in-flight=").append(abandoned)
                .append(String.format(Locale.ROOT, " reconnect-seconds=%.1f", changeNanos / 1e9)).toString());
        String counts = String.format(Locale.ROOT, "requests=%d valid=%d invalid=%d uncertain=%d sectors-checked=%d"
                        + " read-back-requests=%d state-changes=%d seconds=%.1f seed=%d", sent, valid, invalid, uncertain,
                shadow.checked(), readBackRequests, stateChanges, seconds, seed);
        if (!problems.isEmpty()) {
            problems.forEach(p -> ctx.out().accept("fuzz problem: " + p));
            ctx.out().accept("fuzz FAIL " + problems.get(0) + " " + counts + " (rerun: fuzz --seed " + seed
                    + " --requests " + total + " --valid-percent " + validPercent + " --state-changes "
                    + plannedStateChanges + ")");
            return false;
        }
        ctx.out().accept("fuzz PASS " + counts);
        return usable;
    }

    /**
     * Keeps the ring full until the phase has nothing more to send and
     * everything sent is answered, or a check failed.
     * @return false when the ring can no longer be used
     */
    private boolean drive() throws InterruptedException {
        long lastProgress = System.nanoTime();
        for (;;) {
            if (ctx.stop().getAsBoolean()) {
                problem("the device closed in the middle of the run");
                return false;
            }
            int queued = 0;
            revokeCount = 0;
            while (problems.isEmpty()) {
                if (stateChangeDue()) {
                    if (queued > 0) {
                        // what was queued goes out first: the change is to find requests in flight
                        io.push();
                        revoke(revokeSlots, revokeCount);
                        revokeCount = 0;
                        queued = 0;
                    }
                    if (!changeState()) {
                        return false;
                    }
                    lastProgress = System.nanoTime();
                    continue;
                }
                if (!planned && !planNext()) {
                    break;
                }
                planned = true;
                if (!fits()) {
                    break; // it waits for slots or sectors the requests in flight hold
                }
                issue();
                planned = false;
                queued++;
            }
            if (queued > 0) {
                io.push();
                revoke(revokeSlots, revokeCount);
                revokeCount = 0;
            }
            if (io.outstanding() == 0) {
                if (planned && problems.isEmpty()) {
                    throw new IllegalStateException("fuzz: " + next + " cannot be sent with nothing in flight");
                }
                planned = false;
                return true;
            }
            int n;
            try {
                n = io.complete(this, WAIT_NANOS);
            } catch (BlkfrontException e) {
                problem(e.getMessage());
                return false;
            }
            revoke(lateRevokeSlots, lateRevokeCount);
            lateRevokeCount = 0;
            long now = System.nanoTime();
            if (n > 0) {
                lastProgress = now;
            } else if (now - lastProgress > STUCK_NANOS) {
                problem(io.outstanding() + " requests unanswered for " + TimeUnit.NANOSECONDS.toSeconds(now - lastProgress)
                        + " s: the backend stopped serving the ring (the oldest: " + oldestInFlight() + ")");
                return false;
            }
            revocable.retryDeferred();
            if (sent >= nextCanaryCheck) {
                nextCanaryCheck += CANARY_INTERVAL;
                String canary = canaries.check();
                if (canary != null) {
                    problem(canary);
                }
            }
        }
    }

    /** Whether a state change (or Connected written back over a bogus value) falls before the next request. */
    private boolean stateChangeDue() {
        if (readingBack || planned) {
            return false; // a change falling on a planned request waits for it to be sent, even the last
        }
        // counted in requests sent, not numbers: a pair is two requests of one number
        long n = sent + 1;
        return n >= schedule.at() || (bogusUntil > 0 && n >= bogusUntil);
    }

    /** @return false when the frontend did not get a ring back */
    private boolean changeState() throws InterruptedException {
        if (bogusUntil > 0) {
            restoreState();
            if (sent + 1 < schedule.at()) {
                return true;
            }
        }
        FuzzStateSchedule.Kind k = schedule.kind();
        String bogus = schedule.bogusValue();
        long restoreAt = schedule.restoreAt();
        schedule.advance();
        stateChanges++;
        perStateChange[k.ordinal()]++;
        if (k.change == null) {
            frontend.writeStateNode(bogus);
            bogusValue = bogus;
            bogusUntil = restoreAt;
            return true;
        }
        BlkfrontIo fresh;
        long started = System.nanoTime();
        try {
            fresh = frontend.changeState(k.change);
            changeNanos += System.nanoTime() - started;
        } catch (BlkfrontException e) {
            problem(k.label() + " after " + sent + " requests, " + io.outstanding()
                    + " requests in flight: " + e.getMessage());
            return false;
        }
        abandonInFlight();
        if (fresh.slots() != bySlot.length || fresh.maxSegments() != io.maxSegments()) {
            problem(k.label() + ": the fresh ring has " + fresh.slots() + " slots of " + fresh.maxSegments()
                    + " segments, the old one " + bySlot.length + " of " + io.maxSegments());
            return false;
        }
        io = fresh;
        return true;
    }

    /** Connected back over the bogus value, which the backend must have ignored. */
    private void restoreState() {
        bogusUntil = 0;
        frontend.writeStateNode(XenbusState.CONNECTED.wire());
        XenbusState be = frontend.backendState();
        if (be != XenbusState.CONNECTED) {
            problem("the backend went " + be + " after the frontend wrote '" + bogusValue
                    + "' to its state node, which is no state to act on");
        }
    }

    /**
     * The requests in flight on a ring the backend has let go of: never
     * answered, their writes uncertain, and what they held free (the frontend
     * kept their grants until then).
     */
    private void abandonInFlight() {
        for (FuzzRequest r : bySlot) {
            if (r.inFlight) {
                abandon(r);
                if (r.secondOfPair && !r.partner.inFlight) {
                    abandon(r.partner); // answered, but a pair is settled only with its second response
                }
            }
        }
        revokeCount = 0;
        lateRevokeCount = 0;
    }

    private void abandon(FuzzRequest r) {
        r.inFlight = false;
        r.revokePending = false;
        abandoned++;
        if (r.revocable < 0) {
            switch (r.expect) { // counted when sent
                case OKAY -> valid--;
                case ERROR -> invalid--;
                case EITHER -> uncertain--;
            }
        }
        uncertain++;
        if (r.revoked && !revocable.unchangedSinceRevoked(r.revocable)) {
            problem(r + ": its page changed after the guest had revoked its grant (unanswered at a state change)");
        }
        if (r.holds) {
            if (r.write) {
                shadow.mayHaveWritten(r.sector, r.dataSectors, r.tag());
            }
            shadow.release(r.sector, r.dataSectors, r.write);
        }
        releasePages(r);
    }

    private boolean planNext() {
        if (readingBack) {
            return planReadBack();
        }
        if (sent >= total) {
            return false;
        }
        planner.plan(next, nextPair, ++number, total - sent);
        return true;
    }

    /** The next piece of the final read of every shadowed sector, in requests as large as the ring takes. */
    private boolean planReadBack() {
        if (readBackSector >= shadow.sectors) {
            return false;
        }
        FuzzRequest r = next;
        r.reset(0);
        r.kind = FuzzCase.READ_BACK;
        r.op = Blkif.OP_READ;
        r.sector = readBackSector;
        int n = (int) Math.min(shadow.sectors - readBackSector, (long) io.maxSegments() * Blkif.SECTORS_PER_PAGE);
        r.segments = (n + Blkif.SECTORS_PER_PAGE - 1) / Blkif.SECTORS_PER_PAGE;
        r.nrSegments = r.segments;
        r.indirect = r.segments > Blkif.MAX_SEGMENTS_PER_REQUEST;
        for (int i = 0; i < r.segments; i++) {
            r.first[i] = 0;
            r.last[i] = Math.min(Blkif.SECTORS_PER_PAGE, n - i * Blkif.SECTORS_PER_PAGE) - 1;
            r.page[i] = FuzzRequest.Page.OWN;
        }
        r.dataSectors = n;
        r.read = true;
        r.holds = true;
        readBackSector += n;
        return true;
    }

    private boolean fits() {
        FuzzRequest r = next;
        FuzzRequest p = r.partner;
        if (io.freeSlots() < (p == null ? 1 : 2)) {
            return false;
        }
        if (usesReadOnlyPages(r) && readOnly.busy()) {
            return false;
        }
        return (!r.holds || shadow.free(r.sector, r.dataSectors, r.write))
                && (p == null || !p.holds || shadow.free(p.sector, p.dataSectors, p.write));
    }

    private static boolean usesReadOnlyPages(FuzzRequest r) {
        if (r.indirectPage == FuzzRequest.Page.READ_ONLY) {
            return true;
        }
        return r.segments > 0 && r.page[0] == FuzzRequest.Page.READ_ONLY;
    }

    /** Puts the planned request (and its pair) on the ring, in slots whose spare records become the next plans. */
    private void issue() {
        FuzzRequest r = next;
        FuzzRequest p = r.partner;
        next = put(r, null);
        if (p != null) {
            FuzzRequest spare = put(p, r);
            // the plan object of the pair was nextPair: the spare takes its place
            nextPair = spare;
        }
    }

    /** @return the record the slot held before, now spare */
    private FuzzRequest put(FuzzRequest r, FuzzRequest sharesIdWith) {
        int slot = io.acquire();
        FuzzRequest spare = bySlot[slot];
        bySlot[slot] = r;
        r.slot = slot;
        if (sharesIdWith != null) {
            io.shareId(slot, sharesIdWith.slot);
        }
        if (r.page[0] == FuzzRequest.Page.REVOCABLE && r.segments > 0) {
            r.revocable = revocable.take();
            if (r.revocable < 0) {
                r.page[0] = FuzzRequest.Page.OWN; // every such page is in use: an ordinary request then
            } else if (r.revokeLate) {
                lateRevokeSlots[lateRevokeCount++] = slot;
            } else {
                revokeSlots[revokeCount++] = slot;
            }
            r.revokePending = r.revocable >= 0;
        }
        if (usesReadOnlyPages(r)) {
            readOnly.busy(true);
        }
        long s = r.sector;
        for (int i = 0; i < r.segments; i++) {
            grefs[i] = switch (r.page[i]) {
                case OWN -> io.gref(slot, i);
                case READ_ONLY -> readOnly.dataRef(i);
                case HOSTILE -> r.hostileRef[i];
                case REVOCABLE -> revocable.ref(r.revocable);
            };
            int f = r.first[i];
            int l = r.last[i];
            if (f > l || l >= Blkif.SECTORS_PER_PAGE) {
                continue;
            }
            if (r.page[i] == FuzzRequest.Page.HOSTILE) {
                s += l - f + 1; // no page of ours, but the next segment's sectors follow these
                continue;
            }
            ByteBuffer buf = pageBuffer(r, i);
            int base = pageOffset(r, i);
            if (r.write) {
                Pattern.fill(buf, base + f * Blkif.SECTOR_SIZE, s, l - f + 1, shadow.patternSeed(r.tag()));
            } else if (r.read) {
                for (int o = 0; o < XenPage.SIZE; o += 8) {
                    buf.putLong(base + o, FuzzRequest.POISON);
                }
            }
            s += l - f + 1;
        }
        if (r.holds) {
            shadow.hold(r.sector, r.dataSectors, r.write);
        }
        if (r.indirect) {
            int[] pages = pageRefs;
            switch (r.indirectPage) {
                case OWN -> pages = io.indirectGrefs(slot);
                case READ_ONLY -> {
                    ByteBuffer d = readOnly.pages();
                    for (int i = 0; i < r.segments; i++) {
                        Abi.putSegment(d, readOnly.descriptorOffset() + i * Abi.SEGMENT_SIZE, grefs[i], r.first[i], r.last[i]);
                    }
                    java.util.Arrays.fill(pageRefs, readOnly.descriptorRef());
                }
                default -> java.util.Arrays.fill(pageRefs, r.indirectHostileRef);
            }
            io.queueIndirectRaw(slot, r.op, r.sector, r.nrSegments, grefs, r.first, r.last, pages);
        } else {
            io.queueRaw(slot, r.op, r.sector, r.nrSegments, grefs, r.first, r.last);
        }
        r.inFlight = true;
        if (readingBack) {
            readBackRequests++;
        } else {
            sent++;
            perCase[r.kind.ordinal()]++;
            if (r.revocable < 0) {
                count(r);
            }
        }
        return spare;
    }

    private FuzzRequest oldestInFlight() {
        FuzzRequest oldest = null;
        for (FuzzRequest r : bySlot) {
            if (r.inFlight && (oldest == null || r.number < oldest.number)) {
                oldest = r;
            }
        }
        return oldest;
    }

    private ByteBuffer pageBuffer(FuzzRequest r, int i) {
        return switch (r.page[i]) {
            case OWN -> io.buffer(r.slot);
            case READ_ONLY -> readOnly.pages();
            case REVOCABLE -> revocable.pages();
            case HOSTILE -> throw new IllegalStateException("fuzz: a hostile reference has no page of ours");
        };
    }

    private int pageOffset(FuzzRequest r, int i) {
        return switch (r.page[i]) {
            case OWN, READ_ONLY -> i * XenPage.SIZE;
            case REVOCABLE -> r.revocable * XenPage.SIZE;
            case HOSTILE -> throw new IllegalStateException("fuzz: a hostile reference has no page of ours");
        };
    }

    /** The guest takes back the pages of revocable requests still in flight. */
    private void revoke(int[] slots, int n) {
        for (int i = 0; i < n; i++) {
            FuzzRequest r = bySlot[slots[i]];
            if (!r.revokePending) {
                continue; // answered before its turn came
            }
            r.revokePending = false;
            r.revoked = revocable.revoke(r.revocable);
            if (r.revoked && r.expect == FuzzRequest.Expect.OKAY) {
                r.expect = FuzzRequest.Expect.EITHER; // unless the backend was done with it already, an error
            }
        }
    }

    private void count(FuzzRequest r) {
        switch (r.expect) {
            case OKAY -> valid++;
            case ERROR -> invalid++;
            case EITHER -> uncertain++;
        }
    }

    @Override
    public void done(int slot, int status, long latencyNanos) {
        FuzzRequest r = bySlot[slot];
        r.status = status;
        r.inFlight = false;
        if (status != Blkif.RSP_OKAY && status != Blkif.RSP_ERROR && status != Blkif.RSP_EOPNOTSUPP) {
            problem(r + ": status " + status + " is none of blkif's (0, -1, -2)");
        } else if (r.expect == FuzzRequest.Expect.OKAY && status != Blkif.RSP_OKAY) {
            problem(r + " is valid but was answered with status " + status);
        } else if (r.expect == FuzzRequest.Expect.ERROR && status == Blkif.RSP_OKAY) {
            problem(r + " must fail but was answered OKAY");
        }
        if (r.partner == null) {
            answered(r);
        } else if (r.secondOfPair) {
            // only now are both pairs' data in place: which response was whose, nothing tells
            answered(r.partner);
            answered(r);
        }
    }

    /** Checks what a response means for the request's data and pages, and frees what it held. */
    private void answered(FuzzRequest r) {
        if (r.revocable >= 0) {
            r.revokePending = false;
            if (!readingBack) {
                count(r); // only now is it known whether its page was revoked in flight
            }
            if (r.revoked) {
                if (r.status == Blkif.RSP_OKAY) {
                    revokedOkay++;
                } else {
                    revokedError++;
                }
                if (!revocable.unchangedSinceRevoked(r.revocable)) {
                    problem(r + ": its page changed after the guest had revoked its grant");
                }
            }
        }
        if (r.read && r.status == Blkif.RSP_OKAY) {
            checkRead(r);
        }
        if (r.holds) {
            if (r.write) {
                if (r.status == Blkif.RSP_OKAY) {
                    shadow.written(r.sector, r.dataSectors, r.tag());
                } else {
                    shadow.mayHaveWritten(r.sector, r.dataSectors, r.tag());
                }
            }
            shadow.release(r.sector, r.dataSectors, r.write);
        }
        releasePages(r);
    }

    /** Every sector of a successful read against the shadow; the bytes of its pages outside its segments untouched. */
    private void checkRead(FuzzRequest r) {
        long s = r.sector;
        for (int i = 0; i < r.segments; i++) {
            ByteBuffer buf = pageBuffer(r, i);
            int base = pageOffset(r, i);
            int f = r.first[i];
            int l = r.last[i];
            for (int sect = f; sect <= l; sect++, s++) {
                String bad = shadow.check(buf, base + sect * Blkif.SECTOR_SIZE, s);
                if (bad != null) {
                    problem(r + ": " + bad);
                    return;
                }
            }
            int from = (l + 1) * Blkif.SECTOR_SIZE;
            for (int o = 0; o < XenPage.SIZE; o += 8) {
                if (o == f * Blkif.SECTOR_SIZE) {
                    o = from - 8;
                    continue;
                }
                if (buf.getLong(base + o) != FuzzRequest.POISON) {
                    problem(r + ": the backend wrote byte " + o + " of segment " + i + "'s page, outside its sectors "
                            + f + ".." + l);
                    return;
                }
            }
        }
    }

    private void problem(String what) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(what);
        }
    }

    private void close() {
        canaries.close();
        readOnly.close();
        revocable.close();
    }

    /** Gives back the revocable and read-only pages a request held. */
    private void releasePages(FuzzRequest r) {
        if (r.revocable >= 0) {
            revocable.answered(r.revocable);
        }
        if (usesReadOnlyPages(r)) {
            readOnly.busy(false);
        }
    }
}
