package io.xendisk.guest;

/**
 * Request latencies in nanoseconds, recorded without allocating: a log-linear
 * histogram (64 sub-buckets per power of two, so a percentile is within about
 * 1.6 % of the true value) over 1 ns .. 2^40 ns (18 minutes).
 */
public final class LatencyHistogram {
    private static final int SUB_BITS = 6;
    private static final int SUB = 1 << SUB_BITS;
    private static final int MAX_EXP = 40;
    private final long[] counts = new long[(MAX_EXP + 1) * SUB];
    private long total;
    private long max;

    /** Adds one sample; negative values count as 0, huge ones as the largest bucket. */
    public void record(long nanos) {
        long v = Math.max(0, nanos);
        counts[index(v)]++;
        total++;
        if (v > max) {
            max = v;
        }
    }

    public long count() {
        return total;
    }

    public long max() {
        return max;
    }

    public void reset() {
        java.util.Arrays.fill(counts, 0);
        total = 0;
        max = 0;
    }

    /**
     * The value at percentile {@code p} (0..100): the upper edge of the bucket
     * holding that rank, capped by the largest sample; 0 when empty.
     */
    public long percentile(double p) {
        if (total == 0) {
            return 0;
        }
        long rank = Math.max(1, (long) Math.ceil(p / 100.0 * total));
        long seen = 0;
        for (int i = 0; i < counts.length; i++) {
            seen += counts[i];
            if (seen >= rank) {
                return Math.min(upperEdge(i), max);
            }
        }
        return max;
    }

    private static int index(long v) {
        if (v < SUB) {
            return (int) v;
        }
        int exp = 63 - Long.numberOfLeadingZeros(v); // >= SUB_BITS
        if (exp > MAX_EXP) {
            return (MAX_EXP + 1) * SUB - 1;
        }
        int sub = (int) (v >>> (exp - SUB_BITS)) & (SUB - 1);
        return (exp - SUB_BITS + 1) * SUB + sub;
    }

    private static long upperEdge(int index) {
        if (index < SUB) {
            return index;
        }
        int exp = index / SUB + SUB_BITS - 1;
        int sub = index % SUB;
        long base = (1L << exp) | ((long) sub << (exp - SUB_BITS));
        return base + (1L << (exp - SUB_BITS)) - 1;
    }
}
