package io.xendisk.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * More rings than the daemon's grant mapping budget (lowered to 10 here:
 * the eight rings below need one mapping each for the ring and would keep
 * hundreds of pages in a few more, several pages a mapping): every guest's
 * verify passes, the mappings never exceed the budget, and status says so.
 */
class MappingBudgetE2ETest {
    private static final int BUDGET = 10;
    private static final Pattern MAPPINGS = Pattern.compile(
            "grant mappings: (\\d+) in use, peak (\\d+), budget (\\d+) \\(configured\\), (\\d+) refused");
    private static Dist dist;
    private static final List<Dist.Guest> guests = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        dist = new Dist();
        dist.env.put("XEN_DISK_JAVA_GRANT_MAPPINGS", Integer.toString(BUDGET));
        for (int i = 0; i < 4; i++) {
            guests.add(dist.guest("mb" + i, "--queues", "2"));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist != null) {
            try {
                dist.stopAll(guests);
            } finally {
                dist.close();
            }
        }
    }

    private static long[] mappings() throws Exception {
        Dist.Result status = dist.cli("status");
        assertEquals(0, status.exit(), status.toString());
        Matcher m = MAPPINGS.matcher(status.out());
        assertTrue(m.find(), status.toString());
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                Long.parseLong(m.group(4))};
    }

    @Test
    void everyVerifyPassesWithinTheBudget() throws Exception {
        List<Process> runs = new ArrayList<>();
        List<Path> outs = new ArrayList<>();
        for (Dist.Guest g : guests) {
            Path img = dist.dir.resolve(g.name() + ".img");
            Images.sparse(img, 64L << 20, null);
            Dist.Result r = dist.cli("connect", g.name(), "--vdev", "xvdb", "--path", img.toString(), "--storage", "file");
            assertEquals(0, r.exit(), r.toString());
            dist.awaitConnected(g, "xvdb");
        }
        for (Dist.Guest g : guests) {
            Path out = dist.dir.resolve(g.name() + "-verify.txt");
            outs.add(out);
            runs.add(dist.start(List.of(Dist.HOME.resolve("bin/xen-disk-java").toString(), "sim", "run", g.name(),
                    "xvdb", "verify", "--size", "48M", "--seed", Integer.toString(guests.indexOf(g) + 1)), out));
        }
        for (int i = 0; i < runs.size(); i++) {
            assertTrue(runs.get(i).waitFor(240, TimeUnit.SECONDS), guests.get(i).name() + "'s verify did not finish");
            String said = Files.readString(outs.get(i));
            assertEquals(0, runs.get(i).exitValue(), said);
            assertTrue(said.strip().endsWith(" OK"), said);
            Images.assertPattern(dist.dir.resolve(guests.get(i).name() + ".img"), 0, 48 << 20, i + 1);
        }
        long[] m = mappings();
        System.out.printf("grant mappings after the verifies: in use %d, peak %d, budget %d, refused %d%n", m[0], m[1], m[2], m[3]);
        assertEquals(BUDGET, m[2]);
        assertTrue(m[1] <= BUDGET, "the peak stayed within the budget: " + m[1]);
        assertTrue(m[3] > 0, "the budget ran out and requests were served by copies");
        for (Dist.Guest g : guests) {
            assertEquals(0, dist.cli("disconnect", g.name(), "xvdb").exit());
        }
        Dist.poll(() -> mappings()[0] == 0, "every mapping given back after the disconnects");
    }
}
