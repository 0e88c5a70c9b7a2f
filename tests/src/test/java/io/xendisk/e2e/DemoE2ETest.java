package io.xendisk.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * README command (a): {@code xen-disk-java demo} on a fresh run directory.
 * The demo checks its own story (the guest read the marker, cow left the gold
 * image byte-identical, mmap kept the guest's data, a fresh connection read it
 * back) and exits non-zero if any part fails; here we also check the images.
 */
class DemoE2ETest {
    @Test
    void demoRunsTheSeedWalkthrough() throws Exception {
        try (Dist d = new Dist()) {
            Path images = d.dir.resolve("images");
            Dist.Result r = d.cli("demo", "--dir", images.toString());
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().contains("the guest read the gold image's marker at offset 0"), r.toString());
            assertTrue(r.out().contains("(unchanged)"), r.toString());
            assertTrue(r.out().contains("demo OK"), r.toString());
            assertTrue(r.out().contains("guest throughput"), r.toString());
            // the gold image still starts with the marker; the persistent copy differs from it
            byte[] gold = Files.readAllBytes(images.resolve("gold.img"));
            byte[] kept = Files.readAllBytes(images.resolve("persistent.img"));
            assertTrue(new String(gold, 0, 80, java.nio.charset.StandardCharsets.US_ASCII).startsWith("xen-disk-java demo gold image"));
            assertTrue(!java.util.Arrays.equals(gold, kept), "the mmap'd copy holds the guest's writes");
            assertEquals(0, d.cli("sim", "guests").exit());
            assertTrue(d.cli("sim", "guests").out().contains("no simulated guests running"), "the demo stops its guest");
        }
    }
}
