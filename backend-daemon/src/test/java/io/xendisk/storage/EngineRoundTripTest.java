package io.xendisk.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Storage contract, the same for every image-backed engine. */
class EngineRoundTripTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void roundTripsAtSeveralOffsetsAndSizes(String engine) throws Exception {
        byte[] model = Images.pattern(SIZE, 1);
        Path img = Images.patterned(dir, "a.img", SIZE, 1);
        long sectors = SIZE / 512;
        long[] offsets = {0, 1, 7, 8, 255, 4095, sectors - 8, sectors - 1};
        int[] sizes = {512, 4096, 8192 + 512, 65536, 1 << 20};
        int seed = 100;
        try (Storage s = Storages.openStorage(StorageSpec.of(engine, img, false))) {
            assertEquals(SIZE, s.sizeBytes());
            assertEquals(sectors, s.sizeSectors());
            for (long sector : offsets) {
                for (int len : sizes) {
                    if (sector * 512 + len > SIZE) {
                        continue;
                    }
                    byte[] data = Images.pattern(len, seed++);
                    // heap and direct buffers, with a non-zero position, both must work
                    ByteBuffer src = (seed % 2 == 0) ? ByteBuffer.allocateDirect(len + 3) : ByteBuffer.allocate(len + 3);
                    src.position(3).mark();
                    src.put(data).reset();
                    s.write(sector, src);
                    assertEquals(src.limit(), src.position(), "write advances src");
                    System.arraycopy(data, 0, model, (int) (sector * 512), len);

                    ByteBuffer dst = (seed % 3 == 0) ? ByteBuffer.allocateDirect(len + 5) : ByteBuffer.allocate(len + 5);
                    dst.position(5);
                    s.read(sector, dst);
                    assertEquals(dst.limit(), dst.position(), "read advances dst");
                    byte[] got = new byte[len];
                    dst.get(5, got);
                    assertArrayEquals(data, got, engine + " sector " + sector + " len " + len);
                }
            }
            ByteBuffer all = ByteBuffer.allocateDirect(SIZE);
            s.read(0, all);
            byte[] whole = new byte[SIZE];
            all.flip().get(whole);
            assertTrue(Arrays.equals(model, whole), "whole disk matches the model (no stray writes)");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void seededRandomOpsMatchAModel(String engine) throws Exception {
        byte[] model = new byte[SIZE];
        Path img = Images.sparse(dir, "r.img", SIZE);
        Random rnd = new Random(42);
        ByteBuffer buf = ByteBuffer.allocateDirect(128 * 1024);
        try (Storage s = Storages.openStorage(StorageSpec.of(engine, img, false))) {
            for (int i = 0; i < 300; i++) {
                int n = 1 + rnd.nextInt(256);
                long sector = rnd.nextInt((int) (s.sizeSectors() - n + 1));
                buf.clear().limit(n * 512);
                if (rnd.nextInt(3) == 0) {
                    s.read(sector, buf);
                    byte[] got = new byte[n * 512];
                    buf.flip().get(got);
                    assertArrayEquals(Arrays.copyOfRange(model, (int) sector * 512, (int) sector * 512 + n * 512), got,
                            "op " + i);
                } else {
                    byte[] data = new byte[n * 512];
                    rnd.nextBytes(data);
                    buf.put(data).flip();
                    s.write(sector, buf);
                    System.arraycopy(data, 0, model, (int) sector * 512, data.length);
                }
                if (rnd.nextInt(20) == 0) {
                    s.flush();
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"discard", "file", "mmap", "cow"})
    void outOfRangeAndPartialSectorsAreProgrammingErrors(String engine) throws Exception {
        StorageSpec spec = engine.equals("discard") ? StorageSpec.discard(SIZE)
                : StorageSpec.of(engine, Images.sparse(dir, "o.img", SIZE), false);
        try (Storage s = Storages.openStorage(spec)) {
            long last = s.sizeSectors() - 1;
            s.read(last, ByteBuffer.allocate(512));
            assertThrows(IllegalArgumentException.class, () -> s.read(last, ByteBuffer.allocate(1024)));
            assertThrows(IllegalArgumentException.class, () -> s.write(last + 1, ByteBuffer.allocate(512)));
            assertThrows(IllegalArgumentException.class, () -> s.read(-1, ByteBuffer.allocate(512)));
            assertThrows(IllegalArgumentException.class, () -> s.read(Long.MAX_VALUE, ByteBuffer.allocate(512)));
            assertThrows(IllegalArgumentException.class, () -> s.read(0, ByteBuffer.allocate(100)));
            assertThrows(IllegalArgumentException.class, () -> s.discard(1, Long.MAX_VALUE));
            assertThrows(IllegalArgumentException.class, () -> s.discard(last, 2));
            s.read(s.sizeSectors(), ByteBuffer.allocate(0)); // empty at the very end is fine
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"discard", "file", "mmap", "cow"})
    void readOnlyRefusesWritesAndDiscardsNamingTheImage(String engine) throws Exception {
        Path img = Images.patterned(dir, "ro.img", SIZE, 3);
        StorageSpec spec = engine.equals("discard")
                ? new StorageSpec("discard", null, null, true, java.util.OptionalLong.empty())
                : StorageSpec.of(engine, img, true);
        try (Storage s = Storages.openStorage(spec)) {
            assertTrue(s.capabilities().readOnly());
            StorageException e = assertThrows(StorageException.class, () -> s.write(0, ByteBuffer.allocate(512)));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
            if (!engine.equals("discard")) {
                assertTrue(e.getMessage().contains(img.toString()), e.getMessage());
            }
            assertThrows(StorageException.class, () -> s.discard(0, 8));
            s.flush();
            ByteBuffer dst = ByteBuffer.allocate(4096);
            s.read(8, dst);
            if (!engine.equals("discard")) {
                assertArrayEquals(Arrays.copyOfRange(Images.pattern(SIZE, 3), 4096, 8192), dst.array());
                if (s instanceof MappedStorage m) {
                    assertTrue(m.region(8, 4096).isReadOnly(), "regions of a read-only disk are read-only");
                }
            }
        }
        if (!engine.equals("discard")) {
            assertTrue(Images.openFlags(img).isEmpty(), "no descriptor left on " + img + " after close");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void readOnlyOpensTheImageReadOnly(String engine) throws Exception {
        Path img = Images.patterned(dir, "rofd.img", SIZE, 4);
        try (Storage s = Storages.openStorage(StorageSpec.of(engine, img, true))) {
            var flags = Images.openFlags(img);
            assertTrue(!flags.isEmpty(), "the engine holds the image open");
            for (int f : flags) {
                assertEquals(Posix.O_RDONLY, f & 3, "O_ACCMODE of a descriptor on " + img);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void discardedSectorsReadAsZeros(String engine) throws Exception {
        Path img = Images.patterned(dir, "d.img", SIZE, 5);
        try (Storage s = Storages.openStorage(StorageSpec.of(engine, img, false))) {
            assertTrue(s.capabilities().discard());
            ByteBuffer ones = ByteBuffer.allocate(64 * 1024);
            Arrays.fill(ones.array(), (byte) 1);
            s.write(0, ones);
            s.discard(8, 16); // bytes [4096, 12288): whole pages
            s.discard(33, 5); // bytes [16896, 19456): inside one page
            s.discard(47, 18); // bytes [24064, 33280): a page and the ends of two others
            s.flush();
            ByteBuffer dst = ByteBuffer.allocate(64 * 1024);
            s.read(0, dst);
            byte[] d = dst.array();
            for (int i = 0; i < d.length; i++) {
                boolean discarded = i >= 4096 && i < 12288 || i >= 16896 && i < 19456 || i >= 24064 && i < 33280;
                // never the gold image's bytes (cow): a discarded sector reads zeros on every engine
                assertEquals(discarded ? 0 : 1, d[i], engine + ": byte " + i + (discarded ? " was discarded" : " was not"));
            }
            s.discard(0, 0); // empty discard is a no-op
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mmap", "cow"})
    void regionsAreTheDisksMemory(String engine) throws Exception {
        Path img = Images.patterned(dir, "s.img", SIZE, 6);
        try (Storage s = Storages.openStorage(StorageSpec.of(engine, img, false))) {
            MappedStorage m = (MappedStorage) s;
            ByteBuffer view = m.region(16, 4096);
            assertNotNull(view);
            int at = m.regionOffset(16);
            byte[] seen = new byte[4096];
            view.get(at, seen);
            assertArrayEquals(Arrays.copyOfRange(Images.pattern(SIZE, 6), 8192, 12288), seen);
            view.put(at, (byte) 0x5a).put(at + 4095, (byte) 0xa5);
            m.wrote(16, 4096);
            ByteBuffer dst = ByteBuffer.allocate(4096);
            s.read(16, dst);
            assertEquals(0x5a, dst.get(0));
            assertEquals((byte) 0xa5, dst.get(4095));
            s.flush();
            if (engine.equals("mmap")) {
                byte[] file = Images.readIndependently(img, 8192, 4096);
                assertEquals(0x5a, file[0], "a write through a region is flushed like a write");
            }
        }
    }

    @Test
    void anEngineWithoutMemoryGivesNoRegions() throws Exception {
        try (IoEngine e = Storages.open(StorageSpec.discard(SIZE))) {
            assertFalse(e.capabilities().zeroCopy());
            assertFalse(e.capabilities().zeroCopyReads());
            assertNull(e.region(0, 4096));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void closeIsIdempotentAndLaterCallsAreRefused(String engine) throws Exception {
        Path img = Images.sparse(dir, "c.img", SIZE);
        Storage s = Storages.openStorage(StorageSpec.of(engine, img, false));
        s.close();
        s.close();
        assertThrows(IllegalStateException.class, () -> s.read(0, ByteBuffer.allocate(512)));
        assertThrows(IllegalStateException.class, () -> s.write(0, ByteBuffer.allocate(512)));
        assertThrows(IllegalStateException.class, s::flush);
        assertTrue(Images.openFlags(img).isEmpty(), "no descriptor left on the image");
    }
}
