package io.xendisk.guest;

import java.util.concurrent.TimeUnit;

/**
 * Keeps up to a queue depth of requests in flight on a {@link BlkfrontIo}:
 * fills free slots from {@link #issue}, publishes them with one push (one
 * notification at most) per refill, and hands each response to
 * {@link #completed}. Records every request's latency. Allocates nothing
 * per request.
 */
abstract class QueueDriver implements BlkfrontIo.Completion {
    /** A backend silent this long with requests outstanding is declared stuck. */
    private static final long STUCK_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** While the device closes, give outstanding requests this long. */
    private static final long CLOSING_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final long WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    protected final IoContext ctx;
    protected final BlkfrontIo io;
    protected final LatencyHistogram latency = new LatencyHistogram();
    protected long requests;
    protected long bytes;
    protected long errors;
    protected int firstErrorStatus;
    protected long firstErrorSector = -1;
    private long startNanos;
    private long endNanos;

    QueueDriver(IoContext ctx) {
        this.ctx = ctx;
        this.io = ctx.io();
    }

    /** True while there is another request to issue. */
    protected abstract boolean hasNext();

    /** Prepares the slot's data and queues its request with {@code io.queue}. */
    protected abstract void issue(int slot);

    /** Called for each response before the slot is freed; {@code status} 0 is success. */
    protected void completed(int slot, int status) {
    }

    /** Bytes the request in {@code slot} moves, for the throughput figure. */
    protected abstract int bytesOf(int slot);

    /** Runs until {@link #hasNext()} is false and every request is answered. */
    final void run(int queueDepth) throws InterruptedException {
        int qd = Math.max(1, Math.min(queueDepth, io.slots()));
        startNanos = System.nanoTime();
        long lastProgress = startNanos;
        boolean stopping = false;
        for (;;) {
            if (!stopping && ctx.stop().getAsBoolean()) {
                stopping = true;
                lastProgress = System.nanoTime();
            }
            int queued = 0;
            while (!stopping && io.outstanding() < qd && hasNext()) {
                int slot = io.acquire();
                if (slot < 0) {
                    break;
                }
                issue(slot);
                queued++;
            }
            if (queued > 0) {
                io.push();
            }
            if (io.outstanding() == 0) {
                break;
            }
            int n = io.complete(this, WAIT_NANOS);
            long now = System.nanoTime();
            if (n > 0) {
                lastProgress = now;
            } else if (now - lastProgress > (stopping ? CLOSING_NANOS : STUCK_NANOS)) {
                throw new BlkfrontException(ctx.device() + ": " + io.outstanding() + " requests unanswered for "
                        + TimeUnit.NANOSECONDS.toSeconds(now - lastProgress) + " s"
                        + (stopping ? " while the device closes" : " (is the backend serving the ring?)"));
            }
        }
        endNanos = System.nanoTime();
        if (stopping) {
            throw new BlkfrontException(ctx.device() + ": stopped, the device is closing");
        }
    }

    @Override
    public final void done(int slot, int status, long latencyNanos) {
        latency.record(latencyNanos);
        requests++;
        if (status != 0) {
            if (errors == 0) {
                firstErrorStatus = status;
            }
            errors++;
        } else {
            bytes += bytesOf(slot);
        }
        completed(slot, status);
    }

    double seconds() {
        return (endNanos - startNanos) / 1e9;
    }

    /**
     * One summary line: {@code NAME key=value ...} with bytes, seconds, MB/s
     * (10^6 bytes), IOPS and latency percentiles in microseconds.
     */
    String summary(String name, String params) {
        double s = Math.max(seconds(), 1e-9);
        return String.format(java.util.Locale.ROOT,
                "%s %s requests=%d bytes=%d seconds=%.3f MB/s=%.1f IOPS=%.0f lat_p50_us=%.1f lat_p99_us=%.1f"
                        + " lat_max_us=%.1f errors=%d",
                name, params, requests, bytes, s, bytes / s / 1e6, requests / s,
                latency.percentile(50) / 1e3, latency.percentile(99) / 1e3, latency.max() / 1e3, errors);
    }
}
