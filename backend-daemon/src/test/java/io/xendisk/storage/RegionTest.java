package io.xendisk.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The allocation-free zero-copy regions of the mapped engines. */
class RegionTest {
    @TempDir
    Path dir;
    @TempDir(factory = OnDisk.class)
    Path disk;

    @Test
    void mmapRegionWritesAreDiskWritesAndFlushPersistsThem() throws Exception {
        Path img = dir.resolve("m.img");
        Files.write(img, new byte[1 << 20]);
        byte[] data = new byte[4096];
        new Random(3).nextBytes(data);
        try (MappedStorage s = (MappedStorage) Storages.openStorage(StorageSpec.of("mmap", img, false))) {
            ByteBuffer r = s.region(100, 4096);
            assertNotNull(r);
            r.put(s.regionOffset(100), data);
            s.wrote(100, 4096);
            s.flush();
            ByteBuffer back = ByteBuffer.allocate(4096);
            s.read(100, back);
            assertArrayEquals(data, back.array());
        }
        byte[] file = Files.readAllBytes(img);
        byte[] at = new byte[4096];
        System.arraycopy(file, 100 * 512, at, 0, 4096);
        assertArrayEquals(data, at);
    }

    @Test
    void cowRegionChangesVanishAndStraddlingRangesHaveNoRegion() throws Exception {
        Path img = dir.resolve("g.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength((1L << 30) + (1 << 20));
        }
        try (MappedStorage s = (MappedStorage) Storages.openStorage(StorageSpec.of("cow", img, false))) {
            long lastSectorOfChunk0 = (1L << 30) / 512 - 1;
            assertNull(s.region(lastSectorOfChunk0, 1024), "straddles the 1 GiB boundary");
            ByteBuffer r = s.region(lastSectorOfChunk0 + 1, 512);
            assertNotNull(r);
            assertEquals(0, s.regionOffset(lastSectorOfChunk0 + 1));
            r.put(0, (byte) 0x5A);
            ByteBuffer back = ByteBuffer.allocate(512);
            s.read(lastSectorOfChunk0 + 1, back);
            assertEquals(0x5A, back.get(0));
        }
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            f.seek(1L << 30);
            assertEquals(0, f.read(), "the gold image is untouched");
        }
    }

    @Test
    void fileWithMappedReadsHasRegionsForReadsOnlyAndDiscardNone() throws Exception {
        Path img = disk.resolve("f.img"); // on tmpfs the file engine maps nothing
        byte[] bytes = new byte[4096];
        bytes[512] = 0x3C;
        Files.write(img, bytes);
        System.setProperty(FileStorage.MAPPED_READS_PROPERTY, "true");
        try (IoEngine e = Storages.open(StorageSpec.of("file", img, false))) {
            ByteBuffer r = e.region(1, 512);
            assertEquals(0x3C, r.get(e.regionOffset(1)), "the image's bytes, read through the mapping");
            assertTrue(r.isReadOnly(), "a write never goes through it");
        } finally {
            System.clearProperty(FileStorage.MAPPED_READS_PROPERTY);
        }
        try (IoEngine e = Storages.open(StorageSpec.discard(1 << 20))) {
            assertNull(e.region(0, 512));
        }
    }
}
