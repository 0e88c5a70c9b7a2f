package io.xendisk.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The coalescing of triggers into runs, and its guarantees: one run at a time, the last trigger never lost. */
class ReconcilerTest {
    private static final int TRIGGERS = 100_000;

    private final List<Reconciler> made = new ArrayList<>();

    @AfterEach
    void closeAll() {
        made.forEach(Reconciler::close);
    }

    private Reconciler reconciler(String name, Runnable task) {
        Reconciler r = new Reconciler(name, task);
        made.add(r);
        return r;
    }

    @Test
    void manyTriggersDuringASlowRunMakeOneMoreRun() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        Reconciler r = reconciler("slow", () -> {
            if (runs.incrementAndGet() == 1) {
                started.countDown();
                await(release);
            }
        });
        r.trigger();
        assertTrue(started.await(10, TimeUnit.SECONDS), "first run started");
        for (int i = 0; i < TRIGGERS; i++) {
            r.trigger();
        }
        release.countDown();
        awaitQuiet(r, runs);
        assertTrue(runs.get() >= 2, "a trigger during the run causes a run after it");
        assertTrue(runs.get() <= 3, TRIGGERS + " triggers during one run made " + runs.get() + " runs");
        int before = runs.get();
        r.trigger();
        awaitQuiet(r, runs);
        assertEquals(before + 1, runs.get(), "a trigger after the last run makes one more");
    }

    /**
     * Triggers from several threads race the end of each run: whatever the
     * interleaving, the last run reads the last value written, and no two runs overlap.
     */
    @Test
    void theLastTriggerIsNeverLostAndRunsNeverOverlap() throws Exception {
        AtomicLong written = new AtomicLong();
        AtomicLong seen = new AtomicLong(-1);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        Reconciler r = reconciler("racy", () -> {
            if (inside.incrementAndGet() != 1) {
                overlaps.incrementAndGet();
            }
            runs.incrementAndGet();
            seen.set(written.get());
            inside.decrementAndGet();
        });
        int threads = 4;
        ExecutorService writers = Executors.newFixedThreadPool(threads);
        try {
            for (int t = 0; t < threads; t++) {
                writers.execute(() -> {
                    for (int i = 0; i < TRIGGERS / threads; i++) {
                        written.incrementAndGet(); // the change, then the event telling of it
                        r.trigger();
                    }
                });
            }
        } finally {
            writers.shutdown();
            assertTrue(writers.awaitTermination(60, TimeUnit.SECONDS));
        }
        await(() -> seen.get() == TRIGGERS, () -> "the last run saw " + seen.get() + " of " + TRIGGERS + " changes");
        assertEquals(0, overlaps.get(), "runs of one reconciler overlapped");
        System.out.printf("%d triggers from %d threads: %d runs%n", TRIGGERS, threads, runs.get());
    }

    @Test
    void oneBlockedReconcilerDoesNotHoldUpAnother() throws Exception {
        CountDownLatch aStarted = new CountDownLatch(1);
        CountDownLatch releaseA = new CountDownLatch(1);
        CountDownLatch bRan = new CountDownLatch(1);
        Reconciler a = reconciler("a", () -> {
            aStarted.countDown();
            await(releaseA);
        });
        Reconciler b = reconciler("b", bRan::countDown);
        try {
            a.trigger();
            assertTrue(aStarted.await(10, TimeUnit.SECONDS), "a started");
            b.trigger();
            assertTrue(bRan.await(10, TimeUnit.SECONDS), "b ran while a was blocked");
        } finally {
            releaseA.countDown();
        }
    }

    @Test
    void nothingRunsAfterClose() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        Reconciler r = reconciler("closing", () -> {
            runs.incrementAndGet();
            started.countDown();
            await(release);
        });
        r.trigger();
        assertTrue(started.await(10, TimeUnit.SECONDS));
        r.trigger(); // would run again after this run
        r.close();
        release.countDown();
        r.trigger();
        Thread.sleep(100);
        assertEquals(1, runs.get(), "a closed reconciler ran again");
        assertTrue(r.isClosed());
    }

    @Test
    void aFailingRunDoesNotStopLaterOnes() {
        AtomicInteger runs = new AtomicInteger();
        Reconciler r = reconciler("failing", () -> {
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("expected by the test");
            }
        });
        r.trigger();
        await(() -> runs.get() == 1, () -> "first run");
        r.trigger();
        await(() -> runs.get() == 2, () -> "a run after the failed one");
    }

    /** Waits until the runs stop coming. */
    private static void awaitQuiet(Reconciler r, AtomicInteger runs) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int last = -1;
        while (System.nanoTime() < end) {
            int now = runs.get();
            if (now == last && r.runs() == now) {
                return;
            }
            last = now;
            Thread.sleep(100);
        }
        throw new AssertionError("runs did not stop: " + runs.get());
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(BooleanSupplier cond, Supplier<String> what) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("gave up waiting: " + what.get());
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }
}
