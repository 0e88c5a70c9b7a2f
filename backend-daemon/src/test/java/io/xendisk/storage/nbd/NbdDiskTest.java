package io.xendisk.storage.nbd;

import io.xendisk.storage.EngineRequest;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The nbd engine's connections: several to a server that allows them
 * (NBD_FLAG_CAN_MULTI_CONN), each ring batch on one and the next batch on the
 * next, seen from the server's own log; one to a server that does not.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdDiskTest {
    private static final int BATCH = 8;
    private static final int BYTES = 4096;
    private static final Pattern WRITE = Pattern.compile("connection=(\\d+) Write ");

    @TempDir
    Path dir;

    @AutoClose
    private final Kept kept = new Kept();

    @Test
    void aServerThatAllowsSeveralConnectionsGetsFourAndEveryOneCarriesBatches() throws Exception {
        Path log = dir.resolve("requests.log");
        NbdServer s = kept.keep(NbdServer.nbdkit(dir, true, "", List.of("--filter=log"), "memory", "16M",
                "logfile=" + log));
        IoEngine disk = kept.keep(withConnections("4",
                () -> Storages.open(StorageSpec.uri("nbd", s.uri.toString(), false))));
        assertEquals(4, ((NbdDisk) disk).connections());

        byte[][] written = writeAndReadBack(disk, 8);
        disk.close();
        Set<String> connections = new TreeSet<>();
        Matcher m = WRITE.matcher(Files.readString(log));
        while (m.find()) {
            connections.add(m.group(1));
        }
        assertEquals(4, connections.size(), "the connections nbdkit saw writes on: " + connections);
        // and the server holds what was written, read on a connection of its own
        try (NbdClient check = NbdClient.open(s.uri, 4)) {
            for (int i = 0; i < written.length; i++) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(BYTES);
                Completed r = new Completed();
                check.read((long) i * BYTES, b, r);
                r.ok();
                assertArrayEquals(written[i], b.array(), "block " + i + " on the server");
            }
        }
    }

    @Test
    void aServerWithoutMultiConnGetsOneConnection() throws Exception {
        Path image = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        NbdServer s = kept.keep(NbdServer.qemuNbd(dir, true, "disk", image));
        IoEngine disk = kept.keep(Storages.open(StorageSpec.uri("nbd", s.uri.toString(), false)));
        assertEquals(1, ((NbdDisk) disk).connections());
        byte[][] written = writeAndReadBack(disk, 4);
        disk.close();
        byte[] file = Files.readAllBytes(image);
        for (int i = 0; i < written.length; i++) {
            assertArrayEquals(written[i], java.util.Arrays.copyOfRange(file, i * BYTES, (i + 1) * BYTES), "block " + i);
        }
    }

    @Test
    void nbdConnectionsSetsTheCountAndOneIsTheDefault() throws Exception {
        NbdServer s = kept.keep(NbdServer.nbdkit(dir, true, "", List.of(), "memory", "1M"));
        try (IoEngine disk = Storages.open(StorageSpec.uri("nbd", s.uri.toString(), false))) {
            assertEquals(NbdEngine.DEFAULT_CONNECTIONS, ((NbdDisk) disk).connections());
            assertEquals(1, NbdEngine.DEFAULT_CONNECTIONS);
        }
        for (String n : new String[] {"1", "2"}) {
            try (IoEngine disk = withConnections(n, () -> Storages.open(StorageSpec.uri("nbd", s.uri.toString(), false)))) {
                assertEquals(Integer.parseInt(n), ((NbdDisk) disk).connections());
            }
        }
        for (String bad : new String[] {"0", "17", "all"}) {
            StorageException e = assertThrows(StorageException.class, () -> NbdEngine.connections(bad));
            assertTrue(e.getMessage().contains(NbdEngine.CONNECTIONS_PROPERTY + "='" + bad + "' is not a number of"
                    + " connections from 1 to 16"), e.getMessage());
        }
    }

    /** Opens a disk with the nbd-connections property set to {@code n}, as config.xml sets it. */
    private static IoEngine withConnections(String n, java.util.concurrent.Callable<IoEngine> open) throws Exception {
        String before = System.getProperty(NbdEngine.CONNECTIONS_PROPERTY);
        System.setProperty(NbdEngine.CONNECTIONS_PROPERTY, n);
        try {
            return open.call();
        } finally {
            if (before == null) {
                System.clearProperty(NbdEngine.CONNECTIONS_PROPERTY);
            } else {
                System.setProperty(NbdEngine.CONNECTIONS_PROPERTY, before);
            }
        }
    }

    /**
     * {@code batches} batches of {@link #BATCH} 4 KiB writes from this
     * thread, each unplugged as a ring does after its pass, then a flush, then
     * the same blocks read back in batches; returns what block i holds.
     */
    private static byte[][] writeAndReadBack(IoEngine disk, int batches) throws Exception {
        Random random = new Random(batches);
        byte[][] written = new byte[batches * BATCH][BYTES];
        for (int b = 0; b < batches; b++) {
            List<EngineRequest> batch = new ArrayList<>();
            for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
                random.nextBytes(written[i]);
                EngineRequest w = EngineRequest.write((long) i * BYTES / 512, written[i]);
                assertEquals(IoEngine.Submission.SUBMITTED, disk.submit(w));
                batch.add(w);
            }
            disk.unplug();
            for (EngineRequest w : batch) {
                assertNull(w.await());
            }
        }
        EngineRequest flush = EngineRequest.flush();
        disk.submit(flush);
        disk.unplug();
        assertNull(flush.await());
        for (int b = 0; b < batches; b++) {
            List<EngineRequest> batch = new ArrayList<>();
            for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
                EngineRequest r = EngineRequest.read((long) i * BYTES / 512, BYTES);
                disk.submit(r);
                batch.add(r);
            }
            disk.unplug();
            for (int i = 0; i < BATCH; i++) {
                assertNull(batch.get(i).await());
                assertArrayEquals(written[b * BATCH + i], batch.get(i).bytes(), "block " + (b * BATCH + i));
            }
        }
        return written;
    }
}
