package io.xendisk.storage.nbd;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server that dies under requests in flight and comes back: the requests
 * wait and succeed on the new connection, with the bytes where they belong;
 * a server that does not come back in time, one whose export changed, and a
 * close while the client waits for the server fail them by name. The first
 * server slows every request by a minute (nbdkit's delay filter), so the
 * requests are surely in flight when it is killed and surely not executed.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdClientReconnectTest {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 64;

    @TempDir
    Path dir;

    @AutoClose
    private final Kept kept = new Kept();

    private <T extends AutoCloseable> T keep(T c) {
        return kept.keep(c);
    }

    private static byte[] block(int index, int salt) {
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < BLOCK; i += 8) {
            b[i] = (byte) index;
            b[i + 1] = (byte) salt;
            b[i + 2] = (byte) (i >> 8);
        }
        return b;
    }

    /** A file of {@link #BLOCKS} blocks, each block(i, 1). */
    private Path image() throws IOException {
        Path f = dir.resolve("disk.img");
        byte[] all = new byte[BLOCK * BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            System.arraycopy(block(i, 1), 0, all, i * BLOCK, BLOCK);
        }
        Files.write(f, all);
        return f;
    }

    private NbdServer slowServer(Path socket, Path image) {
        return keep(NbdServer.nbdkit(dir, socket, "", List.of("--filter=delay"), "file", image.toString(),
                "delay-read=60", "delay-write=60"));
    }

    @Test
    void requestsInFlightWhenTheServerDiesAreSentAgainToTheNextOne() throws Exception {
        Path img = image();
        Path socket = dir.resolve("nbd.sock");
        NbdServer first = slowServer(socket, img);
        NbdClient c = keep(NbdClient.open(first.uri, 32));
        // 16 writes of new bytes and 16 reads of the old, all in flight
        List<Completed> writes = new ArrayList<>();
        List<Completed> reads = new ArrayList<>();
        List<ByteBuffer> readInto = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Completed w = new Completed();
            writes.add(w);
            c.write(i * (long) BLOCK, ByteBuffer.wrap(block(i, 2)), false, w);
            Completed r = new Completed();
            reads.add(r);
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
            readInto.add(dst);
            c.read((16 + i) * (long) BLOCK, dst, r);
        }
        assertEquals(32, c.inFlight());
        first.kill();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Completed.WAIT_SECONDS);
        while (!c.reconnecting() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(c.reconnecting(), "the client did not see the server die");
        // more requests while there is no server: they wait as well, one of them for a slot
        List<Completed> later = new ArrayList<>();
        List<Thread> submitters = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Completed w = new Completed();
            later.add(w);
            int block = 32 + i;
            Thread t = new Thread(() -> c.write(block * (long) BLOCK, ByteBuffer.wrap(block(block, 3)), false, w));
            submitters.add(t);
            t.start();
        }
        Thread.sleep(300);
        for (Completed w : writes) {
            assertFalse(w.isDone(), "a request completed while no server was there");
        }
        for (Completed w : later) {
            assertFalse(w.isDone(), "a request completed while no server was there");
        }

        keep(NbdServer.nbdkit(dir, socket, "", List.of(), "file", img.toString()));
        for (Completed w : writes) {
            w.ok();
        }
        for (Completed w : later) {
            w.ok();
        }
        for (int i = 0; i < 16; i++) {
            reads.get(i).ok();
            byte[] got = new byte[BLOCK];
            readInto.get(i).flip().get(got);
            assertArrayEquals(block(16 + i, 1), got, "block " + (16 + i) + " read again");
        }
        for (Thread t : submitters) {
            t.join();
        }
        assertFalse(c.reconnecting());
        assertNull(c.failure());

        Completed flush = new Completed();
        c.flush(flush);
        flush.ok();
        byte[] file = Files.readAllBytes(img);
        for (int i = 0; i < BLOCKS; i++) {
            int salt = i < 16 ? 2 : i >= 32 && i < 36 ? 3 : 1;
            assertArrayEquals(block(i, salt), Arrays.copyOfRange(file, i * BLOCK, (i + 1) * BLOCK),
                    "block " + i + " of the server's file");
        }
    }

    @Test
    void aServerThatDoesNotComeBackInTimeFailsTheRequests() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        NbdServer s = slowServer(socket, image());
        NbdClient c = keep(NbdClient.open(s.uri, 8, Duration.ofSeconds(1)));
        Completed r = new Completed();
        c.read(0, ByteBuffer.allocate(BLOCK), r);
        s.kill();
        IOException f = r.failed();
        assertTrue(f.getMessage().contains("the connection was not made again within 1 s"), f.getMessage());
        assertTrue(f.getMessage().contains("is the server running and listening there?"), f.getMessage());
        assertEquals(f, c.failure());
    }

    @Test
    void anExportThatChangedMeanwhileFailsTheRequestsByName() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        NbdServer s = keep(NbdServer.nbdkit(dir, socket, "", List.of("--filter=delay"), "memory", "16M",
                "delay-read=60"));
        NbdClient c = keep(NbdClient.open(s.uri, 8));
        Completed r = new Completed();
        c.read(0, ByteBuffer.allocate(BLOCK), r);
        s.kill();
        keep(NbdServer.nbdkit(dir, socket, "", List.of(), "memory", "8M"));
        IOException f = r.failed();
        assertInstanceOf(NbdException.class, f);
        assertTrue(f.getMessage().contains("changed while its dropped connection was made again: its size was"
                + " 16777216 B and is now 8388608 B"), f.getMessage());
    }

    @Test
    void closeWhileWaitingForTheServerFailsTheRequests() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        NbdServer s = slowServer(socket, image());
        NbdClient c = NbdClient.open(s.uri, 8);
        Completed r = new Completed();
        c.read(0, ByteBuffer.allocate(BLOCK), r);
        s.kill();
        while (!c.reconnecting()) {
            Thread.sleep(5);
        }
        long start = System.nanoTime();
        c.close(Duration.ofMillis(200));
        assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) < 15, "close took too long");
        IOException f = r.failed();
        assertTrue(f.getMessage().contains("closed"), f.getMessage());
    }
}
