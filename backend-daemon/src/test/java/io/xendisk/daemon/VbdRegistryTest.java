package io.xendisk.daemon;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VbdRegistryTest {

    private static VbdSummary vbd(int domid, int devid, long reads) {
        return new VbdSummary(domid, devid, "xvdb", "Connected", "cow:/img", Map.of("reads", reads, "errors", 0L));
    }

    @Test
    void listsLiveSummariesInOrderAndForgetsClosedOnes() {
        VbdRegistry r = new VbdRegistry();
        AtomicLong reads = new AtomicLong();
        VbdRegistry.Registration b = r.register(7, 51712, () -> vbd(7, 51712, reads.get()));
        VbdRegistry.Registration a = r.register(3, 51728, () -> vbd(3, 51728, 1));
        reads.set(42);
        List<VbdSummary> list = r.list();
        assertEquals(2, r.size());
        assertEquals("3/51728", list.get(0).id());
        assertEquals("7/51712 xvdb Connected cow:/img errors=0 reads=42", list.get(1).line());
        b.close();
        b.close();
        assertEquals(1, r.size());
        a.close();
        assertTrue(r.list().isEmpty());
    }

    @Test
    void duplicateVbdIsRefused() {
        VbdRegistry r = new VbdRegistry();
        r.register(1, 2, () -> vbd(1, 2, 0));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.register(1, 2, () -> vbd(1, 2, 0)));
        assertTrue(e.getMessage().contains("1/2"));
    }

    @Test
    void aThrowingSourceDoesNotHideTheOthers() {
        VbdRegistry r = new VbdRegistry();
        r.register(1, 2, () -> {
            throw new IllegalStateException("ring stopped");
        });
        r.register(2, 3, () -> vbd(2, 3, 0));
        List<VbdSummary> list = r.list();
        assertEquals(2, list.size());
        assertTrue(list.get(0).state().contains("ring stopped"));
        assertEquals("2/3", list.get(1).id());
    }
}
