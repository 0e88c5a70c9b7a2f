package io.xendisk.xen.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.xen.sim.SimXenstored;

/** The client against our xenstored over a real unix socket. */
class XenStoreClientTest {
    private Path dir;
    private SimXenstored server;
    private XenStoreClient xs;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjxs");
        server = SimXenstored.start(dir.resolve("socket"));
        xs = XenStoreClient.connect(dir.resolve("socket"));
    }

    @AfterEach
    void tearDown() throws Exception {
        xs.close();
        server.close();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void readWriteDirectoryRm() {
        xs.write("/a/b/c", "hello");
        assertEquals("hello", xs.read("/a/b/c"));
        assertEquals(List.of("b"), xs.directory("/a"));
        xs.write("/a/empty", "");
        assertEquals("", xs.read("/a/empty"));
        xs.rm("/a/b");
        assertTrue(xs.tryRead("/a/b/c").isEmpty());
        xs.rm("/a/b"); // already gone: not an error
        assertEquals(List.of(), xs.tryDirectory("/nope"));
    }

    @Test
    void errorsNameThePathAndErrno() {
        XenStoreException e = assertThrows(XenStoreException.class, () -> xs.read("/missing/node"));
        assertEquals(XsErrno.ENOENT, e.errno());
        assertEquals("/missing/node", e.path());
        assertTrue(e.getMessage().contains("/missing/node") && e.getMessage().contains("ENOENT"), e.getMessage());
    }

    @Test
    void permissionsRoundTrip() {
        xs.write("/p", "x");
        xs.setPermissions("/p", List.of(new XsPerm(0, XsPerm.Access.NONE), new XsPerm(5, XsPerm.Access.READ)));
        assertEquals(List.of(new XsPerm(0, XsPerm.Access.NONE), new XsPerm(5, XsPerm.Access.READ)), xs.getPermissions("/p"));
    }

    @Test
    void watchFiresInitiallyThenForChildrenAndStopsAfterClose() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        XenStore.Watch w = xs.watch("/w", "tok", (p, t) -> events.add(p + " " + t));
        assertEquals("/w tok", events.poll(10, TimeUnit.SECONDS));
        xs.write("/w/x", "1");
        assertEquals("/w/x tok", events.poll(10, TimeUnit.SECONDS));
        w.close();
        xs.write("/w/y", "1");
        xs.write("/sync", "1"); // a round trip after the write: any event for /w/y would have been sent
        xs.read("/sync");
        assertEquals(null, events.poll(200, TimeUnit.MILLISECONDS));
    }

    @Test
    void listenerMayCallBackIntoTheClient() throws Exception {
        CountDownLatch got = new CountDownLatch(1);
        xs.write("/cb", "v1");
        xs.watch("/cb", "t", (p, t) -> {
            if ("v2".equals(xs.tryRead("/cb").orElse(null))) {
                got.countDown();
            }
        });
        xs.write("/cb", "v2");
        assertTrue(got.await(10, TimeUnit.SECONDS));
    }

    @Test
    void conflictingTransactionIsRetried() throws Exception {
        xs.write("/counter", "0");
        AtomicInteger attempts = new AtomicInteger();
        try (XenStoreClient other = XenStoreClient.connect(dir.resolve("socket"))) {
            xs.transaction(t -> {
                int n = Integer.parseInt(t.read("/counter"));
                if (attempts.incrementAndGet() == 1) {
                    other.write("/counter", "100"); // commits between our read and our commit
                }
                t.write("/counter", Integer.toString(n + 1));
                return null;
            });
        }
        assertEquals(2, attempts.get());
        assertEquals("101", xs.read("/counter"));
    }

    @Test
    void exceptionInBodyAbortsTheTransaction() {
        assertThrows(IllegalStateException.class, () -> xs.transaction(t -> {
            t.write("/aborted", "1");
            throw new IllegalStateException("no");
        }));
        assertTrue(xs.tryRead("/aborted").isEmpty());
    }

    @Test
    void lostConnectionFailsCallsWithAClearMessage() throws Exception {
        CountDownLatch lost = new CountDownLatch(1);
        xs.onDisconnect(lost::countDown);
        server.close();
        assertTrue(lost.await(10, TimeUnit.SECONDS));
        XenStoreException e = assertThrows(XenStoreException.class, () -> xs.read("/x"));
        assertTrue(e.getMessage().contains(dir.resolve("socket").toString()), e.getMessage());
    }

    @Test
    void socketPathFollowsLibxenstoreRules() {
        assertEquals(Path.of("/x/s"), XenStoreClient.socketPath(Map.of("XENSTORED_PATH", "/x/s")));
        assertEquals(Path.of("/r/socket"), XenStoreClient.socketPath(Map.of("XENSTORED_RUNDIR", "/r")));
        assertEquals(Path.of("/x/s"), XenStoreClient.socketPath(Map.of("XENSTORED_PATH", "/x/s", "XENSTORED_RUNDIR", "/r")));
        assertEquals(XenStoreClient.DEFAULT_SOCKET, XenStoreClient.socketPath(Map.of()));
    }

    @Test
    void openUsesXenstoredPath() {
        try (XenStoreClient c = XenStoreClient.open(Map.of("XENSTORED_PATH", dir.resolve("socket").toString()))) {
            c.write("/via-env", "1");
        }
        assertEquals("1", xs.read("/via-env"));
        XenStoreException e = assertThrows(XenStoreException.class,
                () -> XenStoreClient.open(Map.of("XENSTORED_PATH", dir.resolve("nothing").toString())));
        assertTrue(e.getMessage().contains("nothing") && e.getMessage().contains("xenstored"), e.getMessage());
    }

    /** A socket is a socket wherever it lives (a run directory in /dev/shm); only a character device is the xenbus device. */
    @Test
    void aSocketUnderDevIsStillASocket() throws Exception {
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "xdjxs");
        try (SimXenstored there = SimXenstored.start(shm.resolve("socket"))) {
            assertFalse(XenStoreClient.isDevice(shm.resolve("socket")));
            assertTrue(XenStoreClient.isDevice(Path.of("/dev/null")), "a character device");
            assertFalse(XenStoreClient.isDevice(shm.resolve("missing")));
            try (XenStoreClient c = XenStoreClient.open(Map.of("XENSTORED_PATH", shm.resolve("socket").toString()))) {
                c.write("/under-dev-shm", "1");
                assertEquals("1", c.read("/under-dev-shm"));
            }
        } finally {
            try (var s = Files.walk(shm)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
