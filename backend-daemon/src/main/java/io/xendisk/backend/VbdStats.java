package io.xendisk.backend;

import io.xendisk.blkif.Rejection;
import io.xendisk.storage.IoRequest;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of one VBD. Written by its ring threads (one per queue, so the
 * increments are atomic adds; uncontended with one queue), read by anyone
 * for {@code status}.
 */
public final class VbdStats {
    private static final int READS = 0, READ_BYTES = 1, WRITES = 2, WRITE_BYTES = 3, FLUSHES = 4,
            DISCARDS = 5, ERRORS = 6, BATCHES = 7, REQUESTS_IN_BATCHES = 8, NOTIFICATIONS = 9,
            WAKEUPS = 10, INDIRECT = 11, SPURIOUS = 12, BACKOFFS = 13, N = 14;
    private final AtomicLongArray c = new AtomicLongArray(N);
    private final AtomicLongArray rejected = new AtomicLongArray(Rejection.values().length);
    /** ring utilisation histogram: requests found per batch, by power of two bucket (1, 2-3, 4-7, ...). */
    private final AtomicLongArray batchHistogram = new AtomicLongArray(12);

    /**
     * Upper bounds of the latency buckets, in nanoseconds, from a request taken
     * off the ring to its response written: from what a memory-backed disk
     * answers in to what a remote store that is reconnecting takes. A last
     * bucket above them holds the rest.
     */
    public static final long[] LATENCY_BOUNDS_NANOS = {10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000, 500_000_000,
        1_000_000_000L, 2_500_000_000L, 5_000_000_000L, 10_000_000_000L};
    private static final int LATENCY_BUCKETS = LATENCY_BOUNDS_NANOS.length + 1;
    private static final IoRequest.Op[] OPS = IoRequest.Op.values();
    /** Per operation (its ordinal), LATENCY_BUCKETS counts, not cumulative. */
    private final AtomicLongArray latency = new AtomicLongArray(OPS.length * LATENCY_BUCKETS);
    private final AtomicLongArray latencySum = new AtomicLongArray(OPS.length);
    private final AtomicInteger inFlight = new AtomicInteger();

    private volatile int ringSize;
    private final AtomicInteger persistentGrants = new AtomicInteger();

    private volatile int queues;

    /** How many rings (queues) are being served; set at connect. */
    void queues(int n) {
        queues = n;
    }

    public int queues() {
        return queues;
    }

    /** The ring being served (entries); set at connect. */
    void ringSize(int entries) {
        ringSize = entries;
    }

    /** Ring utilisation: mean requests found per batch as a percentage of the ring's entries. */
    public long ringUtilisationPercent() {
        int n = ringSize;
        return n == 0 ? 0 : Math.round(100 * meanBatch() / n);
    }

    private void add(int i, long d) {
        c.getAndAdd(i, d);
    }

    void read(long bytes) {
        add(READS, 1);
        add(READ_BYTES, bytes);
    }

    void write(long bytes) {
        add(WRITES, 1);
        add(WRITE_BYTES, bytes);
    }

    void flush() {
        add(FLUSHES, 1);
    }

    void discard() {
        add(DISCARDS, 1);
    }

    void error() {
        add(ERRORS, 1);
    }

    /** A request of {@code op} was answered {@code nanos} after it was taken off the ring. */
    void latency(IoRequest.Op op, long nanos) {
        int b = 0;
        while (b < LATENCY_BOUNDS_NANOS.length && nanos > LATENCY_BOUNDS_NANOS[b]) {
            b++;
        }
        latency.getAndIncrement(op.ordinal() * LATENCY_BUCKETS + b);
        latencySum.getAndAdd(op.ordinal(), nanos);
    }

    /** Requests taken off a ring ({@code delta} > 0) or answered ({@code delta} < 0). */
    void inFlight(int delta) {
        inFlight.getAndAdd(delta);
    }

    /** Requests taken off the rings and not answered yet, all queues together. */
    public int inFlight() {
        return inFlight.get();
    }

    /**
     * How many requests of {@code op} were answered within each latency bucket
     * ({@link #LATENCY_BOUNDS_NANOS}, then the rest), not cumulative.
     */
    public long[] latencyBuckets(IoRequest.Op op) {
        long[] out = new long[LATENCY_BUCKETS];
        for (int i = 0; i < out.length; i++) {
            out[i] = latency.get(op.ordinal() * LATENCY_BUCKETS + i);
        }
        return out;
    }

    /** The latencies of the answered requests of {@code op}, added up, in nanoseconds. */
    public long latencySumNanos(IoRequest.Op op) {
        return latencySum.get(op.ordinal());
    }

    void reject(Rejection why) {
        rejected.getAndIncrement(why.ordinal());
    }

    void batch(int requests) {
        add(BATCHES, 1);
        add(REQUESTS_IN_BATCHES, requests);
        int b = Math.min(31 - Integer.numberOfLeadingZeros(Math.max(1, requests)), batchHistogram.length() - 1);
        batchHistogram.getAndIncrement(b);
    }

    void indirect() {
        add(INDIRECT, 1);
    }

    /** A ring keeps {@code delta} more (or fewer) frontend pages mapped (feature-persistent). */
    void persistentGrantsChanged(int delta) {
        if (delta != 0) {
            persistentGrants.getAndAdd(delta);
        }
    }

    void notified() {
        add(NOTIFICATIONS, 1);
    }

    void wakeup() {
        add(WAKEUPS, 1);
    }

    /** An event after which the ring had nothing new: a frontend kicking for nothing. */
    void spuriousEvent() {
        add(SPURIOUS, 1);
    }

    /** The ring thread slept instead of serving: after spurious events, or a batch with invalid requests. */
    void backoff() {
        add(BACKOFFS, 1);
    }

    /** Events from the frontend that woke the ring thread. */
    public long events() {
        return c.get(WAKEUPS);
    }

    public long spuriousEvents() {
        return c.get(SPURIOUS);
    }

    public long backoffs() {
        return c.get(BACKOFFS);
    }

    public long reads() {
        return c.get(READS);
    }

    public long readBytes() {
        return c.get(READ_BYTES);
    }

    public long writes() {
        return c.get(WRITES);
    }

    public long writeBytes() {
        return c.get(WRITE_BYTES);
    }

    public long flushes() {
        return c.get(FLUSHES);
    }

    public long discards() {
        return c.get(DISCARDS);
    }

    /** Requests answered with an error status, rejected ones included. */
    public long errors() {
        return c.get(ERRORS);
    }

    public long notifications() {
        return c.get(NOTIFICATIONS);
    }

    /** Requests that came as INDIRECT requests. */
    public long indirectRequests() {
        return c.get(INDIRECT);
    }

    /** Frontend pages kept mapped, all queues together. */
    public int persistentGrants() {
        return persistentGrants.get();
    }

    public long batches() {
        return c.get(BATCHES);
    }

    /** Mean requests taken per batch: how full the ring runs. */
    public double meanBatch() {
        long b = batches();
        return b == 0 ? 0 : (double) c.get(REQUESTS_IN_BATCHES) / b;
    }

    public long rejected(Rejection why) {
        return rejected.get(why.ordinal());
    }

    /** Non-zero rejection counters by reason. */
    public Map<Rejection, Long> rejections() {
        Map<Rejection, Long> m = new EnumMap<>(Rejection.class);
        for (Rejection r : Rejection.values()) {
            long v = rejected(r);
            if (v != 0) {
                m.put(r, v);
            }
        }
        return m;
    }

    /** Batch count per size bucket: index k counts batches of 2^k .. 2^(k+1)-1 requests. */
    public long[] batchHistogram() {
        long[] out = new long[batchHistogram.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = batchHistogram.get(i);
        }
        return out;
    }
}
