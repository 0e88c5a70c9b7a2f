package io.xendisk.backend;

import org.apache.logging.log4j.Logger;

/**
 * Logs guest-triggered problems at most {@code burst} times per period, then
 * one line saying how many were suppressed: a hostile guest cannot flood the log.
 */
final class RateLimitedLog {
    private final Logger log;
    private final int burst;
    private final long periodNanos;
    private long windowStart;
    private int inWindow;
    private long suppressed;

    RateLimitedLog(Logger log, int burst, long periodNanos) {
        this.log = log;
        this.burst = burst;
        this.periodNanos = periodNanos;
    }

    void warn(String format, Object... args) {
        long now = System.nanoTime();
        if (now - windowStart > periodNanos) {
            if (suppressed > 0) {
                log.warn("{} similar messages suppressed", suppressed);
            }
            windowStart = now;
            inWindow = 0;
            suppressed = 0;
        }
        if (inWindow++ < burst) {
            log.warn(format, args);
        } else {
            suppressed++;
        }
    }
}
