package io.xendisk.blkif;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The names spelt as blkif.h, xenbus and libxl spell them: both ends rely on this table alone. */
class BlkifNodesTest {
    @Test
    void multiPageAndMultiQueueNamesAreBlkifHs() {
        assertEquals("ring-ref", BlkifNodes.RING_REF);
        assertEquals("ring-ref0", BlkifNodes.ringRef(0));
        assertEquals("ring-ref15", BlkifNodes.ringRef(15));
        assertEquals("queue-3", BlkifNodes.queue(3));
        assertEquals("/local/domain/5/device/vbd/51728", BlkifNodes.queueDir("/local/domain/5/device/vbd/51728", 1, 0),
                "one queue keeps its keys in the device directory");
        assertEquals("/local/domain/5/device/vbd/51728/queue-1",
                BlkifNodes.queueDir("/local/domain/5/device/vbd/51728", 2, 1));
    }

    @Test
    void valuesAreReadAsLinuxReadsThem() {
        assertTrue(BlkifNodes.isOn(" 1\n"));
        assertFalse(BlkifNodes.isOn("2"));
        assertFalse(BlkifNodes.isOn(null));
        assertTrue(BlkifNodes.isReadOnly("r"));
        assertTrue(BlkifNodes.isReadOnly(" ro"));
        assertFalse(BlkifNodes.isReadOnly("w"));
        assertEquals("r", BlkifNodes.mode(true));
        assertEquals("w", BlkifNodes.mode(false));
    }
}
