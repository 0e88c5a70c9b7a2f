package io.xendisk.xen.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.xendisk.xen.store.XsPacket;
import io.xendisk.xen.store.XsType;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SimXenstored over raw sockets: the wire protocol, semantics, limits and misbehaving clients. */
class SimXenstoredTest {
    @TempDir
    Path dir;
    private SimXenstored xs;
    private XsTestClient dom0;

    @BeforeEach
    void start() throws IOException {
        xs = SimXenstored.start(dir.resolve("run/socket"));
        dom0 = XsTestClient.connect(xs.socketPath());
    }

    @AfterEach
    void stop() throws IOException {
        dom0.close();
        xs.close();
    }

    private XsTestClient introduce(int domid) throws IOException {
        assertEquals("OK\0", dom0.ok(XsType.INTRODUCE, 0, Integer.toString(domid), "0", "0"));
        return XsTestClient.connect(xs.domainSocketPath(domid));
    }

    // ---- basic operations ----

    @Test
    void writeCreatesParentsAndReadDirectoryAnswer() throws IOException {
        assertEquals("OK\0", dom0.write("/a/b", "1"));
        assertEquals("OK\0", dom0.write("/a/c", "two words"));
        assertEquals("1", dom0.read("/a/b"));
        assertEquals("two words", dom0.read("/a/c"));
        assertEquals("", dom0.read("/a"));
        assertEquals("b\0c\0", dom0.ok(XsType.DIRECTORY, 0, "/a"));
        assertEquals("", dom0.ok(XsType.DIRECTORY, 0, "/a/b"));
        assertEquals("ENOENT", dom0.read("/a/missing"));
        assertEquals("ENOENT", dom0.error(XsType.DIRECTORY, 0, "/nope"));
        assertEquals("OK\0", dom0.ok(XsType.MKDIR, 0, "/a/b"));
        assertEquals("1", dom0.read("/a/b"), "MKDIR leaves an existing value alone");
        assertEquals("OK\0", dom0.ok(XsType.MKDIR, 0, "/m/n"));
        assertEquals("", dom0.read("/m/n"));
        assertEquals("n0\0", dom0.ok(XsType.GET_PERMS, 0, "/a/b"));
    }

    @Test
    void valuesAreBinaryAndUnterminated() throws IOException {
        byte[] payload = {'/', 'v', 0, 1, 0, 2};
        dom0.request(XsType.WRITE, 0, payload);
        XsPacket r = dom0.request(XsType.READ, 0, "/v");
        assertEquals(List.of((byte) 1, (byte) 0, (byte) 2), List.of(r.payload()[0], r.payload()[1], r.payload()[2]));
        assertEquals(3, r.payload().length);
    }

    @Test
    void relativePathsAreUnderTheDomainPath() throws IOException {
        assertEquals("/local/domain/7\0", dom0.ok(XsType.GET_DOMAIN_PATH, 0, "7"));
        assertEquals("OK\0", dom0.write("name", "dom0"));
        assertEquals("dom0", dom0.read("/local/domain/0/name"));
        assertEquals("dom0", dom0.read("name"));
    }

    @Test
    void rmIsRecursiveAndFollowsXenstoredErrors() throws IOException {
        dom0.write("/r/a/b", "1");
        assertEquals("OK\0", dom0.ok(XsType.RM, 0, "/r/a"));
        assertEquals("ENOENT", dom0.read("/r/a/b"));
        assertEquals("", dom0.ok(XsType.DIRECTORY, 0, "/r"));
        assertEquals("OK\0", dom0.ok(XsType.RM, 0, "/r/a"), "missing node with existing parent");
        assertEquals("ENOENT", dom0.error(XsType.RM, 0, "/r/a/b"), "parent missing too");
        assertEquals("EINVAL", dom0.error(XsType.RM, 0, "/"));
    }

    @Test
    void directoryPartAnswersGenerationAndChildrenFromTheOffset() throws IOException {
        dom0.write("/dp/a", "");
        dom0.write("/dp/bb", "");
        dom0.write("/dp/ccc", "");
        List<String> all = XsPacket.split(dom0.request(XsType.DIRECTORY_PART, 0, "/dp", "0").payload());
        String gen = all.get(0);
        assertTrue(gen.matches("[0-9]+"), gen);
        assertEquals(List.of(gen, "a", "bb", "ccc", ""), all, "complete list ends with an extra NUL");
        assertEquals(gen + "\0bb\0ccc\0\0", dom0.ok(XsType.DIRECTORY_PART, 0, "/dp", "2"));
        assertEquals(gen + "\0\0", dom0.ok(XsType.DIRECTORY_PART, 0, "/dp", "100"));
        dom0.write("/dp/d", "");
        String gen2 = XsPacket.split(dom0.request(XsType.DIRECTORY_PART, 0, "/dp", "0").payload()).get(0);
        assertTrue(!gen2.equals(gen), "a new child changes the generation");
        assertEquals("EINVAL", dom0.error(XsType.DIRECTORY_PART, 0, "/dp", "x"));
        assertEquals("EINVAL", dom0.error(XsType.DIRECTORY_PART, 0, "/dp"));
    }

    @Test
    void domainBookkeepingRequests() throws IOException {
        assertEquals("T\0", dom0.ok(XsType.IS_DOMAIN_INTRODUCED, 0, "0"));
        assertEquals("F\0", dom0.ok(XsType.IS_DOMAIN_INTRODUCED, 0, "9"));
        assertEquals("ENOENT", dom0.error(XsType.RELEASE, 0, "9"));
        assertEquals("EINVAL", dom0.error(XsType.INTRODUCE, 0, "0", "0", "0"));
        assertEquals("EINVAL", dom0.error(XsType.INTRODUCE, 0, "abc", "0", "0"));
        assertEquals("EINVAL", dom0.error(XsType.GET_DOMAIN_PATH, 0, "-1"));
        assertEquals("ENOSYS", dom0.error(XsType.SET_TARGET, 0, "1", "2"));
        assertEquals("ENOSYS", dom0.error(XsType.CONTROL, 0, "check"));
    }

    // ---- malformed input ----

    @Test
    void malformedRequestsGetErrorsAndTheConnectionKeepsWorking() throws IOException {
        assertEquals("EINVAL", XsTestClient.error(dom0.request(XsType.READ, 0, "/a".getBytes(StandardCharsets.UTF_8))),
                "missing NUL");
        assertEquals("EINVAL", XsTestClient.error(dom0.request(XsType.WRITE, 0, "/a".getBytes(StandardCharsets.UTF_8))),
                "WRITE without NUL");
        assertEquals("EINVAL", XsTestClient.error(dom0.request(XsType.READ, 0, new byte[0])));
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, "/a", "/b"), "two arguments");
        assertEquals("EINVAL", dom0.error(XsType.WATCH, 0, "/a"), "WATCH needs a token");
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, ""));
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, "/a b"));
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, "/a//b"));
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, "/a/"));
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, "/" + "x".repeat(3072)));
        assertEquals("ENOENT", dom0.error(XsType.READ, 0, "/" + "x".repeat(3071)), "3072 bytes is allowed");
        assertEquals("EINVAL", dom0.error(XsType.READ, 0, "@introduceDomain"), "special paths only for watches");
        assertEquals("EINVAL", dom0.error(XsType.SET_PERMS, 0, "/", "q5"));
        assertEquals("EINVAL", dom0.error(XsType.SET_PERMS, 0, "/"));
        assertEquals("ENOENT", dom0.error(XsType.READ, 12345, "/"), "unknown transaction");
        assertEquals("ENOENT", dom0.error(XsType.TRANSACTION_END, 12345, "T"));
        assertEquals("ENOENT", dom0.error(XsType.TRANSACTION_END, 0, "T"));
        int tx = dom0.startTransaction();
        assertEquals("EINVAL", dom0.error(XsType.TRANSACTION_END, tx, "X"));
        assertEquals("EBUSY", dom0.error(XsType.TRANSACTION_START, tx, ""));
        assertEquals("ENOSYS", XsTestClient.error(dom0.request(XsType.WATCH_EVENT, 0, "/a", "t")));
        assertEquals("ENOSYS", XsTestClient.error(dom0.request(XsType.ERROR, 0, "EIO")));

        dom0.sendRaw(XsTestClient.header(99, 7, 0, 0)); // unknown type
        assertEquals("ENOSYS", XsTestClient.error(dom0.nextReply()));
        dom0.write("/still", "alive");
        assertEquals("alive", dom0.read("/still"));
    }

    @Test
    void unknownTypeGetsEnosysEchoingReqAndTxIds() throws IOException {
        dom0.sendRaw(XsTestClient.header(99, 42, 5, 2));
        dom0.sendRaw(new byte[] {'x', 0});
        XsPacket r = dom0.nextReply();
        assertEquals(XsType.ERROR.code, r.type());
        assertEquals(42, r.reqId());
        assertEquals(5, r.txId());
        assertEquals("ENOSYS\0", r.payloadString());
        assertEquals("OK\0", dom0.write("/x", "alive"));
    }

    @Test
    void oversizedPayloadClosesOnlyThatConnection() throws IOException {
        try (XsTestClient bad = XsTestClient.connect(xs.socketPath())) {
            bad.sendRaw(XsTestClient.header(XsType.WRITE.code, 1, 0, 4097));
            bad.assertClosedByServer();
        }
        assertEquals("OK\0", dom0.write("/after", "1"));
        assertEquals("1", dom0.read("/after"));
    }

    @Test
    void garbageBytesCloseOnlyThatConnection() throws IOException {
        try (XsTestClient bad = XsTestClient.connect(xs.socketPath())) {
            byte[] junk = new byte[64];
            for (int i = 0; i < junk.length; i++) {
                junk[i] = (byte) (0xA5 ^ i * 31);
            }
            bad.sendRaw(junk);
            bad.assertClosedByServer();
        }
        assertEquals("OK\0", dom0.write("/after", "1"));
    }

    @Test
    void disconnectMidPacketAndStalledClientsDoNotDisturbOthers() throws IOException {
        XsTestClient stalled = XsTestClient.connect(xs.socketPath());
        stalled.sendRaw(XsTestClient.header(XsType.WRITE.code, 1, 0, 100));
        stalled.sendRaw("/half".getBytes(StandardCharsets.UTF_8)); // and then nothing
        XsTestClient cut = XsTestClient.connect(xs.socketPath());
        cut.sendRaw(XsTestClient.header(XsType.WRITE.code, 1, 0, 100));
        cut.sendRaw(new byte[10]);
        cut.close();
        XsTestClient halfHeader = XsTestClient.connect(xs.socketPath());
        halfHeader.sendRaw(new byte[7]);

        try (XsTestClient other = XsTestClient.connect(xs.socketPath())) {
            assertEquals("OK\0", other.write("/other", "fine"));
            assertEquals("fine", dom0.read("/other"));
        }
        assertEquals("ENOENT", dom0.read("/half"), "a half-sent write does nothing");
        stalled.close();
        halfHeader.close();
    }

    @Test
    void clientThatNeverReadsIsDisconnectedAndOthersKeepWorking() throws Exception {
        try (SocketChannel lazy = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            lazy.connect(UnixDomainSocketAddress.of(xs.socketPath()));
            // A long token makes every event about 4 KiB; the lazy client never reads them.
            new XsPacket(XsType.WATCH.code, 1, 0, XsPacket.strings("/flood", "t".repeat(3900))).writeTo(lazy);
            int writes = 800;
            assertTrue(writes * 3900L > 2 * SimLimits.MAX_PENDING_OUTPUT_BYTES, "enough to overflow");
            for (int i = 0; i < writes; i++) {
                assertEquals("OK\0", dom0.write("/flood/x", Integer.toString(i)));
            }
            assertEquals(Integer.toString(writes - 1), dom0.read("/flood/x"));
            // What the server managed to send is still readable, then end of stream.
            ExecutorService ex = Executors.newSingleThreadExecutor();
            try {
                Future<Long> drained = ex.submit(() -> drain(lazy));
                assertTrue(drained.get(10, TimeUnit.SECONDS) < writes * 3900L, "disconnected before all events");
            } finally {
                ex.shutdownNow();
            }
        }
        assertEquals("OK\0", dom0.write("/after", "1"));
    }

    private static long drain(SocketChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        long total = 0;
        for (int n; (n = ch.read(b)) >= 0; b.clear()) {
            total += n;
        }
        return total;
    }

    // ---- watches ----

    @Test
    void watchFiresInitiallyThenForChangesAtAndBelow() throws IOException {
        assertEquals("OK\0", dom0.ok(XsType.WATCH, 0, "/w", "tok"));
        assertEquals(List.of("/w", "tok"), dom0.event());
        dom0.write("/w/x/y", "1");
        assertEquals(List.of("/w/x/y", "tok"), dom0.event());
        dom0.write("/other", "1");
        dom0.write("/wx", "1");
        dom0.assertNoEvent();
        dom0.ok(XsType.SET_PERMS, 0, "/w/x", "n0", "r1");
        assertEquals(List.of("/w/x", "tok"), dom0.event());
        assertEquals("EEXIST", dom0.error(XsType.WATCH, 0, "/w", "tok"));
        assertEquals("OK\0", dom0.ok(XsType.UNWATCH, 0, "/w", "tok"));
        dom0.write("/w/x", "2");
        dom0.assertNoEvent();
        assertEquals("ENOENT", dom0.error(XsType.UNWATCH, 0, "/w", "tok"));
    }

    @Test
    void watchesOfOtherConnectionsFireAndRelativeWatchesReportRelativePaths() throws IOException {
        try (XsTestClient watcher = XsTestClient.connect(xs.socketPath())) {
            watcher.ok(XsType.WATCH, 0, "rel", "r");
            assertEquals(List.of("rel", "r"), watcher.event());
            dom0.write("/local/domain/0/rel/x", "1");
            assertEquals(List.of("rel/x", "r"), watcher.event());
            watcher.ok(XsType.RESET_WATCHES, 0, "");
            dom0.write("/local/domain/0/rel/x", "2");
            watcher.assertNoEvent();
        }
    }

    @Test
    void rmFiresForTheNodeAndForWatchesBelowIt() throws IOException {
        dom0.write("/s/a/b", "1");
        try (XsTestClient watcher = XsTestClient.connect(xs.socketPath())) {
            watcher.ok(XsType.WATCH, 0, "/s/a/b", "below");
            watcher.event();
            watcher.ok(XsType.WATCH, 0, "/s", "above");
            watcher.event();
            dom0.ok(XsType.RM, 0, "/s/a");
            List<List<String>> got = List.of(watcher.event(), watcher.event());
            assertTrue(got.contains(List.of("/s/a/b", "below")), got.toString());
            assertTrue(got.contains(List.of("/s/a", "above")), got.toString());
            watcher.assertNoEvent();
        }
    }

    // ---- transactions ----

    @Test
    void transactionIsIsolatedAndItsEventsFireOnlyOnCommit() throws IOException {
        try (XsTestClient watcher = XsTestClient.connect(xs.socketPath())) {
            watcher.ok(XsType.WATCH, 0, "/t", "tt");
            watcher.event();
            int tx = dom0.startTransaction();
            assertEquals("OK\0", dom0.write(tx, "/t/x", "1"));
            assertEquals("1", dom0.read(tx, "/t/x"));
            assertEquals("ENOENT", watcher.read("/t/x"), "not visible outside before commit");
            watcher.assertNoEvent();
            assertEquals("OK\0", dom0.ok(XsType.TRANSACTION_END, tx, "T"));
            assertEquals(List.of("/t/x", "tt"), watcher.event());
            assertEquals("1", watcher.read("/t/x"));

            int aborted = dom0.startTransaction();
            dom0.write(aborted, "/t/y", "1");
            assertEquals("OK\0", dom0.ok(XsType.TRANSACTION_END, aborted, "F"));
            watcher.assertNoEvent();
            assertEquals("ENOENT", dom0.read("/t/y"));
            assertEquals("ENOENT", dom0.error(XsType.READ, aborted, "/t/x"), "an ended transaction is gone");
        }
    }

    @Test
    void conflictingCommitGetsEagainAndChangesNothing() throws IOException {
        dom0.write("/c/x", "0");
        int tx = dom0.startTransaction();
        assertEquals("0", dom0.read(tx, "/c/x"));
        try (XsTestClient other = XsTestClient.connect(xs.socketPath())) {
            other.write("/c/x", "other");
        }
        dom0.write(tx, "/c/y", "mine");
        assertEquals("EAGAIN", dom0.error(XsType.TRANSACTION_END, tx, "T"));
        assertEquals("ENOENT", dom0.read("/c/y"));
        assertEquals("ENOENT", dom0.error(XsType.TRANSACTION_END, tx, "T"), "gone after EAGAIN");

        // Disjoint paths do not conflict, and the other commit is kept. (Creating a
        // new child changes its parent, so the parents exist beforehand.)
        dom0.write("/d/y0", "");
        dom0.write("/e/z0", "");
        int tx2 = dom0.startTransaction();
        dom0.write(tx2, "/d/y", "mine");
        dom0.write("/e/z", "other");
        assertEquals("OK\0", dom0.ok(XsType.TRANSACTION_END, tx2, "T"));
        assertEquals("mine", dom0.read("/d/y"));
        assertEquals("other", dom0.read("/e/z"));
    }

    @Test
    void listingInATransactionConflictsWithANewChild() throws IOException {
        dom0.write("/l/a", "");
        int tx = dom0.startTransaction();
        assertEquals("a\0", dom0.ok(XsType.DIRECTORY, tx, "/l"));
        dom0.write("/l/b", "");
        dom0.write(tx, "/m", "x");
        assertEquals("EAGAIN", dom0.error(XsType.TRANSACTION_END, tx, "T"));
    }

    @Test
    void concurrentReadModifyWriteTransactionsLoseNoUpdate() throws Exception {
        dom0.write("/counter", "0");
        int clients = 4;
        int increments = 25;
        ExecutorService ex = Executors.newFixedThreadPool(clients);
        try {
            List<Future<Integer>> retries = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                retries.add(ex.submit(() -> {
                    int again = 0;
                    try (XsTestClient c = XsTestClient.connect(xs.socketPath())) {
                        for (int n = 0; n < increments; n++) {
                            while (true) {
                                int tx = c.startTransaction();
                                int v = Integer.parseInt(c.read(tx, "/counter"));
                                c.write(tx, "/counter", Integer.toString(v + 1));
                                XsPacket end = c.request(XsType.TRANSACTION_END, tx, "T");
                                if (end.type() != XsType.ERROR.code) {
                                    break;
                                }
                                assertEquals("EAGAIN", XsTestClient.error(end));
                                again++;
                            }
                        }
                    }
                    return again;
                }));
            }
            for (Future<Integer> f : retries) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            ex.shutdownNow();
        }
        assertEquals(Integer.toString(clients * increments), dom0.read("/counter"));
    }

    @Test
    void transactionsPerConnectionAreLimited() throws IOException {
        for (int i = 0; i < SimLimits.TRANSACTIONS_PER_CONNECTION; i++) {
            dom0.startTransaction();
        }
        assertEquals("ENOSPC", dom0.error(XsType.TRANSACTION_START, 0, ""));
        try (XsTestClient other = XsTestClient.connect(xs.socketPath())) {
            other.startTransaction(); // the limit is per connection
        }
    }

    // ---- domains, permissions, quotas ----

    @Test
    void introduceGivesTheDomainASocketAHomeAndFiresSpecialWatches() throws IOException {
        dom0.ok(XsType.WATCH, 0, "@introduceDomain", "in");
        assertEquals(List.of("@introduceDomain", "in"), dom0.event());
        dom0.ok(XsType.WATCH, 0, "@releaseDomain", "out");
        assertEquals(List.of("@releaseDomain", "out"), dom0.event());

        XsTestClient dom5 = introduce(5);
        assertEquals(List.of("@introduceDomain", "in"), dom0.event());
        assertTrue(Files.exists(xs.domainSocketPath(5)));
        assertEquals(dir.resolve("run/domain/5/socket").toAbsolutePath(), xs.domainSocketPath(5));
        assertEquals("T\0", dom0.ok(XsType.IS_DOMAIN_INTRODUCED, 0, "5"));
        assertEquals("n5\0", dom0.ok(XsType.GET_PERMS, 0, "/local/domain/5"));
        assertEquals("OK\0", dom5.write("x", "1"), "relative to its own home");
        assertEquals("1", dom0.read("/local/domain/5/x"));
        assertEquals("/local/domain/5\0", dom5.ok(XsType.GET_DOMAIN_PATH, 0, "5"));
        assertEquals("EACCES", dom5.error(XsType.INTRODUCE, 0, "6", "0", "0"));
        assertEquals("EACCES", dom5.error(XsType.RELEASE, 0, "5"));
        assertEquals("EACCES", dom5.error(XsType.SET_TARGET, 0, "5", "6"));
        dom5.ok(XsType.WATCH, 0, "x", "mine");
        assertEquals(List.of("x", "mine"), dom5.event());
        int tx = dom5.startTransaction();

        assertEquals("OK\0", dom0.ok(XsType.RELEASE, 0, "5"));
        assertEquals(List.of("@releaseDomain", "out"), dom0.event());
        dom5.assertClosedByServer();
        dom5.close();
        assertFalse(Files.exists(xs.domainSocketPath(5)));
        assertEquals("F\0", dom0.ok(XsType.IS_DOMAIN_INTRODUCED, 0, "5"));
        assertEquals("1", dom0.read("/local/domain/5/x"), "RELEASE leaves the home to the toolstack");
        assertTrue(tx > 0);

        XsTestClient again = introduce(5); // can come back, and its old watch is gone
        assertEquals(List.of("@introduceDomain", "in"), dom0.event());
        dom0.write("/local/domain/5/x", "2");
        again.assertNoEvent();
        again.close();
    }

    @Test
    void permissionsFollowXenstoredRules() throws IOException {
        XsTestClient dom5 = introduce(5);
        dom0.write("/secret/x", "s");
        assertEquals("EACCES", dom5.read("/secret/x"), "root-inherited n0: unreadable");
        assertEquals("EACCES", dom5.read("/secret/missing"), "no probing below an unreadable node");
        assertEquals("EACCES", dom5.read("/nothing/here"), "nor below the root");
        assertEquals("ENOENT", dom5.read("/local/domain/5/nope"));
        assertEquals("EACCES", dom5.write("/secret/y", "1"));
        assertEquals("EACCES", dom5.error(XsType.GET_PERMS, 0, "/secret/x"));
        assertEquals("EACCES", dom5.error(XsType.DIRECTORY, 0, "/secret"));
        assertEquals("EACCES", dom5.error(XsType.RM, 0, "/secret/x"));

        dom0.write("/p", "");
        dom0.ok(XsType.SET_PERMS, 0, "/p", "n0", "b5", "r6");
        assertEquals("OK\0", dom5.write("/p/q", "five"));
        assertEquals("n5\0b5\0r6\0", dom0.ok(XsType.GET_PERMS, 0, "/p/q"), "inherited, owned by the creator");
        dom0.write("/p/r", "zero");
        assertEquals("n0\0b5\0r6\0", dom0.ok(XsType.GET_PERMS, 0, "/p/r"), "dom0 keeps the parent's owner");
        assertEquals("zero", dom5.read("/p/r"));
        assertEquals("OK\0", dom5.write("/p/r", "b5 may write"));

        assertEquals("OK\0", dom5.ok(XsType.SET_PERMS, 0, "/p/q", "n5", "r6"));
        assertEquals("EPERM", dom5.error(XsType.SET_PERMS, 0, "/p/q", "n0"), "may not give it away");
        assertEquals("EACCES", dom5.error(XsType.SET_PERMS, 0, "/p/r", "n5"), "only the owner");
        assertEquals("OK\0", dom0.ok(XsType.SET_PERMS, 0, "/p/q", "r0"), "dom0 may do anything");
        assertEquals("EACCES", dom5.write("/p/q", "no longer mine"));
        assertEquals("ENOENT", dom5.error(XsType.RM, 0, "/p/zz/yy"));
        dom5.close();
    }

    @Test
    void unprivilegedWatchersOnlySeeNodesTheyMayRead() throws IOException {
        XsTestClient dom5 = introduce(5);
        dom0.write("/pub", "");
        dom0.ok(XsType.SET_PERMS, 0, "/pub", "n0", "r5");
        dom5.ok(XsType.WATCH, 0, "/pub", "p");
        assertEquals(List.of("/pub", "p"), dom5.event());
        dom0.write("/pub/open", "1");
        assertEquals(List.of("/pub/open", "p"), dom5.event());
        dom0.write("/pub/closed", "1");
        dom5.event(); // created with the inherited, readable perms
        dom0.ok(XsType.SET_PERMS, 0, "/pub/closed", "n0");
        dom0.write("/pub/closed", "2");
        dom5.assertNoEvent();
        dom5.close();
    }

    @Test
    void unprivilegedQuotas() throws IOException {
        XsTestClient dom5 = introduce(5);
        assertEquals("ENOSPC", dom5.write("big", "v".repeat(SimLimits.NODE_SIZE_MAX)));
        assertEquals("OK\0", dom5.write("ok", "v".repeat(1000)));
        assertEquals("OK\0", dom0.write("/local/domain/5/dom0big", "v".repeat(4000)), "dom0 has no size quota");

        for (int i = 0; i < SimLimits.WATCHES_PER_DOMAIN; i++) {
            assertEquals("OK\0", dom5.ok(XsType.WATCH, 0, "w" + i, "t"));
        }
        assertEquals("E2BIG", dom5.error(XsType.WATCH, 0, "w-over", "t"));

        // It owns its home, "ok" and "dom0big" (created in its dir by dom0 with inherited owner 5).
        int owned = 3;
        int created = 0;
        String err = null;
        outer:
        for (int d = 0; d < 60; d++) {
            for (int n = 0; n < 25; n++) {
                String r = dom5.write("d" + d + "/n" + n, "");
                if (!r.equals("OK\0")) {
                    err = r;
                    break outer;
                }
                created += n == 0 ? 2 : 1;
            }
        }
        assertEquals("ENOSPC", err);
        assertEquals(SimLimits.NODES_PER_DOMAIN - owned, created);
        assertEquals("OK\0", dom0.write("/dom0/is/unlimited", "1"));
        dom5.close();
    }

    // ---- server lifecycle ----

    @Test
    void secondServerOnALiveSocketIsRefusedAndAStaleSocketIsReplaced() throws IOException {
        IOException e = assertThrows(SimXenstored.AlreadyRunningException.class,
                () -> SimXenstored.start(xs.socketPath()));
        assertEquals("xenstored already running on " + xs.socketPath(), e.getMessage());

        Path stale = dir.resolve("stale/socket");
        Files.createDirectories(stale.getParent());
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(stale));
        } // closed without unlinking: a stale socket file
        assertTrue(Files.exists(stale));
        try (SimXenstored second = SimXenstored.start(stale);
             XsTestClient c = XsTestClient.connect(stale)) {
            assertEquals("OK\0", c.write("/x", "1"));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(stale)));
        }
        assertFalse(Files.exists(stale), "close() removes the socket");

        Path file = dir.resolve("plain");
        Files.writeString(file, "not a socket");
        IOException notSocket = assertThrows(IOException.class, () -> SimXenstored.start(file));
        assertTrue(notSocket.getMessage().contains("is not a socket"), notSocket.getMessage());
    }
}
