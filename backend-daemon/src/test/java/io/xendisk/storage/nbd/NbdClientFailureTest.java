package io.xendisk.storage.nbd;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How requests end when the connection does not: a server killed with
 * requests in flight and more waiting, a server that breaks the protocol,
 * and close() with requests in flight, within its timeout and beyond it.
 * Servers that must not answer in time are slowed by a full minute (nbdkit's
 * delay filter), far beyond the test's own waits, so no outcome depends on
 * how fast this machine is.
 */
// a lost completion or a silent server must fail the test, not hang the build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdClientFailureTest {
    @TempDir
    Path dir;

    @AutoClose
    private final Kept kept = new Kept();

    private <T extends AutoCloseable> T keep(T c) {
        return kept.keep(c);
    }

    @Test
    void withoutReconnectingAServerKilledWithRequestsInFlightFailsEveryOne() throws Exception {
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=delay"), "memory", "16M",
                "delay-read=60", "delay-write=60"));
        NbdClient c = keep(NbdClient.open(s.uri, 32, Duration.ZERO));
        List<Completed> all = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            Completed r = new Completed();
            all.add(r);
            if (i % 2 == 0) {
                c.read(i * 4096L, ByteBuffer.allocate(4096), r);
            } else {
                c.write(i * 4096L, ByteBuffer.allocateDirect(4096), false, r);
            }
        }
        assertEquals(32, c.inFlight());
        // and a few more that wait for a slot, from threads of their own
        List<Thread> waiting = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Completed r = new Completed();
            all.add(r);
            long off = i * 8192L;
            Thread t = new Thread(() -> c.read(off, ByteBuffer.allocate(8192), r), "waiting-" + i);
            waiting.add(t);
            t.start();
        }
        for (Thread t : waiting) {
            while (t.getState() != Thread.State.WAITING && t.isAlive()) {
                Thread.sleep(5);
            }
        }

        s.kill();
        assertTimeoutPreemptively(Duration.ofSeconds(Completed.WAIT_SECONDS), () -> {
            for (Completed r : all) {
                IOException f = r.failed();
                // closed or reset, depending on whether it died with our bytes unread
                assertTrue(f.getMessage().matches("the NBD server at .* (closed|reset) the connection with \\d+"
                        + " requests unanswered"), f.getMessage());
            }
            for (Thread t : waiting) {
                t.join();
            }
        });
        assertSame(all.get(0).failure(), c.failure());

        // later requests fail at once with the same reason
        Completed late = new Completed();
        c.flush(late);
        assertTrue(late.isDone());
        assertSame(c.failure(), late.failed());
    }

    /** After the handshake: answers the first of four reads, then sends {@code bad} in place of the second reply. */
    private ScriptedNbdServer misbehaving(String bad) throws IOException {
        return keep(ScriptedNbdServer.start(dir, (DataInputStream in, DataOutputStream out) -> {
            ScriptedNbdServer.handshake(in, out, 1 << 20, NbdProtocol.FLAG_HAS_FLAGS | NbdProtocol.FLAG_SEND_FLUSH);
            ScriptedNbdServer.Request[] r = new ScriptedNbdServer.Request[4];
            for (int i = 0; i < 4; i++) {
                r[i] = ScriptedNbdServer.readRequest(in);
            }
            ScriptedNbdServer.simpleReply(out, NbdProtocol.SIMPLE_REPLY_MAGIC, 0, r[0].handle());
            out.write(new byte[r[0].length()]);
            switch (bad) {
                case "unknown handle" -> ScriptedNbdServer.simpleReply(out, NbdProtocol.SIMPLE_REPLY_MAGIC, 0,
                        r[1].handle() ^ 1L << 40);
                case "repeated handle" -> ScriptedNbdServer.simpleReply(out, NbdProtocol.SIMPLE_REPLY_MAGIC, 0,
                        r[0].handle());
                case "bad magic" -> ScriptedNbdServer.simpleReply(out, Integer.reverseBytes(NbdProtocol.SIMPLE_REPLY_MAGIC),
                        0, r[1].handle());
                case "structured reply" -> ScriptedNbdServer.simpleReply(out, NbdProtocol.STRUCTURED_REPLY_MAGIC, 0,
                        r[1].handle());
                default -> throw new AssertionError(bad);
            }
            out.flush();
            in.read();
        }));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"unknown handle", "repeated handle", "bad magic", "structured reply"})
    void aProtocolErrorClosesTheConnectionAndFailsWhatIsInFlight(String bad) throws Exception {
        ScriptedNbdServer s = misbehaving(bad);
        NbdClient c = keep(NbdClient.open(s.uri(""), 8));
        Completed[] reads = new Completed[4];
        for (int i = 0; i < 4; i++) {
            reads[i] = new Completed();
            c.read(i * 512L, ByteBuffer.allocate(512), reads[i]);
        }
        reads[0].ok();
        String expected = switch (bad) {
            case "unknown handle", "repeated handle" -> "which no request in flight has";
            case "bad magic" -> "a reply with magic 0x98664467 instead of 0x67446698";
            default -> "a structured reply (magic 0x668e33ef), which was not negotiated";
        };
        for (int i = 1; i < 4; i++) {
            IOException f = reads[i].failed();
            assertInstanceOf(NbdException.class, f);
            assertTrue(f.getMessage().startsWith("protocol error from the NBD server at " + s.uri("").socket()),
                    f.getMessage());
            assertTrue(f.getMessage().contains(expected), f.getMessage());
            assertTrue(f.getMessage().contains("the connection is closed"), f.getMessage());
        }
        assertSame(reads[1].failure(), c.failure());
    }

    @Test
    void closeWaitsForTheRequestsInFlightThenDisconnects() throws Exception {
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=delay"), "memory", "4M",
                "delay-write=300ms"));
        NbdClient c = NbdClient.open(s.uri, 16);
        List<Completed> writes = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Completed w = new Completed();
            writes.add(w);
            c.write(i * 65536L, ByteBuffer.allocate(65536), false, w);
        }
        c.close();
        for (Completed w : writes) {
            assertTrue(w.isDone(), "close() returned before a request it was waiting for completed");
            w.ok();
        }
        assertNull(c.failure());
        // nbdkit -v logs the soft disconnect
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Completed.WAIT_SECONDS);
        while (!s.output().contains("client sent NBD_CMD_DISC") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(s.output().contains("client sent NBD_CMD_DISC"), s.output());

        Completed after = new Completed();
        c.read(0, ByteBuffer.allocate(512), after);
        assertTrue(after.failed().getMessage().contains("is closed"), after.failure().getMessage());
        c.close();
    }

    @Test
    void closeFailsWhatIsStillInFlightAfterItsTimeout() throws Exception {
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=delay"), "memory", "4M",
                "delay-read=60"));
        NbdClient c = NbdClient.open(s.uri, 8);
        List<Completed> reads = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Completed r = new Completed();
            reads.add(r);
            c.read(i * 4096L, ByteBuffer.allocate(4096), r);
        }
        // one more waits for a slot, and must be failed too rather than left waiting
        Completed waiting = new Completed();
        Thread t = new Thread(() -> c.read(0, ByteBuffer.allocate(4096), waiting), "waiting");
        t.start();
        while (t.getState() != Thread.State.WAITING && t.isAlive()) {
            Thread.sleep(5);
        }
        assertTimeoutPreemptively(Duration.ofSeconds(Completed.WAIT_SECONDS), () -> c.close(Duration.ofMillis(200)));
        for (Completed r : reads) {
            assertTrue(r.isDone());
            assertTrue(r.failed().getMessage().contains("was closed with 8 requests unanswered after 200 ms"),
                    r.failure().getMessage());
        }
        t.join(TimeUnit.SECONDS.toMillis(Completed.WAIT_SECONDS));
        assertFalse(t.isAlive());
        waiting.failed();
    }
}
