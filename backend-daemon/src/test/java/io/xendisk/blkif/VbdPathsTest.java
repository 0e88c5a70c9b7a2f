package io.xendisk.blkif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VbdPathsTest {
    @Test
    void libxlsLayoutOfADisk() {
        assertEquals("/local/domain/0/backend/vbd", VbdPaths.backends(0, VbdPaths.KIND));
        assertEquals("/local/domain/0/backend/vbd/5/51728", VbdPaths.backend(0, "vbd", 5, Vdev.devid("xvdb")));
        assertEquals("/local/domain/5/device/vbd", VbdPaths.frontends(VbdPaths.domain(5)));
        assertEquals("/local/domain/5/device/vbd/51728", VbdPaths.frontend(5, 51728));
        assertEquals(VbdPaths.frontend(5, 51728), VbdPaths.frontend("/local/domain/5", 51728));
        assertEquals("/local/domain/5/error/device/vbd/51728/error", VbdPaths.frontendError("/local/domain/5", 51728));
    }

    @Test
    void directoryNamesThatAreIds() {
        assertTrue(VbdPaths.isDomid("0"));
        assertTrue(VbdPaths.isDomid("32752"));
        assertFalse(VbdPaths.isDomid("123456"));
        assertFalse(VbdPaths.isDomid("vm1"));
        assertTrue(VbdPaths.isDevid("268442112"));
        assertFalse(VbdPaths.isDevid("1234567890"));
        assertFalse(VbdPaths.isDevid(""));
    }
}
