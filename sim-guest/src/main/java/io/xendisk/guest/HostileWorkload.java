package io.xendisk.guest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.FrontRing;
import io.xendisk.xen.sim.domain.GuestGrants;

/**
 * A frontend that breaks the rules on purpose, one case at a time:
 * {@code hostile CASE|all|list [--count N] [--seconds S]}. Each request case sends one
 * request violating an item of the validation checklist (STYLE.md) and
 * passes when it gets an error response with its own id and operation and
 * the backend still serves a valid read afterwards. {@code prod-overflow}
 * moves req_prod a thousand slots ahead (the backend must stop that ring;
 * the ring is unusable afterwards); {@code event-storm} sends notifications
 * with an empty ring for --seconds (default 2), or --count of them, says how
 * many events the backend took for them, and checks it still serves.
 * {@code all} runs every case except prod-overflow.
 */
final class HostileWorkload implements BlkfrontIo.Completion {
    /** The request cases, in the order {@code all} runs them. */
    static final List<String> REQUEST_CASES = List.of("unknown-op", "write-read-only", "read-no-segments",
            "too-many-segments", "first-after-last", "last-sect-8", "past-end", "sector-overflow",
            "ungranted-gref", "read-into-read-only-grant", "revoked-grant", "indirect-bad-op",
            "indirect-too-many-segments", "indirect-bad-segment", "indirect-ungranted-page", "indirect-past-end");
    private static final long RESPONSE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long OVERFLOW_QUIET_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final int UNKNOWN_OP = 42;
    private static final String NO_SLOT = "FAIL no free request slot (requests of earlier cases still unanswered)";

    private final IoContext ctx;
    private final BlkfrontIo io;
    private final int[] grefs;
    private final int[] first;
    private final int[] last;
    private int answeredSlot = -1;
    private int answeredStatus;
    private int passed;
    private int failed;
    private int skipped;

    private HostileWorkload(IoContext ctx) {
        this.ctx = ctx;
        this.io = ctx.io();
        int n = Math.max(io.maxSegments(), io.offeredSegments()) + 1;
        grefs = new int[n];
        first = new int[n];
        last = new int[n];
    }

    /** @return true when no case failed */
    static boolean run(IoContext ctx, List<String> args) throws InterruptedException {
        WorkloadArgs a = new WorkloadArgs("hostile", args, Set.of("count", "seconds"));
        if (a.positional().size() != 1) {
            throw new IllegalArgumentException("hostile: usage: hostile CASE|all|list [--count N] [--seconds S]; cases: "
                    + String.join(", ", allCases()));
        }
        String which = a.positional().get(0);
        if (which.equals("list")) {
            descriptions().forEach((k, v) -> ctx.out().accept(k + ": " + v));
            return true;
        }
        if (!which.equals("all") && !allCases().contains(which)) {
            throw new IllegalArgumentException("hostile: unknown case '" + which + "'; cases: "
                    + String.join(", ", allCases()) + ", all");
        }
        HostileWorkload h = new HostileWorkload(ctx);
        long count = a.number("count", Long.MAX_VALUE);
        long seconds = a.number("seconds", count == Long.MAX_VALUE ? 2 : Long.MAX_VALUE / 1_000_000_000L);
        List<String> cases = which.equals("all") ? new ArrayList<>(REQUEST_CASES) : List.of(which);
        if (which.equals("all")) {
            cases.add("event-storm");
        }
        for (String c : cases) {
            if (ctx.stop().getAsBoolean() || h.io.broken() != null) {
                break;
            }
            h.runCase(c, count, seconds);
        }
        ctx.out().accept("hostile summary passed=" + h.passed + " failed=" + h.failed + " skipped=" + h.skipped);
        // a run in which nothing was tried proves nothing: it does not pass
        return h.failed == 0 && h.passed > 0;
    }

    static List<String> allCases() {
        List<String> all = new ArrayList<>(REQUEST_CASES);
        all.add("prod-overflow");
        all.add("event-storm");
        return all;
    }

    private void runCase(String name, long count, long seconds) throws InterruptedException {
        String verdict;
        try {
            verdict = switch (name) {
                case "prod-overflow" -> prodOverflow();
                case "event-storm" -> eventStorm(count, seconds);
                default -> requestCase(name);
            };
        } catch (BlkfrontException e) {
            verdict = "FAIL " + e.getMessage();
        }
        if (verdict.startsWith("PASS")) {
            passed++;
        } else if (verdict.startsWith("SKIP")) {
            skipped++;
        } else {
            failed++;
        }
        ctx.out().accept("hostile " + name + " " + verdict);
    }

    private String requestCase(String name) throws InterruptedException {
        if (name.startsWith("indirect-") && io.maxSegments() == Blkif.MAX_SEGMENTS_PER_REQUEST) {
            return "SKIP the ring uses direct requests only (the backend offers no feature-max-indirect-segments)";
        }
        DiskProperties disk = ctx.disk();
        long end = disk.sectors();
        int okRef = io.gref(0, 0); // a page of slot 0, granted read-write to the backend
        GuestGrants g = io.domain().grants();
        int extraFrame = -1;
        int extraRef = -1;
        String result;
        switch (name) {
            case "unknown-op" -> result = send(UNKNOWN_OP, 0, 0, okRef, 0, 7);
            case "write-read-only" -> {
                if (!disk.readOnly()) {
                    return "SKIP the disk is writable (attach it read-only to test this case)";
                }
                result = send(Blkif.OP_WRITE, 0, 1, okRef, 0, 7);
            }
            case "read-no-segments" -> result = send(Blkif.OP_READ, 0, 0, okRef, 0, 7);
            case "too-many-segments" -> result = send(Blkif.OP_READ, 0, 12, okRef, 0, 0);
            case "first-after-last" -> result = send(Blkif.OP_READ, 0, 1, okRef, 5, 3);
            case "last-sect-8" -> result = send(Blkif.OP_READ, 0, 1, okRef, 0, 8);
            case "past-end" -> result = send(Blkif.OP_READ, Math.max(0, end - 4), 1, okRef, 0, 7);
            case "sector-overflow" -> result = send(Blkif.OP_READ, -8L, 2, okRef, 0, 7); // 2^64-8 + 16 wraps to 8
            case "ungranted-gref" -> result = send(Blkif.OP_READ, 0, 1, g.entries() - 1, 0, 7);
            case "read-into-read-only-grant" -> {
                extraFrame = io.domain().memory().allocate(1);
                extraRef = g.grantAccess(extraFrame, io.backendDomid(), true);
                result = send(Blkif.OP_READ, 0, 1, extraRef, 0, 7);
            }
            case "revoked-grant" -> {
                extraFrame = io.domain().memory().allocate(1);
                int ref = g.grantAccess(extraFrame, io.backendDomid(), false);
                g.endAccess(ref);
                result = send(Blkif.OP_READ, 0, 1, ref, 0, 7);
            }
            case "indirect-bad-op" -> result = sendIndirect(Blkif.OP_FLUSH_DISKCACHE, 0, 2, okRef, 0, 7, null);
            case "indirect-too-many-segments" -> result = sendIndirect(Blkif.OP_READ, 0, io.offeredSegments() + 1, okRef, 0, 0, null);
            case "indirect-bad-segment" -> result = sendIndirect(Blkif.OP_READ, 0, 12, okRef, 0, 8, null);
            case "indirect-ungranted-page" -> result = sendIndirect(Blkif.OP_READ, 0, 12, okRef, 0, 7, g.entries() - 1);
            case "indirect-past-end" -> result = sendIndirect(Blkif.OP_READ, Math.max(0, end - 8), 12, okRef, 0, 7, null);
            default -> throw new IllegalArgumentException("hostile: unknown case " + name);
        }
        if (extraRef >= 0) {
            g.endAccess(extraRef);
        }
        if (!result.startsWith("PASS")) {
            return result;
        }
        String probe = probe();
        return probe == null ? result + "; backend still serves" : "FAIL " + probe;
    }

    /** Sends one request whose segments all use {@code gref}; PASS when answered with an error for its id. */
    private String send(int op, long sector, int nrSegments, int gref, int firstSect, int lastSect)
            throws InterruptedException {
        int slot = prepare(gref, firstSect, lastSect);
        if (slot < 0) {
            return NO_SLOT;
        }
        io.queueRaw(slot, op, sector, nrSegments, grefs, first, last);
        io.push();
        return verdict(slot);
    }

    /**
     * Sends one INDIRECT request whose segments all use {@code gref}, its
     * descriptors in the slot's own indirect page, or naming
     * {@code indirectPage} as that page when given.
     */
    private String sendIndirect(int indirectOp, long sector, int nrSegments, int gref, int firstSect, int lastSect,
                                Integer indirectPage) throws InterruptedException {
        int slot = prepare(gref, firstSect, lastSect);
        if (slot < 0) {
            return NO_SLOT;
        }
        int[] pages = indirectPage == null ? io.indirectGrefs(slot) : new int[] {indirectPage};
        io.queueIndirectRaw(slot, indirectOp, sector, nrSegments, grefs, first, last, pages);
        io.push();
        return verdict(slot);
    }

    /** Fills every segment with {@code gref} and the sectors given; a free slot, or -1. */
    private int prepare(int gref, int firstSect, int lastSect) {
        Arrays.fill(grefs, gref);
        Arrays.fill(first, firstSect);
        Arrays.fill(last, lastSect);
        return io.acquire();
    }

    private String verdict(int slot) throws InterruptedException {
        Integer status = await(slot);
        if (status == null) {
            return "FAIL no response within " + TimeUnit.NANOSECONDS.toSeconds(RESPONSE_NANOS) + " s";
        }
        if (status == Blkif.RSP_OKAY) {
            return "FAIL the backend answered OK (status 0) for id " + slot;
        }
        return "PASS error response status " + status + " for id " + slot;
    }

    /** A valid 4 KiB read; null when it succeeds, else what went wrong. */
    private String probe() throws InterruptedException {
        int slot = io.acquire();
        if (slot < 0) {
            return "no free request slot for the probe read";
        }
        io.queue(slot, Blkif.OP_READ, 0, (int) Math.min(8, ctx.disk().sectors()));
        io.push();
        Integer status = await(slot);
        if (status == null) {
            return "the backend stopped answering (a valid read got no response)";
        }
        return status == Blkif.RSP_OKAY ? null : "a valid read afterwards failed with status " + status;
    }

    private Integer await(int slot) throws InterruptedException {
        answeredSlot = -1;
        long deadline = System.nanoTime() + RESPONSE_NANOS;
        while (answeredSlot != slot) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            io.complete(this, Math.min(left, 100_000_000L));
        }
        return answeredStatus;
    }

    @Override
    public void done(int slot, int status, long latencyNanos) {
        answeredSlot = slot;
        answeredStatus = status;
    }

    /** req_prod a thousand ahead of what was produced: the backend must stop the ring and answer nothing. */
    private String prodOverflow() throws InterruptedException {
        FrontRing ring = io.ring();
        int before = ring.unconsumedResponses();
        int bogus = ring.reqProdPvt() + 1000;
        ring.forceReqProd(bogus);
        io.eventChannelPort().notifyRemote();
        io.disable("ring deliberately broken by hostile prod-overflow (reconnect the device to use it again)");
        long deadline = System.nanoTime() + OVERFLOW_QUIET_NANOS;
        while (System.nanoTime() < deadline) {
            if (ring.unconsumedResponses() != before) {
                return "FAIL the backend answered " + (ring.unconsumedResponses() - before)
                        + " requests after req_prod jumped to " + Integer.toUnsignedString(bogus);
            }
            Thread.sleep(10);
        }
        return "PASS no response in " + TimeUnit.NANOSECONDS.toSeconds(OVERFLOW_QUIET_NANOS)
                + " s after req_prod jumped 1000 ahead (the backend must have stopped the ring); this ring is now disabled";
    }

    /**
     * Kicks with nothing on the ring, as fast as they go; the backend must
     * shrug them off and keep serving. The backend port's counters say how
     * many of them woke it: a backend that backs off takes few.
     */
    private String eventStorm(long count, long seconds) throws InterruptedException {
        var port = io.eventChannelPort();
        var before = port.peerCounts();
        if (before == null) {
            return "FAIL the event channel is not bound to the backend";
        }
        long start = System.nanoTime();
        long deadline = start + TimeUnit.SECONDS.toNanos(seconds);
        long sent = 0;
        while (sent < count && ((sent & 1023) != 0 || System.nanoTime() < deadline)) {
            port.notifyRemote();
            sent++;
        }
        double s = (System.nanoTime() - start) / 1e9;
        var after = port.peerCounts();
        String probe = probe();
        if (probe != null) {
            return "FAIL after " + sent + " notifications " + probe;
        }
        long taken = after == null ? -1 : after.taken() - before.taken();
        return String.format(java.util.Locale.ROOT,
                "PASS %d notifications in %.3f s; the backend took %d events (%.0f per s); backend still serves",
                sent, s, taken, taken / Math.max(s, 1e-9));
    }

    /** The cases by name with what each sends, for "hostile list" and docs. */
    static Map<String, String> descriptions() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("unknown-op", "operation 42");
        m.put("write-read-only", "a write to a read-only disk");
        m.put("read-no-segments", "a read with nr_segments 0");
        m.put("too-many-segments", "a read with nr_segments 12");
        m.put("first-after-last", "a segment with first_sect 5 > last_sect 3");
        m.put("last-sect-8", "a segment with last_sect 8");
        m.put("past-end", "a read crossing the end of the disk");
        m.put("sector-overflow", "a read at sector 2^64-8 whose end wraps around");
        m.put("ungranted-gref", "a grant reference never granted");
        m.put("read-into-read-only-grant", "a read into a page granted read-only");
        m.put("revoked-grant", "a grant reference already revoked");
        m.put("indirect-bad-op", "an INDIRECT request whose indirect_op is flush (only read and write may be)");
        m.put("indirect-too-many-segments", "an INDIRECT request with one segment more than the backend offers");
        m.put("indirect-bad-segment", "an INDIRECT request with last_sect 8 in its indirect page");
        m.put("indirect-ungranted-page", "an INDIRECT request naming an indirect page never granted");
        m.put("indirect-past-end", "an INDIRECT read crossing the end of the disk");
        m.put("prod-overflow", "req_prod 1000 ahead of the requests");
        m.put("event-storm", "notifications with an empty ring for --seconds (default 2) or --count of them");
        return m;
    }
}
