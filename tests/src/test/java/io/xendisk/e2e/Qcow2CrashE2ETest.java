package io.xendisk.e2e;

import io.xendisk.xen.sim.domain.GuestControl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the daemon in the middle of a guest's writes to a qcow2 overlay,
 * round after round, at a random moment each time. After every kill, with no
 * daemon holding the image, qemu-img check must find it consistent (exit 0, or
 * 3 for clusters leaked by an allocation the kill cut short; never 2, a
 * corruption), and every earlier round, whose writes and FLUSH the guest saw
 * acknowledged, must be in it. Then a new daemon resumes the ring and the
 * round in flight completes and verifies.
 *
 * <p>Clusters of 4 KiB, so that nearly every write allocates: a kill lands
 * between a cluster's refcount, its data and its L2 entry often, and now and
 * then inside a new L2 table or refcount block.
 */
class Qcow2CrashE2ETest {
    private static final int ROUNDS = 8;
    private static final int ROUND_BYTES = 4 << 20;
    private static Dist dist;
    private static Dist.Guest guest;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        Tools.require(Tools.QEMU_IMG, "qemu-utils");
        dist = new Dist();
        guest = dist.guest("crash-1");
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist != null) {
            try {
                dist.stopAll(List.of(guest));
            } finally {
                dist.close();
            }
        }
    }

    @Test
    void everyKillLeavesAConsistentImageWithEveryFlushedRound() throws Exception {
        long seed = Long.getLong("xdj.crash.seed", System.nanoTime());
        System.out.println("Qcow2CrashE2ETest seed=" + seed + " (rerun with -Dxdj.crash.seed=" + seed + ")");
        Random random = new Random(seed);
        Path gold = Images.sparse(dist.dir.resolve("crash-gold.img"), 48L << 20, "CRASH-GOLD");
        Images.writePattern(gold, 0, 48 << 20, 7);
        String goldSum = Images.sha256(gold);
        Path overlay = dist.dir.resolve("crash.qcow2");
        Tools.qemuImg(dist, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", gold.toString(), "-F", "raw",
                overlay.toString());
        Dist.Result c = dist.cli("connect", guest.name(), "--vdev", "xvdb", "--path", overlay.toString(),
                "--storage", "qcow2");
        assertEquals(0, c.exit(), c.toString());
        dist.awaitConnected(guest, "xvdb");
        Path control = GuestControl.socket(dist.runDir.resolve("sim"), guest.domid());
        String[] sizes = {"4k", "12k", "64k", "128k"};

        long[] offsets = new long[ROUNDS];
        StringBuilder checks = new StringBuilder();
        for (int round = 0; round < ROUNDS; round++) {
            long offset = (long) round * ROUND_BYTES + 512L * random.nextInt(8);
            offsets[round] = offset;
            String bs = sizes[random.nextInt(sizes.length)];
            String run = "run xvdb verify --offset " + offset + " --size " + (ROUND_BYTES - 4096) + " --bs " + bs
                    + " --seed " + (100 + round);
            long before = writes();
            long killAfter = 1 + random.nextInt(ROUND_BYTES / parse(bs) + 8);
            CompletableFuture<GuestControl.Reply> verify = CompletableFuture.supplyAsync(() -> {
                try {
                    return GuestControl.send(control, run);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Dist.poll(() -> verify.isDone() || writes() >= before + killAfter, "round " + round + " is writing");
            long old = dist.daemonPid();
            ProcessHandle h = ProcessHandle.of(old).orElseThrow();
            assertTrue(h.destroyForcibly());
            Dist.awaitExit(h);

            Dist.Result check = Tools.qemuImg(dist, "check", overlay.toString());
            checks.append(check.exit());
            assertTrue(check.exit() == 0 || check.exit() == 3,
                    "round " + round + " (seed " + seed + "): after a kill qemu-img check exits 0 or 3 (leaks), not "
                            + check.exit() + ":\n" + check);
            Path flat = dist.dir.resolve("crash-" + round + ".raw");
            Tools.qemuImg(dist, "convert", "-q", "-O", "raw", overlay.toString(), flat.toString());
            for (int done = 0; done < round; done++) {
                Images.assertPattern(flat, offsets[done], ROUND_BYTES - 4096, 100 + done);
            }
            Files.delete(flat);

            Dist.Result status = dist.cli("status"); // a fresh daemon, which resumes the ring
            assertEquals(0, status.exit(), status.toString());
            assertNotEquals(old, dist.daemonPid());
            GuestControl.Reply said = verify.get(120, TimeUnit.SECONDS);
            assertTrue(said.ok() && said.text().strip().endsWith(" OK"),
                    "round " + round + " (" + run + ") completes across the kill: " + said + dist.daemonLog());
        }
        System.out.println("Qcow2CrashE2ETest qemu-img check exits after each kill: " + checks);

        assertEquals(0, dist.cli("disconnect", guest.name(), "xvdb").exit());
        Dist.Result repair = Tools.qemuImg(dist, "check", "-r", "leaks", overlay.toString());
        assertEquals(0, repair.exit(), "leaks are all there is to repair:\n" + repair);
        Path flat = dist.dir.resolve("crash-final.raw");
        Tools.qemuImg(dist, "convert", "-q", "-O", "raw", overlay.toString(), flat.toString());
        for (int done = 0; done < ROUNDS; done++) {
            Images.assertPattern(flat, offsets[done], ROUND_BYTES - 4096, 100 + done);
        }
        assertEquals(goldSum, Images.sha256(gold), "the gold image is byte-identical");
    }

    private static int parse(String size) {
        return Integer.parseInt(size.substring(0, size.length() - 1)) << 10;
    }

    private static long writes() throws Exception {
        return Dist.counters(String.valueOf(dist.listLine(guest.vbd("xvdb")))).getOrDefault("writes", 0L);
    }
}
