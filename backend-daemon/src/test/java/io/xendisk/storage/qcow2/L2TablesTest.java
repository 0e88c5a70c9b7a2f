package io.xendisk.storage.qcow2;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class L2TablesTest {
    @Test
    void holdsAtMostItsCapacityAndEvictsATableNotUsedSinceTheHandPassed() {
        L2Tables c = new L2Tables(100, 3);
        long[] a = new long[1];
        long[] b = new long[1];
        long[] d = new long[1];
        c.put(10, a);
        c.put(20, b);
        c.put(30, d);
        assertSame(a, c.get(10));
        assertSame(b, c.get(20));
        // full, and every table used since it came: the hand clears all three, then takes the first, 10
        c.put(40, new long[1]);
        assertNull(c.get(10));
        // 20 and 30 lost their second chance on that pass; 20 is used again, so 30 goes next
        assertSame(b, c.get(20));
        c.put(50, new long[1]);
        assertNull(c.get(30));
        assertSame(b, c.get(20));
        assertNotNull(c.get(40));
        assertNotNull(c.get(50));
    }

    @Test
    void neverHoldsMoreThanTheImageHasTables() {
        L2Tables c = new L2Tables(2, 1000);
        c.put(0, new long[1]);
        c.put(1, new long[1]);
        assertNotNull(c.get(0));
        assertNotNull(c.get(1));
    }
}
