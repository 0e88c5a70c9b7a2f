package io.xendisk.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import org.junit.jupiter.api.Test;

class MappingBudgetTest {
    @Test
    void optionalMappingsStopAtTheLimitWhileARingsPagesAlwaysCount() {
        MappingBudget b = new MappingBudget(10, "test");
        assertTrue(b.tryTake(9));
        assertFalse(b.tryTake(2), "9 + 2 > 10");
        assertEquals(1, b.refusals());
        assertTrue(b.scarce());
        b.take(3); // a ring's pages, over the limit
        assertEquals(12, b.inUse());
        assertEquals(12, b.peak());
        b.give(12);
        assertEquals(0, b.inUse());
        assertFalse(b.scarce());
        b.join();
        b.join();
        assertEquals(5, b.fairShare());
        b.leave();
        assertEquals(10, b.fairShare());
    }

    @Test
    void theDefaultFollowsTheKernelsLimit() throws Exception {
        // as the kernel writes it; a procfs file says its size is 0, so read it by lines
        List<String> lines = Files.readAllLines(Path.of("/proc/sys/vm/max_map_count"));
        int max = Integer.parseInt(lines.get(0).strip());
        MappingBudget b = MappingBudget.forThisProcess(OptionalInt.empty());
        assertTrue(b.describe().contains("vm.max_map_count " + max + ","), b.describe());
        assertTrue(b.limit() <= max - Math.max(8192, max / 4), b.describe());
        assertTrue(b.limit() >= Math.min(1024, max), b.describe());
        assertEquals(77, MappingBudget.forThisProcess(OptionalInt.of(77)).limit());
    }
}
