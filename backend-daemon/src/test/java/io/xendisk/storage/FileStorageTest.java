package io.xendisk.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileStorageTest {
    @org.junit.jupiter.api.BeforeEach
    void mappedReadsOn() {
        System.setProperty(FileStorage.MAPPED_READS_PROPERTY, "true");
    }

    @org.junit.jupiter.api.AfterEach
    void mappedReadsDefault() {
        System.clearProperty(FileStorage.MAPPED_READS_PROPERTY);
    }

    @TempDir
    Path dir;
    /** A directory on a disk filesystem (images on tmpfs are read with preadv, see below). */
    @TempDir(factory = OnDisk.class)
    Path disk;

    @Test
    void afterFlushAnIndependentReaderSeesTheData() throws Exception {
        Path img = Images.sparse(dir, "f.img", 8 << 20);
        byte[] data = Images.pattern(12288, 9);
        try (Storage s = Storages.openStorage(StorageSpec.of("file", img, false))) {
            Capabilities c = s.capabilities();
            assertTrue(c.durable());
            assertFalse(c.ephemeral());
            assertFalse(c.zeroCopy());
            s.write(1001, ByteBuffer.wrap(data));
            s.flush();
            assertArrayEquals(data, Images.readIndependently(img, 1001 * 512L, data.length));
        }
        assertEquals(8 << 20, Files.size(img), "the image keeps its size");
    }

    @Test
    void readsThroughTheMappingSeeEveryWriteAndTheGrownTail() throws Exception {
        Path img = Images.sparse(disk, "m.img", 4 << 20);
        byte[] data = Images.pattern(8192, 3);
        try (IoEngine e = Storages.open(StorageSpec.of("file", img, false))) {
            Capabilities c = e.capabilities();
            assertTrue(c.zeroCopyReads(), "a regular file is read through a mapping");
            assertFalse(c.zeroCopy(), "writes stay system calls");
            assertTrue(c.vectored());
            EngineRequest w = EngineRequest.write(17, data);
            assertEquals(IoEngine.Submission.EXECUTED, e.submit(w));
            ByteBuffer region = e.region(17, data.length);
            byte[] got = new byte[data.length];
            region.get(e.regionOffset(17), got);
            assertArrayEquals(data, got, "the mapping holds what pwrite wrote");
            e.grow(8 << 20);
            ByteBuffer tail = e.region((6 << 20) / 512, 4096);
            assertTrue(tail != null, "the grown tail is mapped");
            byte[] zeros = new byte[4096];
            tail.get(e.regionOffset((6 << 20) / 512), zeros);
            assertArrayEquals(new byte[4096], zeros);
            EngineRequest w2 = EngineRequest.write((6 << 20) / 512, data);
            e.submit(w2);
            tail.get(e.regionOffset((6 << 20) / 512), got);
            assertArrayEquals(data, got, "a write to the grown tail shows in its mapping");
        }
    }

    @Test
    void aLargeImageIsOneMappedAreaAndCloseUnmapsItAtOnce() throws Exception {
        Path img = Images.sparse(disk, "big.img", 3L << 30); // three 1 GiB views, one area
        IoEngine e = Storages.open(StorageSpec.of("file", img, false));
        assertEquals(1, areasOf(img), "one memory area for the whole image");
        assertTrue(e.region((2L << 30) / 512, 4096) != null);
        e.close();
        assertEquals(0, areasOf(img), "unmapped at close, not at some later garbage collection");
    }

    @Test
    void anImageOnTmpfsIsReadWithPreadvSoReadingItsHolesAllocatesNothing() throws Exception {
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "xdj-test");
        Path img = Images.sparse(shm, "hole.img", 8 << 20);
        try (IoEngine e = Storages.open(StorageSpec.of("file", img, false))) {
            assertFalse(e.capabilities().zeroCopyReads(), "tmpfs: no read mapping");
            EngineRequest r = EngineRequest.read(0, 8 << 20);
            e.submit(r);
            assertArrayEquals(new byte[8 << 20], r.bytes());
            assertEquals(0, Images.allocatedBytes(img), "reading the holes allocated nothing");
        } finally {
            Files.deleteIfExists(img);
            Files.deleteIfExists(shm);
        }
    }

    @Test
    void byDefaultReadsArePreadvOnly() throws Exception {
        Path img = Images.sparse(disk, "p.img", 4 << 20);
        System.clearProperty(FileStorage.MAPPED_READS_PROPERTY);
        try (IoEngine e = Storages.open(StorageSpec.of("file", img, false))) {
            assertFalse(e.capabilities().zeroCopyReads(), "no mapping: reads are preadv");
            assertEquals(0, areasOf(img));
            EngineRequest w = EngineRequest.write(8, Images.pattern(4096, 5));
            e.submit(w);
            EngineRequest r = EngineRequest.read(8, 4096);
            e.submit(r);
            assertArrayEquals(Images.pattern(4096, 5), r.bytes());
        } finally {
            System.clearProperty(FileStorage.MAPPED_READS_PROPERTY);
        }
    }

    /** Memory areas of this process that map {@code img}. */
    private static long areasOf(Path img) throws Exception {
        String name = " " + img.toRealPath();
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.endsWith(name)).count();
        }
    }

    @Test
    void discardPunchesAHoleInASparseImage() throws Exception {
        Path img = Images.sparse(dir, "h.img", 8 << 20);
        try (Storage s = Storages.openStorage(StorageSpec.of("file", img, false))) {
            ByteBuffer ones = ByteBuffer.allocate(4 << 20);
            Arrays.fill(ones.array(), (byte) 1);
            s.write(0, ones);
            s.flush();
            assertEquals(0, Images.firstData(img), "data at 0 before the discard");
            s.discard(0, (4 << 20) / 512);
            s.flush();
            assertArrayEquals(new byte[4 << 20], Images.readIndependently(img, 0, 4 << 20));
            assertEquals(-1, Images.firstData(img), "no data left: the space was freed");
        }
        assertEquals(8 << 20, Files.size(img), "discard keeps the size");
    }

    @Test
    void readsPastAShrunkenFileReturnZeros() throws Exception {
        Path img = Images.patterned(dir, "shrink.img", 1 << 20, 11);
        try (Storage s = Storages.openStorage(StorageSpec.of("file", img, false))) {
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(4096); // someone truncates the image under us
            }
            ByteBuffer dst = ByteBuffer.allocate(8192);
            Arrays.fill(dst.array(), (byte) 3);
            s.read(4, dst);
            byte[] expect = new byte[8192];
            System.arraycopy(Images.pattern(1 << 20, 11), 2048, expect, 0, 2048);
            assertArrayEquals(expect, dst.array());
        }
    }

    /** Pieces of several page-like direct buffers, each from its own offset: one preadv/pwritev. */
    @Test
    void vectoredWritesAndReadsMoveEachPieceToItsPlace() throws Exception {
        Path img = Images.patterned(dir, "v.img", 1 << 20, 21);
        byte[] before = Images.readIndependently(img, 0, 1 << 20);
        ByteBuffer[] pages = new ByteBuffer[3];
        for (int i = 0; i < pages.length; i++) {
            pages[i] = ByteBuffer.allocateDirect(4096);
        }
        byte[] data = Images.pattern(512 + 4096 + 1024, 7);
        pages[0].put(3584, data, 0, 512);        // the last sector of page 0
        pages[1].put(0, data, 512, 4096);        // all of page 1
        pages[2].put(1024, data, 4608, 1024);    // sectors 2-3 of page 2
        int[] offsets = {3584, 0, 1024};
        int[] lengths = {512, 4096, 1024};
        try (Storage s = Storages.openStorage(StorageSpec.of("file", img, false))) {
            VectoredStorage v = (VectoredStorage) s;
            v.writev(100, pages, offsets, lengths, 3);
            s.flush();
            assertArrayEquals(data, Images.readIndependently(img, 100 * 512L, data.length));
            assertArrayEquals(Arrays.copyOfRange(before, 99 * 512, 100 * 512), Images.readIndependently(img, 99 * 512L, 512),
                    "the sector before is untouched");
            ByteBuffer[] back = {ByteBuffer.allocateDirect(4096), ByteBuffer.allocateDirect(4096), ByteBuffer.allocateDirect(4096)};
            v.readv(100, back, offsets, lengths, 3);
            byte[] got = new byte[data.length];
            back[0].get(3584, got, 0, 512);
            back[1].get(0, got, 512, 4096);
            back[2].get(1024, got, 4608, 1024);
            assertArrayEquals(data, got);
            assertEquals(0, back[2].get(0), "bytes outside a piece stay as they were");
            assertEquals(0, back[0].position(), "positions are left alone");
        }
    }

    @Test
    void vectoredReadsPastAShrunkenFileReturnZeros() throws Exception {
        Path img = Images.patterned(dir, "vshrink.img", 1 << 20, 12);
        byte[] head = Images.readIndependently(img, 0, 6144);
        try (Storage s = Storages.openStorage(StorageSpec.of("file", img, false))) {
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(6144);
            }
            ByteBuffer[] pages = {ByteBuffer.allocateDirect(4096), ByteBuffer.allocateDirect(4096)};
            for (ByteBuffer b : pages) {
                for (int i = 0; i < 4096; i++) {
                    b.put(i, (byte) 0x5A);
                }
            }
            ((VectoredStorage) s).readv(0, pages, new int[] {0, 0}, new int[] {4096, 4096}, 2);
            byte[] got = new byte[8192];
            pages[0].get(0, got, 0, 4096);
            pages[1].get(0, got, 4096, 4096);
            assertArrayEquals(Arrays.copyOf(head, 6144), Arrays.copyOf(got, 6144), "what is left of the file");
            assertArrayEquals(new byte[2048], Arrays.copyOfRange(got, 6144, 8192), "past its end: zeros");
        }
    }

}
