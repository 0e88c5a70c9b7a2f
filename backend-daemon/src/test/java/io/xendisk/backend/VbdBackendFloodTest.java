package io.xendisk.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.blkif.XenbusState;
import io.xendisk.xen.sim.SimXenstored;
import io.xendisk.xen.store.XenStoreClient;

/**
 * Two VBDs on one dom0 xenstore connection, as in the daemon: what one
 * frontend does to its state node (write it in a loop, or leave its backend
 * stuck in a connect) must not hold up the other's handshake.
 */
class VbdBackendFloodTest {
    private static final int DEVID = 51728;
    private static final int WRITES = 100_000;
    private static final int WRITERS = 4;
    /** Far beyond a handshake (milliseconds), well within the 10 s libxl gives a device. */
    private static final long CONNECT_BOUND_MS = 10_000;
    private static final int CYCLES = 10;

    private Path dir;
    private SimXenstored xenstored;
    private XenStoreClient dom0;
    private Disk a;
    private Disk b;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjflood");
        xenstored = SimXenstored.start(dir.resolve("socket"));
        dom0 = XenStoreClient.connect(dir.resolve("socket"));
        a = new Disk(5);
        b = new Disk(6);
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Disk d : new Disk[] {a, b}) {
            if (d != null) {
                d.close();
            }
        }
        dom0.close();
        xenstored.close();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aFrontendWritingItsStateInALoopDoesNotHoldUpAnotherVbd() throws Exception {
        a.connector.connectMillis = 2; // mapping a ring takes a while
        a.awaitBackendState(XenbusState.INIT_WAIT);
        b.awaitBackendState(XenbusState.INIT_WAIT);
        a.frontendPublishesRing();
        b.frontendPublishesRing();
        b.handshakes(1); // the first is slower for reasons of its own (classes loaded, code compiled)
        long[] quiet = b.handshakes(CYCLES);

        AtomicInteger written = new AtomicInteger();
        ExecutorService flood = Executors.newFixedThreadPool(WRITERS);
        long floodStart = System.nanoTime();
        for (int w = 0; w < WRITERS; w++) {
            flood.execute(() -> {
                // Initialised and Initialising in turn: each reconcile of A connects or offers again
                for (int i = 0; i < WRITES / WRITERS; i++) {
                    a.guest.write(a.fe + "/state", (i & 1) == 0 ? "3" : "1");
                    written.incrementAndGet();
                }
            });
        }
        flood.shutdown();
        await(() -> written.get() >= 1_000, "the flood under way");
        int writtenBefore = written.get();
        long[] flooded = b.handshakes(CYCLES);
        int writtenDuring = written.get() - writtenBefore;
        assertTrue(flood.awaitTermination(300, TimeUnit.SECONDS), "the flood ended");
        long floodMs = (System.nanoTime() - floodStart) / 1_000_000;
        a.guest.write(a.fe + "/state", "3"); // the last word: A must end Connected
        a.awaitBackendState(XenbusState.CONNECTED);
        awaitQuiet(a.vbd);
        long reconciles = a.vbd.reconciles();

        System.out.printf("vbd B connect (ms) without a flood: %s, median %.2f, max %.2f; while A's frontend wrote its"
                        + " state %d times: %s, median %.2f, max %.2f (%d of A's writes during B's %d handshakes)%n",
                ms(quiet), median(quiet), max(quiet), WRITES, ms(flooded), median(flooded), max(flooded), writtenDuring,
                CYCLES);
        System.out.printf("vbd A: %d writes of its frontend state in %d ms, %d reconciles, %d ring connects%n",
                WRITES + 1, floodMs, reconciles, a.connector.connects.get());
        for (long t : flooded) {
            assertTrue(t < CONNECT_BOUND_MS * 1_000_000L, "vbd B connected in " + t / 1_000_000 + " ms");
        }
        assertTrue(reconciles < WRITES / 10, WRITES + " writes of A's frontend state made " + reconciles + " reconciles");
    }

    @Test
    void aReconcileStuckInOneVbdDoesNotHoldUpAnother() throws Exception {
        a.connector.gate = new CountDownLatch(1);
        a.awaitBackendState(XenbusState.INIT_WAIT);
        b.awaitBackendState(XenbusState.INIT_WAIT);
        a.frontendPublishesRing();
        a.guest.write(a.fe + "/state", "3");
        assertTrue(a.connector.entered.await(10, TimeUnit.SECONDS), "A's reconcile is in its connect");
        long stuckAt = a.vbd.reconciles();
        for (int i = 0; i < 1_000; i++) {
            a.guest.write(a.fe + "/state", (i & 1) == 0 ? "4" : "3");
        }
        a.guest.write(a.fe + "/state", "4");

        b.frontendPublishesRing();
        long t = b.handshakes(1)[0];
        System.out.printf("vbd B connect while A's reconcile is stuck in its connect: %.2f ms%n", t / 1e6);
        assertTrue(t < CONNECT_BOUND_MS * 1_000_000L);

        a.connector.gate.countDown();
        a.awaitBackendState(XenbusState.CONNECTED);
        awaitQuiet(a.vbd);
        long after = a.vbd.reconciles() - stuckAt;
        System.out.printf("vbd A: %d reconciles after the stuck one, for 1001 writes made meanwhile%n", after);
        assertTrue(after <= 3, "1001 writes during a stuck reconcile made " + after + " reconciles after it");
    }

    /** Waits until no reconcile has started for a while. */
    private static void awaitQuiet(VbdBackend vbd) throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 100 && vbd.reconciles() != last; i++) {
            last = vbd.reconciles();
            Thread.sleep(100);
        }
    }

    private static String ms(long[] nanos) {
        return Arrays.toString(Arrays.stream(nanos).mapToObj(n -> String.format("%.2f", n / 1e6)).toArray());
    }

    private static double median(long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        return s[s.length / 2] / 1e6;
    }

    private static double max(long[] nanos) {
        return Arrays.stream(nanos).max().orElse(0) / 1e6;
    }

    private static void await(BooleanSupplier cond, String what) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("gave up waiting for " + what);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** One guest's disk: its toolstack nodes, its frontend (the guest's own connection) and our backend. */
    private final class Disk {
        final int domid;
        final String be;
        final String fe;
        final XenStoreClient guest;
        final Connector connector = new Connector();
        final AtomicLong connectedAt = new AtomicLong();
        final VbdBackend vbd;

        Disk(int domid) {
            this.domid = domid;
            this.be = "/local/domain/0/backend/vbd/" + domid + "/" + DEVID;
            this.fe = "/local/domain/" + domid + "/device/vbd/" + DEVID;
            dom0.introduce(domid, 0, 1);
            guest = XenStoreClient.connect(dir.resolve("domain/" + domid + "/socket"));
            toolstackCreatesDevice();
            vbd = new VbdBackend(dom0, be, domid, DEVID, new DiskInfo(2048, 512, false, true), connector,
                    new VbdBackend.Listener() {
                        @Override
                        public void onStateChange(VbdBackend v, XenbusState s) {
                            if (s == XenbusState.CONNECTED) {
                                connectedAt.compareAndSet(0, System.nanoTime());
                            }
                        }
                    });
            vbd.start();
        }

        /** As libxl__device_generic_add. */
        private void toolstackCreatesDevice() {
            LibxlDevice.create(dom0, fe, be, domid, DEVID);
        }

        void frontendPublishesRing() {
            guest.transaction(t -> {
                t.write(fe + "/ring-ref", "8");
                t.write(fe + "/event-channel", "9");
                t.write(fe + "/protocol", "x86_64-abi");
                return null;
            });
        }

        /**
         * Connects {@code n} times from InitWait, closing and starting over in between
         * (a guest rebooting); returns how long each connect took, from the frontend's
         * Initialised to our Connected.
         */
        long[] handshakes(int n) {
            long[] took = new long[n];
            for (int i = 0; i < n; i++) {
                connectedAt.set(0);
                long start = System.nanoTime();
                guest.write(fe + "/state", "3");
                await(() -> connectedAt.get() != 0, "vbd " + domid + " Connected (backend " + backendState() + ")");
                took[i] = connectedAt.get() - start;
                guest.write(fe + "/state", "6");
                awaitBackendState(XenbusState.CLOSED);
                guest.write(fe + "/state", "1");
                awaitBackendState(XenbusState.INIT_WAIT);
            }
            return took;
        }

        String backendState() {
            return dom0.tryRead(be + "/state").orElse(null);
        }

        void awaitBackendState(XenbusState s) {
            await(() -> s.wire().equals(backendState()), "vbd " + domid + " backend " + s + " (is " + backendState()
                    + ", last error " + vbd.lastError() + ")");
        }

        void close() {
            if (connector.gate != null) {
                connector.gate.countDown();
            }
            vbd.close();
            guest.close();
        }
    }

    /** A data path that only counts, and can take its time or stay stuck in connect. */
    private static final class Connector implements RingConnector {
        final AtomicInteger connects = new AtomicInteger();
        final CountDownLatch entered = new CountDownLatch(1);
        volatile long connectMillis;
        volatile CountDownLatch gate;

        @Override
        public void connect(FrontendRing ring) throws Exception {
            entered.countDown();
            CountDownLatch g = gate;
            if (g != null) {
                g.await();
            }
            if (connectMillis > 0) {
                Thread.sleep(connectMillis);
            }
            connects.incrementAndGet();
        }

        @Override
        public void disconnect() {
        }
    }
}
