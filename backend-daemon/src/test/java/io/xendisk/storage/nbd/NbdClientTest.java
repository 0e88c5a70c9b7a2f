package io.xendisk.storage.nbd;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.time.Duration;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The transmission phase against real servers: random reads and writes from
 * several threads with many in flight, checked against a shadow array and,
 * for the servers that export a file, against the file itself; the in-flight
 * bound; requests split at the server's maximum; flush, FUA, write zeroes and
 * trim; and what the client refuses to send.
 */
// a lost completion or a silent server must fail the test, not hang the build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdClientTest {
    private static final Logger LOG = LogManager.getLogger(NbdClientTest.class);
    private static final int MIB = 1 << 20;
    private static final int SECTOR = 512;

    @TempDir
    Path dir;

    @AutoClose
    private final Kept kept = new Kept();

    private <T extends AutoCloseable> T keep(T c) {
        return kept.keep(c);
    }

    private NbdClient client(NbdUri uri, int maxInFlight) throws IOException {
        return keep(NbdClient.open(uri, maxInFlight));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nbdkit-file", "nbdkit-memory", "qemu-nbd", "nbd-server"})
    void randomIoFromSeveralThreadsMatchesTheShadowAndTheServersFile(String server) throws Exception {
        int size = 32 * MIB;
        byte[] shadow = new byte[size];
        new Random(1).nextBytes(shadow);
        Path file = dir.resolve("export.img");
        NbdServer s;
        switch (server) {
            case "nbdkit-file" -> {
                Files.write(file, shadow);
                s = keep(NbdServer.nbdkit(dir, false, "", List.of(), "file", file.toString()));
            }
            case "nbdkit-memory" -> {
                Arrays.fill(shadow, (byte) 0);
                file = null;
                s = keep(NbdServer.nbdkit(dir, true, "", List.of(), "memory", Integer.toString(size)));
            }
            case "qemu-nbd" -> {
                Files.write(file, shadow);
                s = keep(NbdServer.qemuNbd(dir, true, "disk", file));
            }
            case "nbd-server" -> {
                Files.write(file, shadow);
                s = keep(NbdServer.nbdServer(dir, false, "disk", file, "flush = true", "fua = true"));
            }
            default -> throw new AssertionError(server);
        }
        NbdClient c = client(s.uri, 64);
        assertEquals(size, c.size());

        int peak = randomIo(c, shadow, 4, 16, 25, 42);
        LOG.info("{}: up to {} requests in flight at once", server, peak);

        if (c.canFlush()) {
            Completed f = new Completed();
            c.flush(f);
            f.ok();
        }
        // everything read back in one go (split by the client at its maximum request)
        ByteBuffer all = ByteBuffer.allocateDirect(size);
        Completed r = new Completed();
        c.read(0, all, r);
        r.ok();
        assertEquals(size, all.position());
        assertSame(shadow, all.flip(), "reading back the whole export of " + s);
        c.close();
        if (file != null) {
            assertArrayEquals(shadow, Files.readAllBytes(file), "the file " + s + " exports");
        }
    }

    /**
     * {@code threads} threads each submit {@code batches} batches of
     * {@code batch} random reads and writes without waiting between them, then
     * wait for the batch. Requests never overlap one another while in flight
     * (each reserves its sectors), so the shadow stays the truth. Returns the
     * most requests seen in flight at once.
     */
    private static int randomIo(NbdClient c, byte[] shadow, int threads, int batch, int batches, long seed)
            throws Exception {
        int sectors = shadow.length / SECTOR;
        BitSet busy = new BitSet(sectors);
        Queue<String> errors = new ConcurrentLinkedQueue<>();
        AtomicInteger current = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Random rnd = new Random(seed + t);
            Thread w = new Thread(() -> {
                try {
                    for (int b = 0; b < batches; b++) {
                        CountDownLatch batchDone = new CountDownLatch(batch);
                        for (int i = 0; i < batch; i++) {
                            int n = rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(512) : 1 + rnd.nextInt(32);
                            int first = reserve(busy, sectors, n, rnd);
                            int off = first * SECTOR;
                            int len = n * SECTOR;
                            ByteBuffer buf = rnd.nextBoolean() ? ByteBuffer.allocate(len) : ByteBuffer.allocateDirect(len);
                            boolean write = rnd.nextInt(10) < 7;
                            NbdClient.Completion done = (e, f) -> {
                                current.decrementAndGet();
                                if (e != 0) {
                                    errors.add((write ? "write" : "read") + " of " + len + " at " + off + ": "
                                            + NbdProtocol.errorName(e) + " " + f);
                                } else if (buf.position() != len) {
                                    errors.add("buffer position " + buf.position() + " after " + len + " bytes");
                                } else if (!write) {
                                    buf.flip();
                                    for (int k = 0; k < len; k++) {
                                        if (buf.get(k) != shadow[off + k]) {
                                            errors.add("read of " + len + " at " + off + " differs at " + (off + k));
                                            break;
                                        }
                                    }
                                }
                                release(busy, first, n);
                                batchDone.countDown();
                            };
                            peak.accumulateAndGet(current.incrementAndGet(), Math::max);
                            if (write) {
                                byte[] data = new byte[len];
                                rnd.nextBytes(data);
                                System.arraycopy(data, 0, shadow, off, len);
                                buf.put(data).flip();
                                c.write(off, buf, c.canFua() && rnd.nextInt(20) == 0, done);
                            } else {
                                c.read(off, buf, done);
                            }
                        }
                        if (!batchDone.await(Completed.WAIT_SECONDS, TimeUnit.SECONDS)) {
                            errors.add("a batch did not complete within " + Completed.WAIT_SECONDS + " s");
                            return;
                        }
                    }
                } catch (InterruptedException e) {
                    errors.add("interrupted");
                } catch (RuntimeException | Error e) {
                    errors.add(e.toString());
                }
            }, "random-io-" + t);
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            w.join(TimeUnit.SECONDS.toMillis(4 * Completed.WAIT_SECONDS));
            assertFalse(w.isAlive(), w.getName() + " did not finish");
        }
        assertTrue(errors.isEmpty(), () -> errors.size() + " errors, the first: " + errors.peek());
        return peak.get();
    }

    /** Picks and reserves {@code n} free sectors at random; retries while the pick overlaps one in flight. */
    private static int reserve(BitSet busy, int sectors, int n, Random rnd) {
        while (true) {
            int first = rnd.nextInt(sectors - n + 1);
            synchronized (busy) {
                int next = busy.nextSetBit(first);
                if (next < 0 || next >= first + n) {
                    busy.set(first, first + n);
                    return first;
                }
            }
        }
    }

    private static void release(BitSet busy, int first, int n) {
        synchronized (busy) {
            busy.clear(first, first + n);
        }
    }

    private static void assertSame(byte[] expected, ByteBuffer actual, String what) {
        assertEquals(expected.length, actual.remaining(), what);
        for (int i = 0; i < expected.length; i++) {
            if (actual.get(actual.position() + i) != expected[i]) {
                fail(what + ": differs first at byte " + i);
            }
        }
    }

    @Test
    void sixtyFourRequestsAreInFlightAtOnceAndTheSixtyFifthWaits() throws Exception {
        Path control = dir.resolve("pause.sock");
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=pause"), "memory", "8M",
                "pause-control=" + control));
        NbdClient c = client(s.uri, 64);
        byte[] pattern = new byte[64 * 4096];
        new Random(7).nextBytes(pattern);
        Completed w = new Completed();
        c.write(0, ByteBuffer.wrap(pattern), false, w);
        w.ok();

        // while nbdkit's pause filter holds every request, all that are sent stay in flight
        try (PauseControl pause = new PauseControl(control)) {
            pause.send('p');
            Completed[] reads = new Completed[64];
            ByteBuffer[] bufs = new ByteBuffer[64];
            for (int i = 0; i < 64; i++) {
                reads[i] = new Completed();
                bufs[i] = ByteBuffer.allocate(4096);
                c.read(i * 4096L, bufs[i], reads[i]);
            }
            assertEquals(64, c.inFlight());
            Completed last = new Completed();
            Thread waiter = new Thread(() -> c.read(0, ByteBuffer.allocate(4096), last), "65th");
            waiter.start();
            awaitState(waiter, Thread.State.WAITING);
            assertFalse(last.isDone());
            for (Completed r : reads) {
                assertFalse(r.isDone());
            }
            pause.send('r');
            for (int i = 0; i < 64; i++) {
                reads[i].ok();
                assertArrayEquals(Arrays.copyOfRange(pattern, i * 4096, (i + 1) * 4096), bufs[i].array(), "read " + i);
            }
            last.ok();
            waiter.join(TimeUnit.SECONDS.toMillis(Completed.WAIT_SECONDS));
        }
        assertEquals(0, c.inFlight());
    }

    /**
     * A batched client holds requests until unplug() (the server sees none
     * before), writes a batch of small and large writes and reads in one go,
     * and sends what it holds itself when a caller must wait for a slot.
     */
    @Test
    void aBatchedClientSendsWhatItHoldsOnUnplugOrWhenItRunsOutOfSlots() throws Exception {
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of(), "memory", "16M"));
        NbdClient c = keep(NbdClient.open(s.uri, 8, Duration.ZERO, true));
        byte[] small = new byte[4096];
        byte[] large = new byte[256 << 10]; // beyond what is copied: its own write
        new Random(3).nextBytes(small);
        new Random(4).nextBytes(large);
        Completed w1 = new Completed();
        Completed w2 = new Completed();
        c.write(0, ByteBuffer.wrap(small), false, w1);
        Thread.sleep(300);
        assertFalse(w1.isDone(), "a held request was answered before unplug()");
        c.write(1 << 20, ByteBuffer.allocateDirect(large.length).put(large).flip(), false, w2);
        c.unplug();
        w1.ok();
        w2.ok();
        ByteBuffer back = ByteBuffer.allocate(large.length);
        Completed r = new Completed();
        c.read(1 << 20, back, r);
        c.unplug();
        r.ok();
        assertArrayEquals(large, back.array());

        // 40 writes from one thread through 8 slots, never unplugged by the caller: no deadlock
        List<Completed> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            Completed w = new Completed();
            all.add(w);
            c.write(i * 4096L, ByteBuffer.wrap(small), false, w);
        }
        c.unplug();
        for (Completed w : all) {
            w.ok();
        }
        ByteBuffer b = ByteBuffer.allocate(4096);
        Completed last = new Completed();
        c.read(39 * 4096L, b, last);
        c.unplug();
        last.ok();
        assertArrayEquals(small, b.array());
    }

    /** The control socket of nbdkit's pause filter: 'p' pauses, 'r' resumes, each echoed in upper case. */
    private static final class PauseControl implements AutoCloseable {
        private final java.nio.channels.SocketChannel ch;

        PauseControl(Path socket) throws IOException {
            ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
            ch.connect(java.net.UnixDomainSocketAddress.of(socket));
        }

        void send(char command) throws IOException {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) command}));
            ByteBuffer echo = ByteBuffer.allocate(1);
            while (echo.hasRemaining()) {
                if (ch.read(echo) < 0) {
                    throw new IOException("the pause filter hung up");
                }
            }
            assertEquals(Character.toUpperCase(command), (char) echo.get(0));
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    private static void awaitState(Thread t, Thread.State state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Completed.WAIT_SECONDS);
        while (t.getState() != state) {
            if (System.nanoTime() > deadline) {
                fail(t.getName() + " is " + t.getState() + ", not " + state);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void requestsLargerThanTheServersMaximumAreSplit() throws Exception {
        // the server fails any request over 64 KiB with NBD_EINVAL: only split requests get through
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=blocksize-policy"), "memory", "4M",
                "blocksize-maximum=65536", "blocksize-error-policy=error"));
        NbdClient c = client(s.uri, 8);
        assertEquals(65536, c.maxRequest());
        byte[] data = new byte[MIB + 4096];
        new Random(3).nextBytes(data);
        Completed w = new Completed();
        ByteBuffer src = ByteBuffer.wrap(data, 0, data.length);
        c.write(512, src, false, w);
        w.ok();
        assertEquals(data.length, src.position());

        // a direct buffer with a window in the middle: only the window is read, into its place
        ByteBuffer dst = ByteBuffer.allocateDirect(data.length + 1024);
        dst.position(512).limit(512 + data.length);
        Completed r = new Completed();
        c.read(512, dst, r);
        r.ok();
        assertEquals(512 + data.length, dst.position());
        assertEquals(512 + data.length, dst.limit());
        assertSame(data, dst.position(512), "the split read");

        Completed z = new Completed();
        c.writeZeroes(0, 2 * MIB, false, false, z);
        z.ok();
    }

    @Test
    void qemuNbdsThirtyTwoMebibyteMaximumSplitsALargerRead() throws Exception {
        int size = 48 * MIB;
        byte[] content = new byte[size];
        new Random(5).nextBytes(content);
        Path img = dir.resolve("big.img");
        Files.write(img, content);
        NbdServer s = keep(NbdServer.qemuNbd(dir, true, "big", img));
        NbdClient c = client(s.uri, 4);
        assertEquals(32 * MIB, c.maxRequest());
        ByteBuffer dst = ByteBuffer.allocate(40 * MIB);
        Completed r = new Completed();
        c.read(4 * MIB, dst, r);
        r.ok();
        assertArrayEquals(Arrays.copyOfRange(content, 4 * MIB, 44 * MIB), dst.array());
    }

    @Test
    void flushFuaWriteZeroesAndTrim() throws Exception {
        Path file = dir.resolve("z.img");
        byte[] ones = new byte[2 * MIB];
        Arrays.fill(ones, (byte) 0x5a);
        Files.write(file, ones);
        NbdServer s = keep(NbdServer.qemuNbd(dir, true, "z", file));
        NbdClient c = client(s.uri, 16);
        assertTrue(c.canFlush() && c.canFua() && c.canTrim() && c.canWriteZeroes());

        Completed zero = new Completed();
        c.writeZeroes(4096, 65536, true, false, zero);
        Completed fuaZero = new Completed();
        c.writeZeroes(MIB, 4096, false, true, fuaZero);
        byte[] marks = new byte[8192];
        Arrays.fill(marks, (byte) 0x11);
        Completed fua = new Completed();
        c.write(MIB + 65536, ByteBuffer.wrap(marks), true, fua);
        Completed trim = new Completed();
        c.trim(MIB + 512 * 1024, 256 * 1024, trim);
        zero.ok();
        fuaZero.ok();
        fua.ok();
        trim.ok();
        Completed flush = new Completed();
        c.flush(flush);
        flush.ok();

        byte[] disk = Files.readAllBytes(file);
        byte[] expected = ones.clone();
        Arrays.fill(expected, 4096, 4096 + 65536, (byte) 0);
        Arrays.fill(expected, MIB, MIB + 4096, (byte) 0);
        System.arraycopy(marks, 0, expected, MIB + 65536, marks.length);
        // after a trim the contents are the server's choice; compare around it
        Arrays.fill(expected, MIB + 512 * 1024, MIB + 768 * 1024, (byte) 0);
        Arrays.fill(disk, MIB + 512 * 1024, MIB + 768 * 1024, (byte) 0);
        assertArrayEquals(expected, disk);
    }

    @Test
    void whatTheExportDoesNotOfferIsRefusedAtTheCall() throws Exception {
        Path file = dir.resolve("ro.img");
        Files.write(file, new byte[MIB]);
        NbdServer s = keep(NbdServer.nbdServer(dir, true, "ro", file, "readonly = true"));
        NbdClient c = client(s.uri, 4);
        assertTrue(c.readOnly());
        ByteBuffer b = ByteBuffer.allocate(512);
        Completed never = new Completed();
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> c.write(0, b, false, never));
        assertTrue(e.getMessage().contains("is read-only (NBD_FLAG_READ_ONLY)"), e.getMessage());
        e = assertThrows(UnsupportedOperationException.class, () -> c.flush(never));
        assertTrue(e.getMessage().contains("does not offer NBD_CMD_FLUSH (no NBD_FLAG_SEND_FLUSH)"), e.getMessage());
        assertFalse(never.isDone());

        IllegalArgumentException out = assertThrows(IllegalArgumentException.class,
                () -> c.read(MIB - 256, ByteBuffer.allocate(512), never));
        assertTrue(out.getMessage().contains("is outside the 1048576 bytes"), out.getMessage());
        Completed r = new Completed();
        c.read(MIB - 512, b, r);
        r.ok();
    }

    @Test
    void requestsMustBeAlignedToTheMinimumBlock() throws Exception {
        NbdServer s = keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=blocksize-policy"), "memory", "1M",
                "blocksize-minimum=4096"));
        NbdClient c = client(s.uri, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> c.read(512, ByteBuffer.allocate(4096), new Completed()));
        assertTrue(e.getMessage().contains("not aligned to the minimum block size 4096"), e.getMessage());
        Completed r = new Completed();
        c.read(4096, ByteBuffer.allocate(8192), r);
        r.ok();
    }
}
