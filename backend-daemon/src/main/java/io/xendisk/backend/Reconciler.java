package io.xendisk.backend;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Runs one level-triggered task (it reads the current state, so only the
 * latest event matters) on a shared pool: never two runs at once, and any
 * number of triggers while a run is queued or under way make at most one
 * more run after it.
 *
 * <p>Each VBD has one for its handshake, so a frontend that writes its state
 * node in a loop costs a few reconciles, not one per event, and a reconcile
 * that waits (a ring being mapped, a kernel backend letting go) holds up only
 * its own VBD. A trigger never waits: watch listeners call it on the xenstore
 * connection's one event thread.
 */
public final class Reconciler implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(Reconciler.class);

    /**
     * Unbounded in threads but bounded by the VBDs: a task is never queued or
     * running twice, so a pool thread is busy only for a task with work to do.
     * A fixed pool would let a few VBDs stuck in their storage stall the rest.
     */
    private static final ExecutorService SHARED = Executors.newCachedThreadPool(new ThreadFactory() {
        private final AtomicInteger next = new AtomicInteger(1);

        @Override
        public Thread newThread(Runnable r) {
            Thread t = new Thread(r, "xenbus-reconcile-" + next.getAndIncrement());
            t.setDaemon(true);
            return t;
        }
    });

    /** Nothing to do. */
    private static final int IDLE = 0;
    /** A run is in the pool's queue and has not read anything yet: a trigger now needs nothing more. */
    private static final int QUEUED = 1;
    /** A run is under way and may have read the state already. */
    private static final int RUNNING = 2;
    /** A trigger came during the run: it may have missed that change, so run once more. */
    private static final int RUNNING_AGAIN = 3;
    private static final int CLOSED = 4;

    private final String name;
    private final Executor pool;
    private final Runnable task;
    private final AtomicInteger state = new AtomicInteger(IDLE);
    private final AtomicLong runs = new AtomicLong();

    /** A reconciler on the pool all VBDs share. */
    public Reconciler(String name, Runnable task) {
        this(name, SHARED, task);
    }

    /**
     * @param name names the task in logs, e.g. "vbd 5/51728"
     * @param pool runs the task; each run is a separate submission, so one busy
     *             task does not keep a thread from the others
     */
    public Reconciler(String name, Executor pool, Runnable task) {
        this.name = name;
        this.pool = pool;
        this.task = task;
    }

    /** Asks for a run after this call; returns at once. Does nothing once closed. */
    public void trigger() {
        for (;;) {
            int s = state.get();
            switch (s) {
                case IDLE -> {
                    if (state.compareAndSet(IDLE, QUEUED)) {
                        submit();
                        return;
                    }
                }
                case RUNNING -> {
                    if (state.compareAndSet(RUNNING, RUNNING_AGAIN)) {
                        return;
                    }
                }
                default -> {
                    return; // QUEUED, RUNNING_AGAIN: the coming run sees this change; CLOSED: nothing runs
                }
            }
        }
    }

    /**
     * No run starts after this; a run under way finishes (the task's own lock
     * is what a caller waits on). May be called from within the task.
     */
    @Override
    public void close() {
        state.set(CLOSED);
    }

    public boolean isClosed() {
        return state.get() == CLOSED;
    }

    /** How many times the task has run. */
    public long runs() {
        return runs.get();
    }

    private void submit() {
        try {
            pool.execute(this::run);
        } catch (RejectedExecutionException e) {
            LOG.warn("{}: cannot schedule its reconcile: {}", name, e.toString());
            state.compareAndSet(QUEUED, IDLE);
        }
    }

    private void run() {
        if (!state.compareAndSet(QUEUED, RUNNING)) {
            return; // closed while queued
        }
        try {
            runs.incrementAndGet();
            task.run();
        } catch (RuntimeException e) {
            LOG.error("{}: reconcile failed", name, e);
        } finally {
            afterRun();
        }
    }

    private void afterRun() {
        for (;;) {
            int s = state.get();
            if (s == RUNNING && state.compareAndSet(RUNNING, IDLE)) {
                return;
            }
            if (s == RUNNING_AGAIN && state.compareAndSet(RUNNING_AGAIN, QUEUED)) {
                // through the pool again rather than looping here, so a flooded task takes turns
                submit();
                return;
            }
            if (s == CLOSED) {
                return;
            }
        }
    }
}
