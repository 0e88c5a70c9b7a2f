package io.xendisk.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MmapStorageTest {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    @Test
    void afterFlushTheDataIsInTheFile() throws Exception {
        Path img = Images.sparse(dir, "m.img", 8 << 20);
        byte[] a = Images.pattern(4096, 1);
        byte[] b = Images.pattern(512, 2);
        try (Storage s = Storages.openStorage(StorageSpec.of("mmap", img, false))) {
            assertTrue(s.capabilities().durable());
            s.write(8, ByteBuffer.wrap(a));
            s.write(16383, ByteBuffer.wrap(b)); // last sector
            s.flush();
            assertArrayEquals(a, Images.readIndependently(img, 4096, 4096));
            assertArrayEquals(b, Images.readIndependently(img, (8 << 20) - 512, 512));
            s.flush(); // nothing dirty: still fine
        }
    }

    @Test
    void imagesOverTwoGibAreServedInChunksAcrossBoundaries() throws Exception {
        long size = 3 * GIB + 4096;
        Path img = Images.sparse(dir, "big.img", size);
        long[] offsets = {GIB - 4096, 2 * GIB - 512, size - 8192, 0};
        try (Storage s = Storages.openStorage(StorageSpec.of("mmap", img, false))) {
            assertEquals(size, s.sizeBytes());
            int seed = 20;
            for (long off : offsets) {
                byte[] data = Images.pattern(8192, seed++);
                s.write(off / 512, ByteBuffer.wrap(data)); // straddles the 1 GiB and 2 GiB chunk boundaries
            }
            s.flush();
            seed = 20;
            for (long off : offsets) {
                byte[] data = Images.pattern(8192, seed++);
                ByteBuffer dst = ByteBuffer.allocateDirect(8192);
                s.read(off / 512, dst);
                byte[] got = new byte[8192];
                dst.flip().get(got);
                assertArrayEquals(data, got, "engine read at " + off);
                assertArrayEquals(data, Images.readIndependently(img, off, 8192), "file at " + off);
            }
            MappedStorage m = (MappedStorage) s;
            assertNull(m.region((GIB - 4096) / 512, 8192), "no single region across a chunk boundary");
            assertNotNull(m.region((3 * GIB) / 512, 4096));
            assertEquals(0, m.regionOffset((3 * GIB) / 512));
        }
        assertEquals(size, Files.size(img));
    }

    @Test
    void discardPunchesAHoleThroughTheMapping() throws Exception {
        Path img = Images.patterned(dir, "h.img", 8 << 20, 3);
        try (Storage s = Storages.openStorage(StorageSpec.of("mmap", img, false))) {
            long before = Images.allocatedBytes(img);
            assertTrue(before >= 8 << 20, "every block allocated at open: " + before);
            s.discard(2048, (4 << 20) / 512); // bytes [1 MiB, 5 MiB)
            s.flush();
            ByteBuffer dst = ByteBuffer.allocate(4 << 20);
            s.read(2048, dst);
            assertArrayEquals(new byte[4 << 20], dst.array(), "the mapping reads zeros");
            assertArrayEquals(new byte[4 << 20], Images.readIndependently(img, 1 << 20, 4 << 20), "so does the file");
            long after = Images.allocatedBytes(img);
            assertTrue(after <= before - (4 << 20), "the filesystem got 4 MiB back: " + before + " -> " + after);
            byte[] kept = Images.readIndependently(img, 0, 1 << 20);
            assertArrayEquals(java.util.Arrays.copyOfRange(Images.pattern(8 << 20, 3), 0, 1 << 20), kept);
        }
    }
}
