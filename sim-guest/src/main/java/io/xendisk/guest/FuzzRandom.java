package io.xendisk.guest;

/**
 * SplitMix64, restarted for every fuzz request from the run's seed and the
 * request's number: request k is the same in every run with that seed, however
 * the responses of the others happened to interleave.
 */
final class FuzzRandom {
    private long state;

    /** Starts the stream of request {@code number} of the run seeded {@code seed}. */
    void restart(long seed, long number) {
        state = mix(seed ^ mix(number * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L));
    }

    long next() {
        state += 0x9E3779B97F4A7C15L;
        return mix(state);
    }

    /** Uniform in 0..n-1 (n > 0). */
    int below(int n) {
        return (int) (((next() >>> 32) * n) >>> 32);
    }

    /** Uniform in lo..hi, both included. */
    int between(int lo, int hi) {
        return lo + below(hi - lo + 1);
    }

    boolean percent(int p) {
        return below(100) < p;
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
