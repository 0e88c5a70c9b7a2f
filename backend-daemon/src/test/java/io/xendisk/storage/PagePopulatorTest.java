package io.xendisk.storage;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A fresh mapping of an image gets the pages the page cache already holds
 * mapped in off the ring thread (what a new connection's first reads would
 * otherwise fault in one by one), and nothing else: no hole, no page read from
 * the disk. What a mapping holds is its resident set in /proc/self/smaps.
 */
class PagePopulatorTest {
    @TempDir(factory = OnDisk.class)
    Path disk;

    @AfterEach
    void defaults() {
        System.clearProperty(FileStorage.MAPPED_READS_PROPERTY);
        System.clearProperty(PagePopulator.PROPERTY);
    }

    @Test
    void aFileEnginesReadMappingGetsTheCachedPagesButNoHole() throws Exception {
        System.setProperty(FileStorage.MAPPED_READS_PROPERTY, "true");
        Path img = Images.sparse(disk, "cached.img", 8 << 20);
        byte[] a = Images.pattern(1 << 20, 3);
        byte[] b = Images.pattern(1 << 20, 4);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(0);
            f.write(a);
            f.seek(4 << 20);
            f.write(b); // both in the page cache now; the other 6 MiB are holes
        }
        long allocated = Images.allocatedBytes(img);
        try (FileStorage s = (FileStorage) Storages.openStorage(StorageSpec.of("file", img, false))) {
            assertTrue(s.awaitPopulated(30_000), "populated within 30 s");
            assertEquals(2 << 20, residentBytes(img), "the 2 MiB the page cache held are mapped, the holes not");
            assertEquals(allocated, Images.allocatedBytes(img), "populating allocated nothing in the image");
            assertArrayEquals(b, read(s, (4 << 20) / 512, b.length));
        }
    }

    @Test
    void anMmapEnginesMappingOnTmpfsIsFilledBeforeTheGuestTouchesIt() throws Exception {
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "xdj-test");
        Path img = shm.resolve("m.img");
        Files.write(img, Images.pattern(4 << 20, 5)); // a guest wrote it all before: every page in memory
        try (MmapStorage s = (MmapStorage) Storages.openStorage(StorageSpec.of("mmap", img, false))) {
            assertTrue(s.awaitPopulated(30_000), "populated within 30 s");
            assertEquals(4 << 20, residentBytes(img), "the whole image is mapped in");
        } finally {
            Files.deleteIfExists(img);
            Files.deleteIfExists(shm);
        }
    }

    @Test
    void theOptionOffLeavesTheMappingToFaultIn() throws Exception {
        System.setProperty(PagePopulator.PROPERTY, "false");
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "xdj-test");
        Path img = shm.resolve("off.img");
        Files.write(img, Images.pattern(4 << 20, 6));
        try (MmapStorage s = (MmapStorage) Storages.openStorage(StorageSpec.of("mmap", img, false))) {
            assertTrue(s.awaitPopulated(30_000));
            assertEquals(0, residentBytes(img), "nothing mapped in before the first touch");
        } finally {
            Files.deleteIfExists(img);
            Files.deleteIfExists(shm);
        }
    }

    private static byte[] read(Storage s, long sector, int bytes) {
        ByteBuffer dst = ByteBuffer.allocate(bytes);
        s.read(sector, dst);
        return dst.array();
    }

    /** The bytes of {@code img} mapped into this process (Rss of its areas in /proc/self/smaps). */
    static long residentBytes(Path img) throws Exception {
        String name = " " + img.toRealPath();
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        long kib = 0;
        boolean in = false;
        for (String l : lines) {
            if (l.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                in = l.endsWith(name);
            } else if (in && l.startsWith("Rss:")) {
                kib += Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return kib * 1024;
    }
}
