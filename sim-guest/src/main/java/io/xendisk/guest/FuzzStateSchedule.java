package io.xendisk.guest;

/**
 * When the fuzzer changes the frontend's xenbus state, and how: change j of
 * n falls before the k-th request sent, k drawn in the j-th n-th of the run, and its
 * kind (and a bogus value's text and length of stay) from the seed and j
 * alone, so a seed repeats its state changes before the same requests.
 */
final class FuzzStateSchedule {
    /** What the fuzzer does at a change. */
    enum Kind {
        CLOSE_AND_RECONNECT(FrontendStateChange.CLOSE_AND_RECONNECT),
        INITIALISING_AGAIN(FrontendStateChange.INITIALISING_AGAIN),
        INIT_WAIT_AGAIN(FrontendStateChange.INIT_WAIT_AGAIN),
        /** Garbage in the state node for a while, then Connected again: the backend ignores it and serves on. */
        BOGUS_STATE(null);

        /** What the frontend does for it; null when it keeps its ring. */
        final FrontendStateChange change;

        Kind(FrontendStateChange change) {
            this.change = change;
        }

        String label() {
            return change != null ? change.label : "bogus-state";
        }
    }

    /**
     * Not xenbus states (0-8), or ones blkif does not use (Reconfiguring,
     * Reconfigured); never 0 (Unknown), which a backend takes as Closed.
     */
    private static final String[] BOGUS = {"9", "x", "", "-1", "10", "7", "8", "44", "connected", "4x"};
    private static final long SALT = 0x57A7E5C4A06E5L;
    /** How many requests at most a bogus value stays in the node. */
    private static final int BOGUS_REQUESTS = 64;

    private final FuzzRandom rng = new FuzzRandom();
    private final long seed;
    private final long total;
    private final long count;
    private final boolean reconnects;
    private long index;
    private long at;
    private Kind kind;
    private String bogus;
    private long restoreAt;

    /**
     * @param count      changes over {@code total} requests
     * @param reconnects whether the frontend can set up a fresh ring (one ring only): else every change is bogus-state
     */
    FuzzStateSchedule(long seed, long total, long count, boolean reconnects) {
        this.seed = seed ^ SALT;
        this.total = total;
        this.count = Math.min(count, total);
        this.reconnects = reconnects;
        draw();
    }

    /** The next change falls before the at()-th request sent; Long.MAX_VALUE when none is left. */
    long at() {
        return at;
    }

    Kind kind() {
        return kind;
    }

    /** For {@link Kind#BOGUS_STATE}: what is written. */
    String bogusValue() {
        return bogus;
    }

    /** For {@link Kind#BOGUS_STATE}: Connected is written back before the restoreAt()-th request sent. */
    long restoreAt() {
        return restoreAt;
    }

    /** Moves on to the next change. */
    void advance() {
        index++;
        draw();
    }

    private void draw() {
        if (index >= count) {
            at = Long.MAX_VALUE;
            kind = null;
            return;
        }
        rng.restart(seed, index);
        long from = 1 + index * total / count;
        long span = Math.max(1, (index + 1) * total / count - index * total / count);
        at = from + (long) (rng.next() >>> 1) % span;
        int k = rng.below(10);
        kind = !reconnects || k >= 7 ? Kind.BOGUS_STATE
                : k < 4 ? Kind.CLOSE_AND_RECONNECT : k < 6 ? Kind.INITIALISING_AGAIN : Kind.INIT_WAIT_AGAIN;
        bogus = BOGUS[rng.below(BOGUS.length)];
        restoreAt = at + rng.between(1, BOGUS_REQUESTS);
    }
}
