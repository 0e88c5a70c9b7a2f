package io.xendisk.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A million requests of a seeded hostile frontend (the guest's {@code fuzz}
 * workload: valid reads, writes and flushes checked against what was
 * written, mixed with every kind of invalid request and with xenbus state
 * changes in the middle of I/O) against the real
 * daemon, while another guest verifies its own disk: the fuzzer's checks all
 * hold, the other guest's data is intact, the daemon is the same process
 * throughout, and once the disks are disconnected it holds no grant mapping.
 */
class FuzzE2ETest {
    private static final long REQUESTS = 1_000_000;
    private static final long FUZZ_LIMIT_SECONDS = 360; // a hang guard: runs take 105-150 s on 2 cores
    private static final Pattern SEED = Pattern.compile("^fuzz seed=(\\d+) ", Pattern.MULTILINE);
    private static final Pattern PASS = Pattern.compile("^fuzz PASS requests=(\\d+) valid=(\\d+) invalid=(\\d+)"
            + " uncertain=(\\d+) sectors-checked=(\\d+) read-back-requests=\\d+ state-changes=(\\d+) seconds=([0-9.]+)"
            + " seed=(\\d+)$",
            Pattern.MULTILINE);
    private static final Pattern MAPPINGS = Pattern.compile("grant mappings: (\\d+) in use, peak (\\d+)");
    private static Dist dist;
    private static Dist.Guest fuzzer;
    private static Dist.Guest victim;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        fuzzer = dist.guest("fuzzer");
        victim = dist.guest("victim");
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist != null) {
            try {
                dist.stopAll(List.of(fuzzer, victim));
            } finally {
                dist.close();
            }
        }
    }

    private static void connect(Dist.Guest g, Path image) throws Exception {
        Dist.Result r = dist.cli("connect", g.name(), "--vdev", "xvdb", "--path", image.toString(), "--storage", "file");
        assertEquals(0, r.exit(), r.toString());
        dist.awaitConnected(g, "xvdb");
    }

    @Test
    void aMillionHostileRequestsAreAnsweredRightWhileAnotherGuestVerifies() throws Exception {
        long daemonPid = dist.daemonPid();
        connect(fuzzer, Images.sparse(dist.dir.resolve("fuzz.img"), 64L << 20, null));
        Path victimImage = Images.sparse(dist.dir.resolve("victim.img"), 16L << 20, null);
        connect(victim, victimImage);

        Path fuzzOut = dist.dir.resolve("fuzz.txt");
        long started = System.nanoTime();
        Process fuzz = dist.start(List.of(Dist.HOME.resolve("bin/xen-disk-java").toString(), "sim", "run",
                fuzzer.name(), "xvdb", "fuzz", "--requests", Long.toString(REQUESTS)), fuzzOut);

        // the other guest writes, flushes and checks a fresh pattern again and again meanwhile
        long seed = 0;
        do {
            seed++;
            Dist.Result v = dist.simRun(victim, "xvdb", "verify", "--size", "16M", "--seed", Long.toString(seed));
            assertEquals(0, v.exit(), "the other guest's disk was disturbed:\n" + v);
            assertTrue(v.out().strip().endsWith(" OK"), v.toString());
        } while (fuzz.isAlive() && System.nanoTime() - started < TimeUnit.SECONDS.toNanos(FUZZ_LIMIT_SECONDS));

        boolean finished = fuzz.waitFor(Math.max(1, FUZZ_LIMIT_SECONDS - (System.nanoTime() - started) / 1_000_000_000L),
                TimeUnit.SECONDS);
        String said = Files.readString(fuzzOut);
        Matcher s = SEED.matcher(said);
        String rerun = s.find() ? " (seed " + s.group(1) + ")" : "";
        assertTrue(finished, "fuzz did not finish " + REQUESTS + " requests in " + FUZZ_LIMIT_SECONDS + " s" + rerun
                + ":\n" + said);
        assertEquals(0, fuzz.exitValue(), said);
        Matcher m = PASS.matcher(said);
        assertTrue(m.find(), said);
        assertEquals(REQUESTS, Long.parseLong(m.group(1)), said);
        long invalid = Long.parseLong(m.group(3));
        assertTrue(Long.parseLong(m.group(2)) > REQUESTS / 3 && invalid > REQUESTS / 3, said);
        // the default: one state change (close and reconnect, reset, bogus state) per 20000 requests
        assertEquals(REQUESTS / 20_000, Long.parseLong(m.group(6)), "state changes in the middle of I/O: " + said);
        System.out.printf("FuzzE2ETest: fuzz requests=%s valid=%s invalid=%s uncertain=%s sectors-checked=%s"
                        + " state-changes=%s seconds=%s seed=%s; the other guest verified %d times%n", m.group(1),
                m.group(2), m.group(3), m.group(4), m.group(5), m.group(6), m.group(7), m.group(8), seed);
        said.lines().filter(l -> l.startsWith("fuzz cases") || l.startsWith("fuzz grants")
                        || l.startsWith("fuzz state-changes"))
                .forEach(l -> System.out.println("FuzzE2ETest: " + l));

        // the daemon counted an error response for each invalid request, and the ring still serves
        String line = dist.listLine(fuzzer.vbd("xvdb"));
        assertNotNull(line, "the fuzzed VBD is still listed");
        assertTrue(line.contains(" Connected "), line);
        System.out.println("FuzzE2ETest: the daemon's list line of the fuzzed VBD: " + line);
        Map<String, Long> c = Dist.counters(line);
        assertTrue(c.get("errors") >= invalid, line);
        Dist.Result read = dist.simRun(fuzzer, "xvdb", "read-at", "0", "1");
        assertEquals(0, read.exit(), read.toString());

        Dist.Result status = dist.cli("status");
        assertEquals(0, status.exit(), status.toString());
        assertTrue(status.out().contains("daemon: running, pid " + daemonPid + ","), "same daemon all along:\n" + status);
        assertTrue(Dist.alive(daemonPid));
        for (Dist.Guest g : List.of(fuzzer, victim)) {
            Dist.Result off = dist.cli("disconnect", g.name(), "xvdb");
            assertEquals(0, off.exit(), off.toString());
        }
        Images.assertPattern(victimImage, 0, 16 << 20, seed);

        // every page the fuzzed ring kept mapped was given back
        Dist.Result after = dist.cli("status");
        assertEquals(0, after.exit(), after.toString());
        assertTrue(after.out().contains("VBDs: 0\n"), after.toString());
        Matcher g = MAPPINGS.matcher(after.out());
        assertTrue(g.find(), after.toString());
        assertEquals(0, Long.parseLong(g.group(1)), "no grant mapping left:\n" + after);
        assertTrue(Long.parseLong(g.group(2)) > 0, "the rings had pages mapped: " + after);
    }
}
