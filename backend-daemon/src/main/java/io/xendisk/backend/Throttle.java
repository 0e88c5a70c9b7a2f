package io.xendisk.backend;

import io.xendisk.backend.IoLimits.Bucket;
import io.xendisk.backend.IoLimits.Setting;

/**
 * A disk's {@link IoLimits} at work, shared by the disk's rings: one leaky
 * bucket per limited direction and unit, as QEMU's throttling keeps them. A
 * bucket fills with what each request moves and leaks at the limit's rate; a
 * request may go while the bucket is no fuller than its size (the burst
 * rate times the burst length, or a tenth of a second at the rate without
 * one), and a burst rate also has a small bucket of its own (a tenth of a
 * second at that rate) that keeps the peak to it. A request is never split:
 * a large one may take the bucket past its size, and the next one waits until
 * it has leaked back.
 *
 * <p>A ring asks {@link #admit} for the request at its head; a request that
 * must wait stays there (with those behind it), and the ring's thread sleeps
 * on its own event channel until then, so one disk's limit holds up no other
 * disk. Allocates nothing.
 */
public final class Throttle {
    private static final Bucket[] BUCKETS = Bucket.values();
    private static final double NANOS = 1e9;

    private IoLimits limits;
    /** Whether any limit is set: read without the lock on every request of the disk. */
    private volatile boolean active;
    /** What each bucket still holds, in bytes or operations. */
    private final double[] level = new double[BUCKETS.length];
    private final double[] burstLevel = new double[BUCKETS.length];
    private long last;

    /** Limits that start with empty buckets at {@code now} (System.nanoTime). */
    public Throttle(IoLimits limits, long now) {
        this.limits = limits;
        this.active = !limits.none();
        this.last = now;
    }

    /** Whether any limit is set, so that a request must {@link #admit ask}. */
    public boolean active() {
        return active;
    }

    /** The limits in force. */
    public synchronized IoLimits limits() {
        return limits;
    }

    /** New limits from now on; what the buckets hold carries over, as with QEMU's block_set_io_throttle. */
    public synchronized void update(IoLimits l, long now) {
        leak(now);
        limits = l;
        active = !l.none();
    }

    /**
     * Whether a read or write of {@code bytes} may go at {@code now}: 0 when it
     * may (and is counted), else how many nanoseconds to wait before asking
     * again.
     */
    public synchronized long admit(boolean write, long bytes, long now) {
        if (limits.none()) {
            return 0;
        }
        leak(now);
        double wait = 0;
        for (Bucket b : BUCKETS) {
            if (!applies(b, write)) {
                continue;
            }
            double avg = limits.get(b.avg);
            if (avg == 0) {
                continue;
            }
            double max = limits.get(b.max);
            long length = Math.max(1, limits.get(b.maxLength));
            double size = max > 0 ? max * length : avg / 10;
            if (level[b.ordinal()] > size) {
                wait = Math.max(wait, (level[b.ordinal()] - size) / avg);
            }
            if (max > 0 && burstLevel[b.ordinal()] > max / 10) {
                wait = Math.max(wait, (burstLevel[b.ordinal()] - max / 10) / max);
            }
        }
        if (wait > 0) {
            return Math.max(1, (long) Math.ceil(wait * NANOS));
        }
        double ops = operations(bytes);
        for (Bucket b : BUCKETS) {
            if (applies(b, write) && limits.get(b.avg) != 0) {
                double amount = b.bytes() ? bytes : ops;
                level[b.ordinal()] += amount;
                if (limits.get(b.max) != 0) {
                    burstLevel[b.ordinal()] += amount;
                }
            }
        }
        return 0;
    }

    private static boolean applies(Bucket b, boolean write) {
        return switch (b) {
            case TOTAL_BYTES, TOTAL_IOPS -> true;
            case READ_BYTES, READ_IOPS -> !write;
            case WRITE_BYTES, WRITE_IOPS -> write;
        };
    }

    /** One operation, or with size_iops_sec a request's bytes in units of that size. */
    private double operations(long bytes) {
        long size = limits.get(Setting.SIZE_IOPS_SEC);
        return size > 0 && bytes > size ? (double) bytes / size : 1;
    }

    private void leak(long now) {
        double seconds = Math.max(0, now - last) / NANOS;
        last = now;
        for (Bucket b : BUCKETS) {
            int i = b.ordinal();
            level[i] = Math.max(0, level[i] - limits.get(b.avg) * seconds);
            burstLevel[i] = Math.max(0, burstLevel[i] - limits.get(b.max) * seconds);
        }
    }
}
