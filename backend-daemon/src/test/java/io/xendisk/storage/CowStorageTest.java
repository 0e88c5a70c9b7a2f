package io.xendisk.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CowStorageTest {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    @Test
    void writesAreVisibleAndTheGoldStaysByteIdentical() throws Exception {
        int size = 16 << 20;
        Path gold = Images.patterned(dir, "gold.img", size, 7);
        Files.setPosixFilePermissions(gold, PosixFilePermissions.fromString("r--r--r--"));
        String before = Images.sha256(gold);
        byte[] data = Images.pattern(1 << 20, 8);
        try (Storage s = Storages.openStorage(StorageSpec.of("cow", gold, false))) {
            Capabilities c = s.capabilities();
            assertTrue(c.ephemeral());
            assertFalse(c.durable());
            assertFalse(c.readOnly());
            for (int f : Images.openFlags(gold)) {
                assertEquals(Posix.O_RDONLY, f & 3, "the gold is only ever opened O_RDONLY");
            }
            assertFalse(Images.openFlags(gold).isEmpty());
            s.write(3, ByteBuffer.wrap(data));
            s.flush(); // succeeds, changes nothing on disk
            ByteBuffer dst = ByteBuffer.allocate(data.length);
            s.read(3, dst);
            assertArrayEquals(data, dst.array());
            assertEquals(before, Images.sha256(gold), "the gold is untouched while served");
        }
        assertEquals(before, Images.sha256(gold), "the gold is untouched after close");
        try (Storage s = Storages.openStorage(StorageSpec.of("cow", gold, false))) {
            ByteBuffer dst = ByteBuffer.allocate(data.length);
            s.read(3, dst);
            assertArrayEquals(Arrays.copyOfRange(Images.pattern(size, 7), 1536, 1536 + data.length), dst.array(),
                    "changes vanished with the close");
        }
    }

    @Test
    void goldOverTwoGibIsServedAcrossChunkBoundaries() throws Exception {
        long size = 3 * GIB + 4096;
        Path gold = Images.sparse(dir, "biggold.img", size);
        Files.setPosixFilePermissions(gold, PosixFilePermissions.fromString("r--r--r--"));
        long[] offsets = {GIB - 4096, 2 * GIB - 512, size - 8192};
        try (Storage s = Storages.openStorage(StorageSpec.of("cow", gold, false))) {
            assertEquals(size, s.sizeBytes());
            int seed = 30;
            for (long off : offsets) {
                s.write(off / 512, ByteBuffer.wrap(Images.pattern(8192, seed++)));
            }
            seed = 30;
            for (long off : offsets) {
                ByteBuffer dst = ByteBuffer.allocateDirect(8192);
                s.read(off / 512, dst);
                byte[] got = new byte[8192];
                dst.flip().get(got);
                assertArrayEquals(Images.pattern(8192, seed++), got, "at " + off);
            }
        }
        for (long off : offsets) {
            assertArrayEquals(new byte[8192], Images.readIndependently(gold, off, 8192), "gold still zero at " + off);
        }
        assertEquals(-1, Images.firstData(gold), "nothing was ever written to the gold");
        assertEquals(size, Files.size(gold));
    }
}
