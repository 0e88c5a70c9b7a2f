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
    @TempDir
    Path dir;

    @Test
    void afterFlushAnIndependentReaderSeesTheData() throws Exception {
        Path img = Images.sparse(dir, "f.img", 8 << 20);
        byte[] data = Images.pattern(12288, 9);
        try (Storage s = Storages.open(StorageSpec.of("file", img, false))) {
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
    void discardPunchesAHoleInASparseImage() throws Exception {
        Path img = Images.sparse(dir, "h.img", 8 << 20);
        try (Storage s = Storages.open(StorageSpec.of("file", img, false))) {
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
        try (Storage s = Storages.open(StorageSpec.of("file", img, false))) {
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
}
