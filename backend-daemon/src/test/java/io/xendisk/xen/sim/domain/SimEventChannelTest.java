package io.xendisk.xen.sim.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.xendisk.xen.EventChannelException;

class SimEventChannelTest {
    private static final int GUEST = 3;
    private static final long SHORT = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long LONG = TimeUnit.SECONDS.toNanos(30);

    @TempDir
    Path simdir;
    private SimDomain guest;
    private SimEventChannels backendChannels;
    private SimEventChannel front;
    private SimEventChannel back;

    @BeforeEach
    void setUp() throws Exception {
        guest = SimDomain.create(simdir, GUEST, 4, 32);
        backendChannels = new SimEventChannels(simdir);
        front = guest.allocUnbound(0);
        back = backendChannels.bindInterdomain(GUEST, front.localPort());
        // Like Xen, binding raises the new port once (kicks to the unbound port were lost): take it.
        assertTrue(back.await(0));
    }

    @AfterEach
    void tearDown() {
        back.close();
        front.close();
        guest.close();
    }

    @Test
    void bindingLinksBothEnds() {
        assertTrue(front.isBound());
        assertTrue(back.isBound());
        assertEquals(back.localPort(), front.remotePort());
        assertEquals(front.localPort(), back.remotePort());
        assertEquals(0, front.remoteDomid());
        assertEquals(GUEST, back.remoteDomid());
        assertEquals(GUEST, front.domid());
        assertEquals(0, back.domid());
    }

    @Test
    void notificationsReachTheOtherEndBothWays() throws Exception {
        assertFalse(back.await(SHORT), "nothing pending yet");
        front.notifyRemote();
        assertTrue(back.await(LONG));
        back.notifyRemote();
        assertTrue(front.await(LONG));
        assertFalse(front.await(SHORT), "the event was consumed");
    }

    @Test
    void manyKicksBeforeTheReceiverLooksCoalesceIntoOneWakeup() throws Exception {
        for (int i = 0; i < 100; i++) {
            front.notifyRemote();
        }
        assertEquals(1, back.queuedWakeups(), "only the not-pending to pending transition writes a wakeup");
        assertTrue(back.await(LONG));
        assertFalse(back.await(SHORT));
        front.notifyRemote();
        assertTrue(back.await(LONG), "after consuming, the next kick wakes again");
    }

    @Test
    void everyKickIsCountedThoughTheyCoalesce() throws Exception {
        SimEventChannel.EventCounts before = front.peerCounts();
        assertEquals(back.counts(), before, "the guest sees the backend port's own counters");
        for (int i = 0; i < 1000; i++) {
            front.notifyRemote();
        }
        assertTrue(back.await(LONG));
        SimEventChannel.EventCounts after = front.peerCounts();
        assertEquals(1000, after.notified() - before.notified(), "each notify counted");
        assertEquals(1, after.taken() - before.taken(), "but delivered as one event");
        back.close();
        assertEquals(null, front.peerCounts(), "no counters once the peer is gone");
    }

    @Test
    void maskedPortCollectsEventsWithoutWakingAndUnmaskDeliversThem() throws Exception {
        back.mask();
        front.notifyRemote();
        front.notifyRemote();
        assertTrue(back.isPending());
        assertEquals(0, back.queuedWakeups(), "no wakeup while masked");
        assertFalse(back.await(SHORT), "a masked port does not deliver");
        assertTrue(back.isPending(), "and keeps the event");

        back.unmask();
        assertTrue(back.await(LONG));
        assertFalse(back.isPending());
        assertFalse(back.await(SHORT));
    }

    @Test
    void unmaskWakesAThreadAlreadyWaiting() throws Exception {
        back.mask();
        front.notifyRemote();
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> awaitQuietly(back, LONG));
        back.unmask();
        assertTrue(waiter.get(LONG, TimeUnit.NANOSECONDS));
    }

    @Test
    void aKickWakesAnAwaitWithoutDeadline() throws Exception {
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> awaitQuietly(back, Long.MAX_VALUE));
        front.notifyRemote();
        assertTrue(waiter.get(LONG, TimeUnit.NANOSECONDS));
    }

    @Test
    void closeWakesABlockedAwait() throws Exception {
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> awaitQuietly(back, LONG));
        // Best effort to let the waiter reach poll(); the outcome must be the same if it has not.
        Thread.sleep(50);
        back.close();
        assertFalse(waiter.get(LONG, TimeUnit.NANOSECONDS), "await returns false when the channel closes");
        assertFalse(back.await(LONG), "and at once afterwards");
    }

    @Test
    void closingTheBackendEndUnbindsTheGuestPortForARebind() throws Exception {
        back.close();
        assertFalse(front.isBound());
        assertEquals(0, front.remoteDomid(), "unbound again, for the backend domain");
        front.notifyRemote(); // goes nowhere, no error

        SimEventChannel again = backendChannels.bindInterdomain(GUEST, front.localPort());
        try {
            assertTrue(again.await(0));
            front.notifyRemote();
            assertTrue(again.await(LONG), "the guest reaches the new backend port");
            again.notifyRemote();
            assertTrue(front.await(LONG));
        } finally {
            again.close();
        }
    }

    @Test
    void closingTheGuestEndMakesBackendKicksGoNowhere() throws Exception {
        front.close();
        assertFalse(back.isBound());
        back.notifyRemote();
        assertFalse(back.await(SHORT));
    }

    @Test
    void notifyBeforeTheBackendBindsIsDropped() throws Exception {
        SimEventChannel lonely = guest.allocUnbound(0);
        try {
            assertFalse(lonely.isBound());
            lonely.notifyRemote();
            assertEquals(-1, lonely.remotePort());
        } finally {
            lonely.close();
        }
    }

    @Test
    void bindRefusalsNameDomainAndPort() throws Exception {
        EventChannelException bound = assertThrows(EventChannelException.class,
                () -> backendChannels.bindInterdomain(GUEST, front.localPort()));
        assertTrue(bound.getMessage().startsWith("domain 3 port " + front.localPort() + ": not an unbound port"),
                bound.getMessage());

        SimEventChannel forOther = guest.allocUnbound(5);
        try {
            EventChannelException e = assertThrows(EventChannelException.class,
                    () -> backendChannels.bindInterdomain(GUEST, forOther.localPort()));
            assertTrue(e.getMessage().contains("unbound, for domain 5"), e.getMessage());
        } finally {
            forOther.close();
        }

        EventChannelException free = assertThrows(EventChannelException.class,
                () -> backendChannels.bindInterdomain(GUEST, 1000));
        assertTrue(free.getMessage().contains("domain 3 port 1000") && free.getMessage().contains("free"),
                free.getMessage());
        EventChannelException range = assertThrows(EventChannelException.class,
                () -> backendChannels.bindInterdomain(GUEST, 0));
        assertTrue(range.getMessage().contains("not a valid port"), range.getMessage());
        EventChannelException missing = assertThrows(EventChannelException.class,
                () -> backendChannels.bindInterdomain(42, 1));
        assertEquals("domain 42: no simulated domain at " + SimPaths.domain(simdir, 42) + " (is the guest running?)",
                missing.getMessage());
    }

    @Test
    void closedPortsAreReused() {
        int port = front.localPort();
        front.close();
        SimEventChannel next = guest.allocUnbound(0);
        try {
            assertEquals(port, next.localPort());
            assertFalse(next.isPending());
            assertFalse(next.isMasked());
        } finally {
            next.close();
        }
    }

    @Test
    void interruptedAwaitThrows() {
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, () -> back.await(LONG));
    }

    private static boolean awaitQuietly(SimEventChannel ch, long nanos) {
        try {
            return ch.await(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
