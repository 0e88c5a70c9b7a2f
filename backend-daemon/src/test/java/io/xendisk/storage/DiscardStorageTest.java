package io.xendisk.storage;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiscardStorageTest {

    @Test
    void readsZerosAfterWritesAndDropsData() {
        try (Storage s = Storages.openStorage(StorageSpec.discard(1 << 20))) {
            assertEquals(1 << 20, s.sizeBytes());
            assertEquals(2048, s.sizeSectors());
            ByteBuffer src = ByteBuffer.allocate(200 * 1024);
            Arrays.fill(src.array(), (byte) 7);
            s.write(10, src);
            assertFalse(src.hasRemaining());
            s.flush();
            ByteBuffer dst = ByteBuffer.allocateDirect(200 * 1024); // larger than the zero block
            for (int i = 0; i < dst.capacity(); i++) {
                dst.put(i, (byte) 9);
            }
            s.read(10, dst);
            assertFalse(dst.hasRemaining());
            byte[] got = new byte[dst.capacity()];
            dst.flip().get(got);
            assertArrayEquals(new byte[got.length], got);
        }
    }

    @Test
    void defaultSizeIsOneGibAndCapabilitiesSayNothingIsKept() {
        try (Storage s = Storages.openStorage(new StorageSpec("discard", null, null, false, java.util.OptionalLong.empty()))) {
            assertEquals(StorageSpec.DEFAULT_DISCARD_SIZE, s.sizeBytes());
            Capabilities c = s.capabilities();
            assertFalse(c.durable());
            assertTrue(c.ephemeral());
            assertFalse(c.readOnly());
            assertFalse(c.zeroCopy());
        }
    }
}
