package io.xendisk.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.blkif.Abi;
import io.xendisk.xen.sim.SimXenstored;
import io.xendisk.xen.store.XenStoreClient;

/**
 * The backend handshake against our xenstored, with a scripted frontend that
 * connects as the guest domain (so xenstore permissions apply as on Xen) and
 * a toolstack that lays out the nodes the way libxl 4.17 does.
 */
class VbdBackendTest {
    private static final int DOMID = 5;
    private static final int DEVID = 51728;
    private static final String BE = "/local/domain/0/backend/vbd/" + DOMID + "/" + DEVID;
    private static final String FE = "/local/domain/" + DOMID + "/device/vbd/" + DEVID;

    private Path dir;
    private SimXenstored xenstored;
    private XenStoreClient dom0;
    private XenStoreClient guest;
    private final RecordingConnector connector = new RecordingConnector();
    private final List<String> teardowns = new CopyOnWriteArrayList<>();
    private VbdBackend vbd;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjvbd");
        xenstored = SimXenstored.start(dir.resolve("socket"));
        dom0 = XenStoreClient.connect(dir.resolve("socket"));
        dom0.introduce(DOMID, 0, 1);
        guest = XenStoreClient.connect(dir.resolve("domain/" + DOMID + "/socket"));
        toolstackCreatesDevice();
        vbd = new VbdBackend(dom0, BE, DOMID, DEVID, new DiskInfo(2048, 512, false, true), connector, listener);
        vbd.start();
    }

    private final VbdBackend.Listener listener = new VbdBackend.Listener() {
        @Override
        public void onTeardown(VbdBackend v, String reason) {
            teardowns.add(reason);
        }
    };

    /** Replaces the backend of setUp (which offers BASIC) by one offering {@code features}. */
    private void backendOffering(BlkifFeatures features) {
        vbd.close();
        vbd = new VbdBackend(dom0, BE, DOMID, DEVID, new DiskInfo(2048, 512, false, true), connector, listener, features);
        vbd.start();
    }

    /** What Linux blkfront writes for several queues: the count, then ring-ref and event-channel under queue-N/. */
    private void frontendPublishesQueues(int queues) {
        guest.transaction(t -> {
            t.write(FE + "/multi-queue-num-queues", Integer.toString(queues));
            for (int q = 0; q < queues; q++) {
                t.write(FE + "/queue-" + q + "/ring-ref", Integer.toString(8 + 2 * q));
                t.write(FE + "/queue-" + q + "/event-channel", Integer.toString(9 + 2 * q));
            }
            t.write(FE + "/protocol", "x86_64-abi");
            return null;
        });
    }

    @Test
    void aMultiQueueFrontendGetsOneRingPerQueue() {
        backendOffering(BlkifFeatures.DEFAULT);
        await(() -> String.valueOf(BlkifFeatures.DEFAULT_QUEUES).equals(be("multi-queue-max-queues")),
                "multi-queue-max-queues offered");
        awaitBackendState(2);
        frontendPublishesQueues(3);
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        FrontendRing r = connector.connected.get(0);
        assertEquals(List.of(new FrontendRing.Queue(List.of(8), 9), new FrontendRing.Queue(List.of(10), 11),
                new FrontendRing.Queue(List.of(12), 13)), r.queues());
        assertEquals(Abi.X86_64, r.abi());
    }

    @Test
    void moreQueuesThanOfferedIsRefusedNamingTheNode() {
        backendOffering(BlkifFeatures.DEFAULT.withQueues(2));
        await(() -> "2".equals(be("multi-queue-max-queues")), "multi-queue-max-queues offered");
        awaitBackendState(2);
        frontendPublishesQueues(3);
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(connector.connected.isEmpty());
        assertTrue(vbd.lastError().contains(FE + "/multi-queue-num-queues is 3 but this backend offers at most 2"),
                vbd.lastError());
    }

    @Test
    void aQueueWithoutItsEventChannelIsRefusedNamingTheNode() {
        backendOffering(BlkifFeatures.DEFAULT);
        awaitBackendState(2);
        frontendPublishesQueues(2);
        guest.rm(FE + "/queue-1/event-channel");
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(connector.connected.isEmpty());
        assertTrue(vbd.lastError().contains(FE + "/queue-1/event-channel is missing"), vbd.lastError());
    }

    @Test
    void aOneQueueBackendRemovesTheQueueOfferAnotherBackendLeft() {
        vbd.close();
        dom0.write(BE + "/multi-queue-max-queues", "8"); // as kernel blkback does at its probe
        backendOffering(BlkifFeatures.BASIC);
        await(() -> be("multi-queue-max-queues") == null, "blkback's multi-queue-max-queues removed");
    }

    @Test
    void discardIsOfferedAtConnectWithGranularityAndAlignment() {
        vbd.close();
        vbd = new VbdBackend(dom0, BE, DOMID, DEVID, new DiskInfo(2048, 512, false, true, 65536), connector, listener);
        vbd.start();
        awaitBackendState(2);
        frontendPublishesRing("8", "9", null);
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        assertEquals("1", be("feature-discard"));
        assertEquals("65536", be("discard-granularity"));
        assertEquals("0", be("discard-alignment"));
        assertNull(be("discard-secure"), "no engine promises a secure discard");
    }

    @Test
    void aDiskWithoutDiscardRemovesTheOfferAnotherBackendLeft() {
        // as kernel blkback writes at its connect, before we took the device over
        dom0.write(BE + "/feature-discard", "1");
        dom0.write(BE + "/discard-granularity", "4096");
        dom0.write(BE + "/discard-alignment", "0");
        dom0.write(BE + "/discard-secure", "1");
        awaitBackendState(2);
        frontendPublishesRing("8", "9", null);
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        for (String n : List.of("feature-discard", "discard-granularity", "discard-alignment", "discard-secure")) {
            assertNull(be(n), n + " removed");
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        vbd.close();
        guest.close();
        dom0.close();
        xenstored.close();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** What libxl__device_generic_add writes, in one transaction. */
    private void toolstackCreatesDevice() {
        LibxlDevice.create(dom0, FE, BE, DOMID, DEVID);
    }

    private void frontendPublishesRing(String ringRef, String port, String protocol) {
        guest.transaction(t -> {
            t.write(FE + "/ring-ref", ringRef);
            t.write(FE + "/event-channel", port);
            if (protocol != null) {
                t.write(FE + "/protocol", protocol);
            }
            return null;
        });
    }

    private String be(String node) {
        return dom0.tryRead(BE + "/" + node).orElse(null);
    }

    private void awaitBackendState(int expected) {
        await(() -> String.valueOf(expected).equals(be("state")),
                "backend state " + expected + " (is " + be("state") + ", last error " + vbd.lastError() + ")");
    }

    private static void await(BooleanSupplier cond, String what) {
        long end = System.nanoTime() + 10_000_000_000L;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("gave up waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void fullHandshakeThenCloseThenReconnect() {
        awaitBackendState(2);
        assertEquals("1", be("feature-flush-cache"));
        assertEquals(1, connector.freshRings.get(), "offering the device voids what was kept to resume old rings");
        // the guest can read what we published
        assertEquals("2", guest.read(BE + "/state"));

        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        assertEquals("2048", be("sectors"));
        assertEquals("512", be("sector-size"));
        assertEquals("0", be("info"));
        FrontendRing r = connector.connected.get(0);
        assertEquals(List.of(8), r.ringRefs());
        assertEquals(9, r.eventChannel());
        assertEquals(Abi.X86_64, r.abi());
        assertEquals(DOMID, r.frontendDomid());
        guest.write(FE + "/state", "4");

        guest.write(FE + "/state", "5");
        awaitBackendState(5);
        guest.write(FE + "/state", "6");
        awaitBackendState(6);
        assertEquals(1, connector.disconnects.get());

        // guest reboot: the frontend starts over from Initialising
        guest.write(FE + "/state", "1");
        awaitBackendState(2);
        assertEquals(2, connector.freshRings.get(), "offered again");
        frontendPublishesRing("10", "11", "x86_32-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        assertEquals(2, connector.connected.size());
        assertEquals(List.of(10), connector.connected.get(1).ringRefs());
        assertEquals(Abi.X86_32, connector.connected.get(1).abi());
        assertTrue(teardowns.isEmpty());
    }

    @Test
    void frontendThatSkipsInitialisedAndRepeatsItselfConnectsOnce() {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", null);
        guest.write(FE + "/state", "4"); // Initialised never seen
        awaitBackendState(4);
        guest.write(FE + "/state", "4");
        guest.write(FE + "/state", "4");
        vbd.reconcile();
        vbd.reconcile();
        assertEquals(1, connector.connected.size());
        assertEquals(Abi.X86_64, connector.connected.get(0).abi(), "no protocol node = native");
        // Closed straight from Connected (no Closing in between)
        guest.write(FE + "/state", "6");
        awaitBackendState(6);
        assertEquals(1, connector.disconnects.get());
    }

    @Test
    void toolstackDetachOfConnectedDeviceWaitsForFrontendThenCloses() {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        guest.write(FE + "/state", "4");
        // libxl__initiate_device_generic_remove
        dom0.transaction(t -> {
            t.write(BE + "/online", "0");
            t.write(BE + "/state", "5");
            return null;
        });
        await(() -> connector.disconnects.get() == 1, "ring released");
        assertEquals("5", be("state"), "stays Closing while the frontend is connected");
        guest.write(FE + "/state", "6");
        awaitBackendState(6);
        await(() -> !teardowns.isEmpty(), "teardown");
        assertTrue(teardowns.get(0).contains("online=0"), teardowns.get(0));
        assertTrue(vbd.isTornDown());
    }

    @Test
    void aRingThreadStuckInTheStorageHoldsTheBackendInClosingUntilItReturns() throws Exception {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        connector.stuck = 1; // the next disconnect leaves a thread in the storage
        guest.write(FE + "/state", "5");
        awaitBackendState(5);
        guest.write(FE + "/state", "6");
        await(() -> vbd.lastError() != null && vbd.lastError().contains("still in the storage"), "the reason named");
        Thread.sleep(200);
        assertEquals("5", be("state"), "not Closed while our thread may still write the guest's pages");
        connector.threadsLeft();
        awaitBackendState(6);
        assertTrue(teardowns.isEmpty());
    }

    @Test
    void aFrontendResetWithAStuckRingIsOfferedAgainOnlyWhenTheThreadLeaves() throws Exception {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        connector.stuck = 1;
        guest.write(FE + "/state", "1"); // a reset (kexec, driver reload) straight from Connected
        await(() -> vbd.lastError() != null && vbd.lastError().contains("still in the storage"), "the reason named");
        Thread.sleep(200);
        assertEquals("5", be("state"), "not InitWait while our thread may still write the old ring's pages");
        connector.threadsLeft();
        awaitBackendState(2);
        assertTrue(teardowns.isEmpty());
    }

    @Test
    void aToolstackDetachWithAStuckRingTearsDownOnlyWhenTheThreadLeaves() throws Exception {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        connector.stuck = 1;
        guest.write(FE + "/state", "6"); // the frontend is gone first
        await(() -> vbd.lastError() != null && vbd.lastError().contains("still in the storage"), "the reason named");
        dom0.write(BE + "/online", "0");
        vbd.reconcile();
        Thread.sleep(200);
        assertEquals("5", be("state"));
        assertTrue(teardowns.isEmpty(), "the VBD stays, in Closing, listed with its reason");
        connector.threadsLeft();
        awaitBackendState(6);
        await(() -> !teardowns.isEmpty(), "teardown once the thread left");
    }

    @Test
    void toolstackDetachBeforeFrontendConnectedClosesAtOnce() {
        awaitBackendState(2);
        dom0.transaction(t -> {
            t.write(BE + "/online", "0");
            t.write(BE + "/state", "5");
            return null;
        });
        awaitBackendState(6);
        await(() -> !teardowns.isEmpty(), "teardown");
        assertEquals(0, connector.connected.size());
    }

    @Test
    void toolstackDetachWithSilentFrontendIsForcedClosedAfterGrace() {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        guest.write(FE + "/state", "4");
        dom0.transaction(t -> {
            t.write(BE + "/online", "0");
            t.write(BE + "/state", "5");
            return null;
        });
        // the guest never answers; libxl waits 10 s for state 6
        awaitBackendState(6);
        await(() -> !teardowns.isEmpty(), "teardown");
    }

    @Test
    void frontendDirectoryVanishingTearsDown() {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        dom0.rm("/local/domain/" + DOMID + "/device");
        await(() -> !teardowns.isEmpty(), "teardown");
        assertTrue(teardowns.get(0).contains(FE), teardowns.get(0));
        assertEquals(1, connector.disconnects.get());
    }

    @Test
    void backendDirectoryVanishingTearsDownWithoutRecreatingIt() {
        awaitBackendState(2);
        dom0.rm(BE);
        await(() -> !teardowns.isEmpty(), "teardown");
        guest.write(FE + "/state", "3");
        vbd.reconcile();
        assertFalse(dom0.exists(BE), "a torn-down backend must not write into a removed directory");
    }

    @Test
    void garbageFrontendStateIsIgnored() {
        awaitBackendState(2);
        guest.write(FE + "/state", "banana");
        vbd.reconcile();
        assertEquals("2", be("state"));
        assertNull(vbd.lastError());
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
    }

    @Test
    void unknownProtocolFailsTheHandshakeWithANamedError() {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "arm-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertNotNull(vbd.lastError());
        assertTrue(vbd.lastError().contains(FE + "/protocol is 'arm-abi'"), vbd.lastError());
        assertTrue(connector.connected.isEmpty());
    }

    @Test
    void badRingRefAndMissingEventChannelAreNamed() {
        awaitBackendState(2);
        guest.write(FE + "/ring-ref", "-3");
        guest.write(FE + "/event-channel", "9");
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains(FE + "/ring-ref is '-3'"), vbd.lastError());
        // the frontend gives up and starts again, this time forgetting the event channel
        guest.write(FE + "/state", "6");
        awaitBackendState(6);
        guest.rm(FE + "/event-channel");
        guest.write(FE + "/ring-ref", "8");
        guest.write(FE + "/state", "1");
        awaitBackendState(2);
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains(FE + "/event-channel is missing"), vbd.lastError());
    }

    @Test
    void multiPageRingBeyondWhatWeOfferIsRefused() {
        awaitBackendState(2);
        assertEquals(Optional.empty(), dom0.tryRead(BE + "/max-ring-page-order"));
        guest.write(FE + "/ring-page-order", "2");
        guest.write(FE + "/ring-ref0", "8");
        guest.write(FE + "/event-channel", "9");
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains("ring-page-order is 2"), vbd.lastError());
    }

    @Test
    void aSixteenPageRingIsReadPageByPage() {
        backendOffering(BlkifFeatures.DEFAULT);
        awaitBackendState(2);
        assertEquals("4", be("max-ring-page-order"));
        guest.transaction(t -> {
            t.write(FE + "/ring-page-order", "4");
            for (int i = 0; i < 16; i++) {
                t.write(FE + "/ring-ref" + i, Integer.toString(100 + i));
            }
            t.write(FE + "/event-channel", "9");
            return null;
        });
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        List<Integer> want = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) {
            want.add(100 + i);
        }
        assertEquals(want, connector.connected.get(0).ringRefs(), "ring-ref0..15 in order");
    }

    @Test
    void aMultiPageRingWithAMissingOrBadPageIsRefusedNamingTheNode() {
        backendOffering(BlkifFeatures.DEFAULT);
        awaitBackendState(2);
        guest.write(FE + "/ring-page-order", "2");
        guest.write(FE + "/ring-ref0", "8");
        guest.write(FE + "/ring-ref1", "10");
        guest.write(FE + "/ring-ref3", "11"); // ring-ref2 forgotten
        guest.write(FE + "/event-channel", "9");
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains(FE + "/ring-ref2 is missing"), vbd.lastError());
        assertTrue(connector.connected.isEmpty(), "no ring mapped");
        // the frontend starts again with a page that is no grant reference, and a one-page ring-ref
        guest.write(FE + "/state", "6");
        awaitBackendState(6);
        guest.write(FE + "/ring-ref2", "x12");
        guest.write(FE + "/ring-ref", "7");
        guest.write(FE + "/state", "1");
        awaitBackendState(2);
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains(FE + "/ring-ref2 is 'x12'"), vbd.lastError());
        // and with an order past Linux's 16 pages, which no backend may be asked for
        guest.write(FE + "/state", "6");
        awaitBackendState(6);
        guest.write(FE + "/ring-page-order", "5");
        guest.write(FE + "/state", "1");
        awaitBackendState(2);
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains("ring-page-order is 5 but this backend offers at most 4"), vbd.lastError());
        assertTrue(connector.connected.isEmpty(), "no ring mapped");
    }

    @Test
    void connectorFailureClosesWithItsMessage() {
        connector.failWith = "grant 8 of domain 5 is not granted to dom0";
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(5);
        assertTrue(vbd.lastError().contains("grant 8 of domain 5"), vbd.lastError());
    }

    /** A daemon restarted under a connected frontend resumes its ring: what was kept to resume it stays. */
    @Test
    void aBackendStartedUnderAConnectedFrontendResumesAndKeepsWhatResumingNeeds() {
        awaitBackendState(2);
        frontendPublishesRing("8", "9", "x86_64-abi");
        guest.write(FE + "/state", "3");
        awaitBackendState(4);
        guest.write(FE + "/state", "4");
        int offered = connector.freshRings.get();
        vbd.close(); // the daemon is gone; its successor finds the frontend Connected
        vbd = new VbdBackend(dom0, BE, DOMID, DEVID, new DiskInfo(2048, 512, false, true), connector, listener);
        vbd.start();
        await(() -> connector.connected.size() == 2, "the ring connected again");
        assertEquals(List.of(8), connector.connected.get(1).ringRefs());
        assertEquals(offered, connector.freshRings.get(), "the journals of the ring it resumes are kept");
    }

    /** Records what the state machine asked of the data path. */
    private static final class RecordingConnector implements RingConnector {
        final List<FrontendRing> connected = new CopyOnWriteArrayList<>();
        final AtomicInteger disconnects = new AtomicInteger();
        final AtomicInteger freshRings = new AtomicInteger();
        volatile String failWith;
        /** Ring threads that did not leave the storage when disconnect stopped them. */
        volatile int stuck;
        private final List<Runnable> whenStopped = new CopyOnWriteArrayList<>();

        @Override
        public int stuckRings() {
            return stuck;
        }

        @Override
        public void whenStopped(Runnable action) {
            if (stuck == 0) {
                action.run();
            } else {
                whenStopped.add(action);
            }
        }

        /** The stuck storage call returns. */
        void threadsLeft() {
            stuck = 0;
            whenStopped.forEach(Runnable::run);
            whenStopped.clear();
        }

        @Override
        public void freshRings() {
            freshRings.incrementAndGet();
        }

        @Override
        public void connect(FrontendRing ring) throws Exception {
            if (failWith != null) {
                throw new Exception(failWith);
            }
            connected.add(ring);
        }

        @Override
        public void disconnect() {
            disconnects.incrementAndGet();
        }
    }
}
