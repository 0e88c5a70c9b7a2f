package io.xendisk.guest;

import java.util.ArrayList;
import java.util.List;

import io.xendisk.blkif.Blkif;

/**
 * Decides what fuzz request number k is, from the run's seed and k alone: its
 * case (valid ones in {@code validPercent} of requests), operation, segments,
 * sectors, references, and the status its response must carry.
 */
final class FuzzPlanner {
    private final FuzzRandom rng = new FuzzRandom();
    private final long seed;
    private final int validPercent;
    private final long diskSectors;
    private final int shadowSectors;
    private final DiskProperties disk;
    private final int maxSegments;
    private final int offeredSegments;
    private final boolean indirect;
    private final Canaries canaries;
    private final int[] badOperations;
    private final int[] validWeights = new int[FuzzCase.values().length];
    private final int[] invalidWeights = new int[FuzzCase.values().length];
    private final int validTotal;
    private final int invalidTotal;

    FuzzPlanner(long seed, int validPercent, DiskProperties disk, int shadowSectors, int maxSegments, Canaries canaries) {
        this(seed, validPercent, disk, shadowSectors, maxSegments, maxSegments, canaries);
    }

    /** @param offeredSegments what the backend takes per request, which a bad count must pass */
    FuzzPlanner(long seed, int validPercent, DiskProperties disk, int shadowSectors, int maxSegments, int offeredSegments,
                Canaries canaries) {
        this.offeredSegments = Math.max(maxSegments, offeredSegments);
        this.seed = seed;
        this.validPercent = validPercent;
        this.disk = disk;
        this.diskSectors = disk.sectors();
        this.shadowSectors = shadowSectors;
        this.maxSegments = maxSegments;
        this.indirect = maxSegments > Blkif.MAX_SEGMENTS_PER_REQUEST;
        this.canaries = canaries;
        List<Integer> bad = new ArrayList<>();
        bad.add(Blkif.OP_RESERVED_1);
        if (!disk.discard()) {
            bad.add(Blkif.OP_DISCARD);
        }
        for (int op = Blkif.OP_INDIRECT + 1; op < 256; op++) {
            bad.add(op);
        }
        badOperations = bad.stream().mapToInt(Integer::intValue).toArray();

        valid(FuzzCase.READ, 30);
        valid(FuzzCase.WRITE, 30);
        valid(FuzzCase.INDIRECT_READ, indirect ? 5 : 0);
        valid(FuzzCase.INDIRECT_WRITE, indirect ? 5 : 0);
        // the shadow reaches the disk's end only when it covers the whole disk
        valid(FuzzCase.LAST_SECTORS, shadowSectors == diskSectors ? 3 : 0);
        valid(FuzzCase.READ_ONLY_GRANTS, 4);
        valid(FuzzCase.FLUSH, disk.flushCache() ? 1 : 0);
        valid(FuzzCase.FLUSH_WITH_DATA, disk.flushCache() ? 1 : 0);
        valid(FuzzCase.BARRIER, disk.barrier() ? 1 : 0);
        valid(FuzzCase.DUPLICATE_ID_READS, 3);
        valid(FuzzCase.REVOKED_IN_FLIGHT, 6);
        invalid(FuzzCase.BAD_OPERATION, 8);
        invalid(FuzzCase.NO_SEGMENTS, 6);
        invalid(FuzzCase.TOO_MANY_SEGMENTS, 6);
        invalid(FuzzCase.BAD_SECTORS, 10);
        invalid(FuzzCase.PAST_END, 10);
        invalid(FuzzCase.BAD_GRANT_READ, 12);
        invalid(FuzzCase.BAD_GRANT_WRITE, 8);
        for (FuzzCase c : List.of(FuzzCase.INDIRECT_BAD_OPERATION, FuzzCase.INDIRECT_BAD_COUNT,
                FuzzCase.INDIRECT_BAD_SECTORS, FuzzCase.INDIRECT_BAD_GRANT, FuzzCase.INDIRECT_BAD_PAGE,
                FuzzCase.INDIRECT_PAST_END)) {
            invalid(c, indirect ? 4 : 0);
        }
        invalid(FuzzCase.INDIRECT_NOT_OFFERED, indirect ? 0 : 8);
        invalid(FuzzCase.DUPLICATE_ID_INVALID, 4);
        validTotal = sum(validWeights);
        invalidTotal = sum(invalidWeights);
    }

    private void valid(FuzzCase c, int w) {
        validWeights[c.ordinal()] = w;
    }

    private void invalid(FuzzCase c, int w) {
        invalidWeights[c.ordinal()] = w;
    }

    private static int sum(int[] w) {
        int s = 0;
        for (int x : w) {
            s += x;
        }
        return s;
    }

    /**
     * Plans request {@code number} into {@code r}; a case of two requests
     * sharing an id plans the second into {@code pair} (only when
     * {@code room} allows two).
     */
    void plan(FuzzRequest r, FuzzRequest pair, long number, long room) {
        rng.restart(seed, number);
        r.reset(number);
        FuzzCase c = rng.percent(validPercent) ? pick(validWeights, validTotal) : pick(invalidWeights, invalidTotal);
        if (room < 2 && (c == FuzzCase.DUPLICATE_ID_READS || c == FuzzCase.DUPLICATE_ID_INVALID)) {
            c = FuzzCase.READ;
        }
        r.kind = c;
        switch (c) {
            case READ -> valid(r, Blkif.OP_READ, directCount(), false);
            case WRITE -> valid(r, Blkif.OP_WRITE, directCount(), false);
            case INDIRECT_READ -> valid(r, Blkif.OP_READ, indirectCount(), true);
            case INDIRECT_WRITE -> valid(r, Blkif.OP_WRITE, indirectCount(), true);
            case LAST_SECTORS -> {
                valid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, directCount(), false);
                r.sector = diskSectors - r.dataSectors;
            }
            case READ_ONLY_GRANTS -> {
                if (indirect && rng.percent(50)) {
                    // one descriptor page: up to 512 segments
                    valid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE,
                            Math.min(indirectCount(), Blkif.SEGMENTS_PER_INDIRECT_PAGE), true);
                    r.indirectPage = FuzzRequest.Page.READ_ONLY;
                } else {
                    valid(r, Blkif.OP_WRITE, rng.between(1, ReadOnlyPages.DATA_PAGES), false);
                    for (int i = 0; i < r.segments; i++) {
                        r.page[i] = FuzzRequest.Page.READ_ONLY;
                    }
                }
            }
            case FLUSH -> r.op = Blkif.OP_FLUSH_DISKCACHE;
            case FLUSH_WITH_DATA -> valid(r, Blkif.OP_FLUSH_DISKCACHE, directCount(), false);
            case BARRIER -> r.op = Blkif.OP_WRITE_BARRIER;
            case DUPLICATE_ID_READS -> {
                valid(r, Blkif.OP_READ, directCount(), false);
                pair.reset(number);
                pair.kind = c;
                valid(pair, Blkif.OP_READ, directCount(), false);
                pairUp(r, pair);
            }
            case REVOKED_IN_FLIGHT -> {
                valid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, 1, false);
                r.page[0] = FuzzRequest.Page.REVOCABLE;
                // right after the push the backend has mostly not taken it yet; later, it may be at work on it
                r.revokeLate = rng.percent(50);
            }
            case BAD_OPERATION -> invalid(r, badOperation(), directCount(), false);
            case NO_SEGMENTS -> {
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, 1, false);
                r.nrSegments = 0;
                r.segments = 0;
                r.dataSectors = 0;
            }
            case TOO_MANY_SEGMENTS -> {
                invalid(r, anyDataOperation(), Blkif.MAX_SEGMENTS_PER_REQUEST, false);
                r.nrSegments = rng.between(Blkif.MAX_SEGMENTS_PER_REQUEST + 1, 255);
            }
            case BAD_SECTORS -> {
                invalid(r, anyDataOperation(), directCount(), false);
                badSegment(r, rng.below(r.segments));
            }
            case PAST_END -> {
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, directCount(), false);
                pastEnd(r);
            }
            case BAD_GRANT_READ -> {
                invalid(r, Blkif.OP_READ, directCount(), false);
                hostileSegment(r, true);
            }
            case BAD_GRANT_WRITE -> {
                invalid(r, Blkif.OP_WRITE, directCount(), false);
                hostileSegment(r, false);
                // the segments before the bad one may already be on the disk
                r.mayPartiallyWrite = true;
                r.holds = true;
            }
            case INDIRECT_BAD_OPERATION -> invalid(r, rng.between(Blkif.OP_WRITE + 1, 255), indirectCount(), true);
            case INDIRECT_BAD_COUNT -> {
                int n = rng.percent(30) ? 0 : rng.between(offeredSegments + 1, rng.percent(50) ? offeredSegments + 16 : 65535);
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, Math.max(1, Math.min(n, maxSegments)), true);
                r.nrSegments = n;
                if (n == 0) {
                    r.segments = 0;
                }
            }
            case INDIRECT_BAD_SECTORS -> {
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, indirectCount(), true);
                badSegment(r, rng.below(r.segments));
            }
            case INDIRECT_BAD_GRANT -> {
                invalid(r, Blkif.OP_READ, indirectCount(), true);
                hostileSegment(r, true);
            }
            case INDIRECT_BAD_PAGE -> {
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE,
                        Math.min(indirectCount(), Blkif.SEGMENTS_PER_INDIRECT_PAGE), true);
                r.indirectPage = FuzzRequest.Page.HOSTILE;
                r.indirectHostileRef = canaries.hostileRef(rng, false);
                r.hostileKind = canaries.lastKind();
            }
            case INDIRECT_PAST_END -> {
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, indirectCount(), true);
                pastEnd(r);
            }
            case INDIRECT_NOT_OFFERED -> {
                invalid(r, rng.percent(50) ? Blkif.OP_READ : Blkif.OP_WRITE, directCount(), true);
                r.indirectPage = FuzzRequest.Page.HOSTILE;
                r.indirectHostileRef = canaries.hostileRef(rng, true);
                r.hostileKind = canaries.lastKind();
            }
            case DUPLICATE_ID_INVALID -> {
                // one operation for both: a response names only the id and the operation
                int op = rng.percent(50) ? badOperation() : Blkif.OP_READ;
                pair.reset(number);
                for (FuzzRequest q : new FuzzRequest[] {r, pair}) {
                    q.kind = c;
                    invalid(q, op, directCount(), false);
                    if (op == Blkif.OP_READ) {
                        pastEnd(q);
                    }
                }
                pairUp(r, pair);
            }
            default -> throw new IllegalStateException("fuzz: no plan for " + c);
        }
        if (disk.readOnly()) {
            onReadOnlyDisk(r);
        }
    }

    private FuzzCase pick(int[] weights, int total) {
        int x = rng.below(total);
        for (int i = 0; i < weights.length; i++) {
            x -= weights[i];
            if (x < 0) {
                return FuzzCase.values()[i];
            }
        }
        throw new IllegalStateException("fuzz: weights add up to less than " + total);
    }

    private static void pairUp(FuzzRequest a, FuzzRequest b) {
        a.partner = b;
        b.partner = a;
        b.secondOfPair = true;
    }

    /** Mostly a few segments, sometimes up to eleven. */
    private int directCount() {
        return rng.percent(75) ? rng.between(1, 3) : rng.between(1, Blkif.MAX_SEGMENTS_PER_REQUEST);
    }

    /** Mostly just over eleven, sometimes anything the backend allows (few via INDIRECT is valid too). */
    private int indirectCount() {
        if (!indirect) {
            return directCount();
        }
        return rng.percent(80) ? rng.between(Blkif.MAX_SEGMENTS_PER_REQUEST + 1, Math.min(16, maxSegments))
                : rng.between(1, maxSegments);
    }

    private int badOperation() {
        return badOperations[rng.below(badOperations.length)];
    }

    /** Read, write or flush with data: all take segments. */
    private int anyDataOperation() {
        return switch (rng.below(disk.flushCache() ? 3 : 2)) {
            case 0 -> Blkif.OP_READ;
            case 1 -> Blkif.OP_WRITE;
            default -> Blkif.OP_FLUSH_DISKCACHE;
        };
    }

    /** Segments on the slot's own pages, whole pages or any sectors of them. */
    private void layout(FuzzRequest r, int n) {
        r.segments = n;
        r.nrSegments = n;
        long sectors = 0;
        for (int i = 0; i < n; i++) {
            if (rng.percent(60)) {
                r.first[i] = 0;
                r.last[i] = Blkif.SECTORS_PER_PAGE - 1;
            } else {
                r.first[i] = rng.below(Blkif.SECTORS_PER_PAGE);
                r.last[i] = rng.between(r.first[i], Blkif.SECTORS_PER_PAGE - 1);
            }
            r.page[i] = FuzzRequest.Page.OWN;
            sectors += r.last[i] - r.first[i] + 1;
        }
        r.dataSectors = sectors;
    }

    /** Anywhere in the shadowed sectors, now and then at their first or last sector. */
    private void inRange(FuzzRequest r) {
        int span = (int) (shadowSectors - r.dataSectors);
        if (rng.percent(5)) {
            r.sector = rng.percent(50) ? 0 : span;
        } else {
            r.sector = rng.below(span + 1);
        }
    }

    private void valid(FuzzRequest r, int op, int segments, boolean indirectRequest) {
        r.op = op;
        r.indirect = indirectRequest;
        layout(r, segments);
        inRange(r);
        r.expect = FuzzRequest.Expect.OKAY;
        r.read = op == Blkif.OP_READ;
        r.write = !r.read;
        r.holds = true;
    }

    /**
     * A request that must fail, on sectors of the disk: its pages hold its own
     * pattern all the same, so that a backend writing it anyway is caught by a
     * later read naming it.
     */
    private void invalid(FuzzRequest r, int op, int segments, boolean indirectRequest) {
        r.op = op;
        r.indirect = indirectRequest;
        layout(r, segments);
        inRange(r);
        r.expect = FuzzRequest.Expect.ERROR;
        r.write = op != Blkif.OP_READ;
    }

    private void badSegment(FuzzRequest r, int i) {
        switch (rng.below(3)) {
            case 0 -> {
                r.first[i] = rng.between(1, Blkif.SECTORS_PER_PAGE - 1);
                r.last[i] = rng.below(r.first[i]);
            }
            case 1 -> {
                r.first[i] = rng.below(Blkif.SECTORS_PER_PAGE);
                r.last[i] = rng.between(Blkif.SECTORS_PER_PAGE, 255);
            }
            default -> {
                r.first[i] = rng.between(Blkif.SECTORS_PER_PAGE, 255);
                r.last[i] = rng.between(r.first[i], 255);
            }
        }
    }

    /** Crossing the disk's end, starting beyond it, or so near 2^64 that the end wraps. */
    private void pastEnd(FuzzRequest r) {
        long n = r.dataSectors;
        r.sector = switch (rng.below(4)) {
            case 0 -> diskSectors - n + rng.between(1, (int) n);
            case 1 -> diskSectors + rng.below(1 << 20);
            case 2 -> -1L - rng.below((int) n);
            default -> rng.percent(50) ? Long.MAX_VALUE - rng.below(8) : Long.MIN_VALUE + rng.below(8);
        };
    }

    private void hostileSegment(FuzzRequest r, boolean readOnlyToo) {
        int i = rng.below(r.segments);
        r.page[i] = FuzzRequest.Page.HOSTILE;
        r.hostileRef[i] = canaries.hostileRef(rng, readOnlyToo);
        r.hostileKind = canaries.lastKind();
    }

    /** Every write to a read-only disk must fail, and writes nothing. */
    private static void onReadOnlyDisk(FuzzRequest r) {
        boolean writes = r.op == Blkif.OP_WRITE
                || ((r.op == Blkif.OP_FLUSH_DISKCACHE || r.op == Blkif.OP_WRITE_BARRIER) && r.nrSegments > 0);
        if (writes && r.expect != FuzzRequest.Expect.ERROR) {
            r.expect = FuzzRequest.Expect.ERROR;
            r.holds = false;
        }
        if (writes) {
            r.mayPartiallyWrite = false;
        }
    }
}
