package io.xendisk.storage.qcow2;

import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine killed between any two of its writes to the image: one fixed
 * sequence of guest writes and flushes over a raw gold image, replayed on a
 * fresh copy of the overlay once per crash point, the process "dying" before
 * the n-th write to the file (or after its first page of it). After each
 * crash qemu-img check must call the image consistent (0, or 3 for leaked
 * clusters; never 2), QEMU must read every write the engine had acknowledged,
 * and the engine must open the crashed image again and go on writing, still
 * clean for qemu-img. At a third of the points the power fails instead: of
 * the writes since the last fdatasync any subset of pages reached the disk;
 * the image must still be consistent and hold every write before the guest's
 * last FLUSH, and every sector the guest has not written since then as it was
 * (the gold's bytes too, where a write into a cluster copied them). Small clusters make the writes mostly metadata: refcount
 * entries, new refcount blocks and a growing refcount table, new L2 tables.
 */
class Qcow2CrashTest {
    private static final long DISK = 4 << 20;
    private static final int OPS = 150;
    private static final int MAX_POINTS = 220;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} B clusters")
    @ValueSource(ints = {512, 65536})
    void everyCrashPointLeavesAConsistentImageWithEveryAcknowledgedWrite(int clusterSize) throws Exception {
        Path gold = dir.resolve("gold.raw");
        byte[] goldBytes = new byte[(int) (DISK / 2)];
        new Random(1).nextBytes(goldBytes);
        Files.write(gold, goldBytes);
        Path pristine = dir.resolve("pristine.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize, "-b", gold.toString(),
                "-F", "raw", pristine.toString(), String.valueOf(DISK));
        List<long[]> ops = plan(new Random(clusterSize));

        Replay whole = replay(pristine, dir.resolve("count.qcow2"), ops, 0, false, false);
        long total = whole.channel.writes();
        assertTrue(total > OPS, "the plan writes metadata too: " + total + " writes");
        TreeSet<Long> points = new TreeSet<>();
        Random pick = new Random(clusterSize + 1);
        for (long n = 1; n <= Math.min(total, 40); n++) {
            points.add(n); // the first writes: the first L2 table, the first refcount blocks
        }
        while (points.size() < Math.min(total, MAX_POINTS)) {
            points.add(1 + (long) (pick.nextDouble() * total));
        }

        int[] exits = new int[4];
        int[] cutExits = new int[4];
        byte[] start = Files.readAllBytes(pristine);
        int k = 0;
        for (long n : points) {
            boolean torn = (k++ & 1) == 1;
            Path img = dir.resolve("crash.qcow2");
            if (k % 3 == 0) {
                Replay r = replay(pristine, img, ops, n, false, true);
                Random cut = new Random(n);
                for (int draw = 0; draw < 2; draw++) {
                    Path after = dir.resolve("powercut.qcow2");
                    Files.write(after, r.channel.afterPowerCut(start, cut));
                    QemuImg.Result check = QemuImg.img("check", after.toString());
                    cutExits[Math.min(check.exit(), 3)]++;
                    assertTrue(check.exit() == 0 || check.exit() == 3, "power cut before write " + n + " of "
                            + total + " (draw " + draw + "): qemu-img check exits " + check.exit() + ":\n"
                            + check.output());
                    assertHolds(after, r.flushed, r.sinceFlush, "power cut before write " + n + " (draw " + draw + ")");
                }
                continue;
            }
            Replay r = replay(pristine, img, ops, n, torn, false);
            assertTrue(r.channel.crashed(), "write " + n + " of " + total + " was reached");
            QemuImg.Result check = QemuImg.img("check", img.toString());
            exits[Math.min(check.exit(), 3)]++;
            assertTrue(check.exit() == 0 || check.exit() == 3, "killed before write " + n + " of " + total
                    + (torn ? " (torn after its first page)" : "") + ": qemu-img check exits " + check.exit()
                    + ":\n" + check.output());
            assertHolds(img, r.shadow, r.uncertain, "killed before write " + n);

            if (k % 5 == 0) {
                // the next daemon opens what the crash left and carries on
                Replay again = replay(img, dir.resolve("again.qcow2"), plan(new Random(n)), 0, false, false, r);
                QemuImg.Result after = QemuImg.img("check", dir.resolve("again.qcow2").toString());
                assertTrue(after.exit() == 0 || after.exit() == 3, "writes after the crash at " + n + ":\n"
                        + after.output());
                assertHolds(dir.resolve("again.qcow2"), again.shadow, again.uncertain, "after the crash at " + n);
            }
        }
        System.out.printf("qcow2 crash points, %d B clusters: %d of %d writes tried; after a kill qemu-img check"
                + " exit 0: %d, 3 (leaks): %d; after a power cut (two draws each) exit 0: %d, 3: %d%n", clusterSize,
                points.size(), total, exits[0], exits[3], cutExits[0], cutExits[3]);
        assertEquals(0, exits[1] + exits[2] + cutExits[1] + cutExits[2], "no crash point leaves corruption");
    }

    /**
     * A guest that fills fresh clusters without flushing for longer than one
     * reservation holds (no backing file, whole clusters: no write here makes
     * the engine sync for its own sake), then flushes once, then goes on: a
     * power cut anywhere leaves a consistent image with every write before the
     * FLUSH in it.
     */
    @Test
    void powerCutsWhileAllocatingPastOneReservation() throws Exception {
        long disk = 16 << 20;
        int cluster = 65536;
        Path pristine = dir.resolve("empty.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cluster, pristine.toString(),
                String.valueOf(disk));
        byte[] start = Files.readAllBytes(pristine);
        List<Integer> order = new ArrayList<>();
        for (int c = 0; c < disk / cluster; c++) {
            order.add(c);
        }
        java.util.Collections.shuffle(order, new Random(7));
        List<Integer> writes = order.subList(0, 200);
        int flushAfter = 100;
        Path img = dir.resolve("fill.qcow2");
        long total = fill(pristine, img, writes, flushAfter, 0).writes();
        assertTrue(total > 2 * writes.size(), total + " writes");
        int cuts = 0;
        for (long n = 1; n <= total; n += 1 + total / 60) {
            CrashingChannel ch = fill(pristine, img, writes, flushAfter, n);
            boolean flushed = ch.flushed;
            for (int draw = 0; draw < 3; draw++, cuts++) {
                Path after = dir.resolve("fillcut.qcow2");
                Files.write(after, ch.afterPowerCut(start, new Random(n * 3 + draw)));
                QemuImg.Result check = QemuImg.img("check", after.toString());
                assertTrue(check.exit() == 0 || check.exit() == 3, "power cut before write " + n + " of " + total
                        + " (draw " + draw + "): qemu-img check exits " + check.exit() + ":\n" + check.output());
                if (flushed) {
                    byte[] shadow = new byte[(int) disk];
                    for (int i = 0; i < flushAfter; i++) {
                        int c = writes.get(i);
                        java.util.Arrays.fill(shadow, c * cluster, (c + 1) * cluster, (byte) (1 + i % 250));
                    }
                    BitSet later = new BitSet();
                    for (int i = flushAfter; i < writes.size(); i++) {
                        int c = writes.get(i);
                        later.set(c * (cluster / 512), (c + 1) * (cluster / 512));
                    }
                    assertHolds(after, shadow, later, "power cut before write " + n + " (draw " + draw + ")");
                }
            }
        }
        System.out.printf("qcow2 power cuts while allocating: %d of %d writes, %d draws%n", (cuts / 3), total, cuts);
    }

    /** Writes cluster {@code writes.get(i)} full of byte 1 + i % 250, a FLUSH after {@code flushAfter} of them. */
    private static CrashingChannel fill(Path from, Path img, List<Integer> writes, int flushAfter, long crashAt)
            throws IOException {
        Files.copy(from, img, StandardCopyOption.REPLACE_EXISTING);
        FileChannel file = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE);
        CrashingChannel ch = new CrashingChannel(file, crashAt, false, crashAt > 0);
        Storage s = Qcow2Storage.open(img, ch, true, 32L << 20, 0, new HashSet<>());
        byte[] data = new byte[65536];
        try {
            for (int i = 0; i < writes.size(); i++) {
                if (i == flushAfter) {
                    s.flush();
                    ch.flushed = true;
                }
                java.util.Arrays.fill(data, (byte) (1 + i % 250));
                s.write(writes.get(i) * 128L, ByteBuffer.wrap(data));
            }
        } catch (StorageException e) {
            if (!ch.crashed()) {
                throw e;
            }
        } finally {
            s.close();
        }
        return ch;
    }

    /** Writes (sector, sectors, seed) of 1 to 64 sectors anywhere, a flush (sectors 0) every tenth op. */
    private static List<long[]> plan(Random r) {
        List<long[]> ops = new ArrayList<>();
        for (int i = 0; i < OPS; i++) {
            if (i % 10 == 9) {
                ops.add(new long[]{0, 0, 0});
            } else {
                int n = 1 + r.nextInt(64);
                ops.add(new long[]{(long) (r.nextDouble() * (DISK / 512 - n)), n, r.nextLong()});
            }
        }
        return ops;
    }

    /**
     * What a replay acknowledged: {@code shadow} the disk as the guest was told it is ({@code uncertain}:
     * sectors of the write cut short), {@code flushed} the disk as of the last FLUSH that completed
     * ({@code sinceFlush}: sectors written after it).
     */
    private record Replay(CrashingChannel channel, byte[] shadow, BitSet uncertain, byte[] flushed,
                          BitSet sinceFlush) {
    }

    private Replay replay(Path from, Path img, List<long[]> ops, long crashAt, boolean torn, boolean journal)
            throws IOException {
        byte[] shadow = new byte[(int) DISK];
        System.arraycopy(Files.readAllBytes(dir.resolve("gold.raw")), 0, shadow, 0, (int) (DISK / 2));
        return replay(from, img, ops, crashAt, torn, journal, new Replay(null, shadow, new BitSet(), shadow,
                new BitSet()));
    }

    /** Copies {@code from} to {@code img} and runs {@code ops} on it until the crash; {@code before} is what it holds. */
    private static Replay replay(Path from, Path img, List<long[]> ops, long crashAt, boolean torn, boolean journal,
                                 Replay before) throws IOException {
        Files.copy(from, img, StandardCopyOption.REPLACE_EXISTING);
        byte[] shadow = before.shadow.clone();
        BitSet uncertain = (BitSet) before.uncertain.clone();
        byte[] flushed = shadow.clone();
        BitSet sinceFlush = (BitSet) uncertain.clone();
        FileChannel file = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE);
        CrashingChannel ch = new CrashingChannel(file, crashAt, torn, journal);
        // a small cache, so that L2 tables and refcount blocks are evicted and read back
        Storage s = Qcow2Storage.open(img, ch, true, 8L * 512, 0, new HashSet<>());
        try {
            for (long[] op : ops) {
                if (op[1] == 0) {
                    s.flush();
                    flushed = shadow.clone();
                    sinceFlush.clear();
                    continue;
                }
                byte[] data = new byte[(int) op[1] * 512];
                new Random(op[2]).nextBytes(data);
                sinceFlush.set((int) op[0], (int) (op[0] + op[1]));
                try {
                    s.write(op[0], ByteBuffer.wrap(data));
                } catch (StorageException e) {
                    if (!ch.crashed()) {
                        throw e;
                    }
                    uncertain.set((int) op[0], (int) (op[0] + op[1])); // old or new bytes, sector by sector
                    break;
                }
                System.arraycopy(data, 0, shadow, (int) op[0] * 512, data.length);
                uncertain.clear((int) op[0], (int) (op[0] + op[1]));
            }
        } catch (StorageException e) {
            if (!ch.crashed()) {
                throw e;
            }
        } finally {
            s.close();
        }
        return new Replay(ch, shadow, uncertain, flushed, sinceFlush);
    }

    /** QEMU reads {@code shadow} from {@code img}, except where a write was cut short. */
    private void assertHolds(Path img, byte[] shadow, BitSet uncertain, String when) throws IOException {
        Path raw = dir.resolve("flat.raw");
        Files.deleteIfExists(raw);
        QemuImg.ok("convert", "-q", "-O", "raw", img.toString(), raw.toString());
        byte[] seen = Files.readAllBytes(raw);
        assertEquals(shadow.length, seen.length);
        for (int sector = 0; sector < shadow.length / 512; sector++) {
            if (uncertain.get(sector)) {
                continue;
            }
            int at = sector * 512;
            if (!java.util.Arrays.equals(shadow, at, at + 512, seen, at, at + 512)) {
                throw new AssertionError(when + ": sector " + sector + " does not hold what was acknowledged");
            }
        }
    }
}
