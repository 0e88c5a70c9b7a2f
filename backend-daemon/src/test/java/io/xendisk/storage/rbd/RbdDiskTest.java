package io.xendisk.storage.rbd;

import io.xendisk.storage.EngineRequest;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rbd engine against a real single-node Ceph cluster; {@code rbd export} judges the bytes. */
class RbdDiskTest {
    private static final int MIB = 1 << 20;

    @BeforeAll
    static void cluster() throws Exception {
        MicroCeph.conf();
    }

    private static String unique(String name) {
        return name + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    @Test
    void manyWritesInFlightLandWhereTheySayAndReadBack() throws Exception {
        String name = unique("inflight");
        String location = MicroCeph.create(name, 16);
        byte[] want = new byte[16 * MIB];
        Random random = new Random(7);
        try (IoEngine disk = Storages.open(StorageSpec.parse(location, false))) {
            assertEquals(16L * MIB, disk.sizeBytes());
            assertTrue(disk.capabilities().durable());
            assertFalse(disk.capabilities().readOnly());
            List<EngineRequest> writes = new ArrayList<>();
            List<long[]> ranges = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                int len;
                long sector;
                do {
                    len = (1 + random.nextInt(32)) * 4096;
                    sector = random.nextInt(16 * MIB - len) / 512;
                } while (overlapsAny(ranges, sector * 512, len));
                ranges.add(new long[] {sector * 512, len});
                byte[] data = new byte[len];
                random.nextBytes(data);
                EngineRequest w = EngineRequest.write(sector, data);
                assertEquals(IoEngine.Submission.SUBMITTED, disk.submit(w));
                writes.add(w);
                // writes in flight together may land in any order (as in blkif, where a frontend never has two
                // overlapping writes in flight), so each batch of 50 covers disjoint ranges
                if (i % 50 == 49) {
                    for (EngineRequest x : writes) {
                        assertNull(x.await());
                    }
                    writes.clear();
                    ranges.clear();
                }
                System.arraycopy(data, 0, want, (int) sector * 512, len);
            }
            for (EngineRequest x : writes) {
                assertNull(x.await());
            }
            EngineRequest flush = EngineRequest.flush();
            disk.submit(flush);
            assertNull(flush.await());
            EngineRequest read = EngineRequest.read(0, 4 * MIB);
            disk.submit(read);
            assertNull(read.await());
            assertArrayEquals(Arrays.copyOf(want, 4 * MIB), read.bytes());
        }
        assertArrayEquals(want, MicroCeph.export(name));
    }

    private static boolean overlapsAny(List<long[]> ranges, long offset, int len) {
        for (long[] r : ranges) {
            if (offset < r[0] + r[1] && r[0] < offset + len) {
                return true;
            }
        }
        return false;
    }

    @Test
    void aDiscardReadsBackAsZeros() throws Exception {
        String name = unique("discard");
        String location = MicroCeph.create(name, 8);
        byte[] ones = new byte[MIB];
        Arrays.fill(ones, (byte) 1);
        try (IoEngine disk = Storages.open(StorageSpec.parse(location, false))) {
            EngineRequest w = EngineRequest.write(0, ones);
            disk.submit(w);
            assertNull(w.await());
            EngineRequest d = EngineRequest.discard(512, 1024);
            disk.submit(d);
            assertNull(d.await());
        }
        byte[] got = MicroCeph.export(name);
        assertArrayEquals(Arrays.copyOf(ones, 256 * 1024), Arrays.copyOf(got, 256 * 1024));
        assertArrayEquals(new byte[512 * 1024], Arrays.copyOfRange(got, 256 * 1024, 768 * 1024));
    }

    @Test
    void aSnapshotOpensReadOnlyWithItsBytes() throws Exception {
        String name = unique("snap");
        String location = MicroCeph.create(name, 4);
        byte[] first = new byte[4096];
        Arrays.fill(first, (byte) 5);
        try (IoEngine disk = Storages.open(StorageSpec.parse(location, false))) {
            EngineRequest w = EngineRequest.write(0, first);
            disk.submit(w);
            assertNull(w.await());
        }
        MicroCeph.rbd("snap", "create", "rbd/" + name + "@one");
        try (IoEngine disk = Storages.open(StorageSpec.parse(location, false))) {
            EngineRequest w = EngineRequest.write(0, new byte[4096]);
            disk.submit(w);
            assertNull(w.await());
        }
        String snapLocation = "rbd:rbd/" + name + "@one:conf=" + MicroCeph.conf();
        try (IoEngine snap = Storages.open(StorageSpec.parse(snapLocation, false))) {
            assertTrue(snap.capabilities().readOnly(), "a snapshot is read-only");
            EngineRequest r = EngineRequest.read(0, 4096);
            snap.submit(r);
            assertNull(r.await());
            assertArrayEquals(first, r.bytes());
        }
    }

    @Test
    void aWriterHoldsTheImageAndASecondOpenNamesTheHolder() throws Exception {
        String name = unique("locked");
        String location = MicroCeph.create(name, 4);
        try (IoEngine first = Storages.open(StorageSpec.parse(location, false))) {
            StorageException e = assertThrows(StorageException.class,
                    () -> Storages.open(StorageSpec.parse(location, false)).close());
            assertTrue(e.getMessage().startsWith("RBD image rbd:rbd/" + name + ": the image is in use: its exclusive"
                    + " lock is held by "), e.getMessage());
            assertTrue(e.getMessage().contains("rbd status rbd/" + name), e.getMessage());
            // a reader takes no lock
            try (IoEngine reader = Storages.open(StorageSpec.parse(location, true))) {
                assertTrue(reader.capabilities().readOnly());
            }
        }
        // closed, the lock is free again
        Storages.open(StorageSpec.parse(location, false)).close();
    }

    @Test
    void whatCannotBeOpenedIsNamed() throws Exception {
        String conf = MicroCeph.conf().toString();
        StorageException noImage = assertThrows(StorageException.class,
                () -> Storages.open(StorageSpec.parse("rbd:rbd/no-such-image:conf=" + conf, false)));
        assertEquals("RBD image rbd:rbd/no-such-image: no such image (rbd ls rbd lists the pool's images; rbd create"
                + " makes one)", noImage.getMessage());
        StorageException noPool = assertThrows(StorageException.class,
                () -> Storages.open(StorageSpec.parse("rbd:nopool/img:conf=" + conf, false)));
        assertEquals("RBD image rbd:nopool/img: the cluster has no pool 'nopool'", noPool.getMessage());
        StorageException noConf = assertThrows(StorageException.class,
                () -> Storages.open(StorageSpec.parse("rbd:rbd/img:conf=/nonexistent/ceph.conf", false)));
        assertTrue(noConf.getMessage().startsWith("RBD image rbd:rbd/img: reading the conf file /nonexistent/ceph.conf"
                + " failed: "), noConf.getMessage());
    }
}
