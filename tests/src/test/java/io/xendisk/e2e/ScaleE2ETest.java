package io.xendisk.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.Vdev;
import io.xendisk.guest.Blkfront;
import io.xendisk.guest.Guest;
import io.xendisk.guest.Workloads;

/**
 * A host's worth of disks on one daemon: 64 guests with one ring each and 8
 * with four, all verifying at once. The guests are simulated domains in
 * this test's JVM (one process per guest would be 72 JVMs on a two-core
 * machine); the daemon is its own process, as always. Prints what the
 * daemon costs per VBD (docs/BENCHMARKS.md).
 */
class ScaleE2ETest {
    private static final int SINGLE = 64;
    private static final int MULTI = 8;
    private static final int QUEUES = 4;
    private static final int MIB_PER_RING = 2;
    private static final int XVDB = Vdev.devid("xvdb");
    private static Dist dist;
    private static final List<Guest> guests = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        dist = new Dist();
        assertEquals(0, dist.cli("sim", "start").exit());
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            for (Guest g : List.copyOf(guests)) {
                g.close();
            }
        } finally {
            if (dist != null) {
                dist.close();
            }
        }
    }

    @Test
    void seventyTwoGuestsVerifyAtOnce() throws Exception {
        Path sim = dist.runDir.resolve("sim");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> setup = new ArrayList<>();
        for (int i = 0; i < SINGLE + MULTI; i++) {
            int n = i;
            setup.add(pool.submit(() -> {
                int queues = n < SINGLE ? 1 : QUEUES;
                String name = (queues == 1 ? "s" : "m") + n;
                // a ring's request pool takes 4 MiB of the guest's memory
                Guest g = Guest.start(new Guest.Config(name, sim.resolve("socket"), sim, 8 + 8 * queues, Abi.X86_64,
                        null, 32, queues));
                guests.add(g);
                Path img = Images.sparse(dist.dir.resolve(name + ".img"), (long) queues * MIB_PER_RING << 20, null);
                Dist.Result r = dist.cli("connect", name, "--vdev", "xvdb", "--path", img.toString(), "--storage", "file");
                assertEquals(0, r.exit(), r.toString());
                assertNotNull(g.awaitConnected(XVDB, 60, TimeUnit.SECONDS), name + " connected");
                return null;
            }));
        }
        try {
            for (Future<?> f : setup) {
                f.get(10, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(1, TimeUnit.MINUTES);
        }
        long daemon = dist.daemonPid();
        long[] idle = proc(daemon);

        List<Thread> runs = new ArrayList<>();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        for (Guest g : List.copyOf(guests)) {
            Blkfront fe = g.frontend(XVDB);
            int queues = g.name().startsWith("m") ? QUEUES : 1;
            for (int q = 0; q < queues; q++) {
                List<String> args = List.of("--offset", Long.toString((long) q * MIB_PER_RING << 20),
                        "--size", MIB_PER_RING + "M", "--seed", Integer.toString(g.domid() * 10 + q),
                        "--queue", Integer.toString(q));
                Thread t = new Thread(() -> {
                    List<String> out = new ArrayList<>();
                    try {
                        if (!Workloads.run(fe, "verify", args, out::add)) {
                            failures.add(g.name() + ": " + out);
                        }
                    } catch (Exception e) {
                        failures.add(g.name() + ": " + e);
                    }
                }, "verify " + g.name() + " q" + q);
                t.start();
                runs.add(t);
            }
        }
        long[] busy = null;
        for (Thread t : runs) {
            t.join(TimeUnit.MINUTES.toMillis(5));
            if (busy == null) {
                busy = proc(daemon); // while the others still run
            }
            assertTrue(!t.isAlive(), t.getName() + " did not finish");
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(failures.isEmpty(), failures.toString());
        for (Guest g : List.copyOf(guests)) {
            int queues = g.name().startsWith("m") ? QUEUES : 1;
            Path img = dist.dir.resolve(g.name() + ".img");
            for (int q = 0; q < queues; q++) {
                Images.assertPattern(img, (long) q * MIB_PER_RING << 20, MIB_PER_RING << 20, g.domid() * 10 + q);
            }
        }
        Dist.Result status = dist.cli("status");
        assertEquals(0, status.exit(), status.toString());
        assertTrue(status.out().contains("VBDs: " + (SINGLE + MULTI)), status.toString());
        Matcher m = Pattern.compile("grant mappings: (\\d+) in use, peak (\\d+)").matcher(status.out());
        assertTrue(m.find(), status.toString());
        int vbds = SINGLE + MULTI;
        status.out().lines().filter(l -> l.startsWith("grant mappings:")).forEach(System.out::println);
        int rings = SINGLE + MULTI * QUEUES;
        System.out.printf("scale: %d VBDs, %d rings, %d MiB verified in %.1f s%n", vbds, rings,
                rings * MIB_PER_RING, seconds);
        System.out.printf("| daemon | RSS MiB | threads | grant mappings |%n|---|---|---|---|%n");
        System.out.printf("| %d VBDs connected, idle | %d | %d | %s |%n", vbds, idle[0] >> 10, idle[1], "-");
        System.out.printf("| all verifying | %d | %d | peak %s |%n", busy[0] >> 10, busy[1], m.group(2));
        System.out.printf("| per VBD (busy) | %.1f | %.2f | %.1f |%n", (busy[0] >> 10) / (double) vbds,
                busy[1] / (double) vbds, Integer.parseInt(m.group(2)) / (double) vbds);
        assertTrue(Dist.alive(daemon));
    }

    /** VmRSS in KiB and the thread count of a process. */
    private static long[] proc(long pid) throws Exception {
        long rss = 0;
        long threads = 0;
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                rss = Long.parseLong(l.replaceAll("\\D", ""));
            } else if (l.startsWith("Threads:")) {
                threads = Long.parseLong(l.replaceAll("\\D", ""));
            }
        }
        return new long[] {rss, threads};
    }
}
