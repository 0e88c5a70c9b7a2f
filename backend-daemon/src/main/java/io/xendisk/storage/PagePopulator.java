package io.xendisk.storage;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Fills a fresh mapping of an image with the pages the page cache already
 * holds, on a thread of its own, so the ring threads do not fault them in one
 * by one. In a PV dom0 every first touch of a mapped page traps through Xen,
 * and each connection maps its image afresh: without this a new connection's
 * first pass over its disk ran at a fifth of a warm one (docs/BENCHMARKS.md).
 *
 * <p>Only pages that {@code mincore} reports in memory are populated
 * ({@code MADV_POPULATE_READ}, Linux 5.14): populating never reads the image
 * from its disk, never allocates a hole (on tmpfs a read fault in a hole
 * would), and never dirties a page. A run of resident pages of a shared
 * writable mapping on tmpfs comes out writable too (no write notification
 * there); on a disk filesystem the first write of a page still faults, for the
 * kernel's dirty tracking.
 *
 * <p>One daemon thread serves every mapping, a window of {@value #WINDOW_BYTES}
 * bytes at a time, in the order the mappings were opened. {@link Job#cancel}
 * (an engine's close, or a grow that replaces its mapping) waits for the
 * window in progress, so nothing is populated after the caller unmaps.
 * {@code -Dxen-disk-java.populate-mappings=false} turns it off.
 */
final class PagePopulator {
    private static final Logger LOG = LogManager.getLogger(PagePopulator.class);
    static final String PROPERTY = "xen-disk-java.populate-mappings";
    private static final long WINDOW_BYTES = 2L << 20;
    private static final LinkedBlockingQueue<Job> QUEUE = new LinkedBlockingQueue<>();
    private static Thread thread;
    /** The kernel refused MADV_POPULATE_READ (older than 5.14): nothing more is tried. */
    private static volatile boolean unsupported;

    private PagePopulator() {
    }

    /** One mapping to populate; {@link #cancel} before unmapping it. */
    static final class Job {
        private final long address;
        private final long length;
        private final String what;
        private final CountDownLatch done = new CountDownLatch(1);
        private boolean cancelled;
        /** Pages populated so far. */
        private long pages;

        private Job(long address, long length, String what) {
            this.address = address;
            this.length = length;
            this.what = what;
        }

        /** No window is populated after this returns. */
        synchronized void cancel() {
            cancelled = true;
        }

        /** Waits until the whole mapping was populated, cancelled, or skipped; false on timeout. */
        boolean await(long millis) throws InterruptedException {
            return done.await(millis, TimeUnit.MILLISECONDS);
        }

        synchronized long pagesPopulated() {
            return pages;
        }

        /** One window under the job's lock, so cancel() waits for it; false when the job is over. */
        private synchronized boolean window(long off, Memory vec) {
            if (cancelled || unsupported || off >= length) {
                return false;
            }
            long len = Math.min(WINDOW_BYTES, length - off);
            Pointer base = new Pointer(address + off);
            if (Posix.C.mincore(base, len, vec) != 0) {
                return false; // unmapped under us (an engine that forgot to cancel): stop
            }
            int n = (int) ((len + Posix.PAGE_SIZE - 1) / Posix.PAGE_SIZE);
            for (int i = 0; i < n; ) {
                if ((vec.getByte(i) & 1) == 0) {
                    i++;
                    continue;
                }
                int j = i;
                while (j < n && (vec.getByte(j) & 1) != 0) {
                    j++;
                }
                long runOff = (long) i * Posix.PAGE_SIZE;
                long runLen = Math.min((long) j * Posix.PAGE_SIZE, len) - runOff;
                if (Posix.C.madvise(new Pointer(address + off + runOff), runLen, Posix.MADV_POPULATE_READ) != 0) {
                    int errno = Posix.errno();
                    if (errno == Posix.EINVAL) {
                        unsupported = true;
                        LOG.info("the kernel does not populate mappings (MADV_POPULATE_READ needs Linux 5.14):"
                                + " first touches of mapped images fault one page at a time");
                    }
                    return false;
                }
                pages += j - i;
                i = j;
            }
            return true;
        }

        private void run() {
            Memory vec = new Memory(WINDOW_BYTES / Posix.PAGE_SIZE);
            try {
                long t0 = System.nanoTime();
                for (long off = 0; window(off, vec); off += WINDOW_BYTES) {
                    // each window releases the lock in between: a cancel gets in at once
                }
                // once per mapping (a connection): what a new connection's first pass no longer faults in
                LOG.info("{}: {} pages the page cache holds mapped in, in {} ms", what, pagesPopulated(),
                        (System.nanoTime() - t0) / 1_000_000);
            } finally {
                done.countDown();
            }
        }
    }

    /**
     * Queues the mapping {@code [address, address + length)} of {@code what}
     * (for the log); the job is returned to be cancelled before the unmap. With
     * the option off it is over at once.
     */
    static Job populate(long address, long length, String what) {
        Job job = new Job(address, length, what);
        if ("false".equalsIgnoreCase(System.getProperty(PROPERTY)) || unsupported) {
            job.done.countDown();
            return job;
        }
        synchronized (PagePopulator.class) {
            if (thread == null) {
                thread = new Thread(PagePopulator::serve, "mapping-populate");
                thread.setDaemon(true);
                thread.start();
            }
        }
        QUEUE.add(job);
        return job;
    }

    /** The address of a direct buffer's memory (a JDK mapping of a chunk). */
    static long address(java.nio.ByteBuffer direct) {
        return Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    }

    private static void serve() {
        while (true) {
            Job job;
            try {
                job = QUEUE.take();
            } catch (InterruptedException e) {
                return;
            }
            try {
                job.run();
            } catch (RuntimeException | Error e) {
                LOG.warn("{}: populating its mapping failed: {}", job.what, e.toString());
            }
        }
    }
}
