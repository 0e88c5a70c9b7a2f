package io.xendisk.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SizesTest {
    @Test
    void sizesAsOperatorsWriteThem() {
        assertEquals(4096, Sizes.parse("4096"));
        assertEquals(32L << 20, Sizes.parse("32M"));
        assertEquals(32L << 20, Sizes.parse("32MiB"));
        assertEquals(2L << 30, Sizes.parse(" 2g "));
        assertEquals(98304L << 10, Sizes.parse("98304K"));
        assertEquals(1L << 40, Sizes.parse("1TB"));
        for (String bad : new String[] {"", "lots", "-1", "1.5G", "99999999999T"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(bad));
            assertTrue(e.getMessage().contains("is not a size"), e.getMessage());
        }
        assertEquals("32 MiB", Sizes.human(32L << 20));
        assertEquals("1.5 GiB", Sizes.human(3L << 29));
        assertEquals("512 bytes", Sizes.human(512));
    }
}
