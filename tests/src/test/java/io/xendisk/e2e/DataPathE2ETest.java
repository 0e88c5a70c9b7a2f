package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The happy paths across real processes: one daemon, the sim xenstored and two
 * simulated guests (x86_64 and x86_32 ring ABIs) for the whole class. Each
 * test connects its own disks, drives them from the guest and checks what a
 * user relies on: the bytes in the image read independently, the workload's
 * output and exit code, the counters, and the xenstore nodes.
 */
class DataPathE2ETest {
    private static final String MARKER = "XENDISK-E2E-GOLD-MARKER";
    private static Dist dist;
    private static Dist.Guest g64;
    private static Dist.Guest g32;
    private static long daemonPid;

    @BeforeAll
    static void startGuests() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        // two rings per disk, as a 2-vCPU Linux guest takes of the 4 queues the daemon offers
        g64 = dist.guest("g64", "--queues", "2");
        // this one uses direct requests only (11 segments), the other INDIRECT ones, as Linux blkfront does
        g32 = dist.guest("g32", "--abi", "x86_32", "--memory-mib", "32", "--max-indirect-segments", "0");
        daemonPid = dist.daemonPid();
    }

    @AfterAll
    static void daemonSurvivedAndNothingIsLeft() throws Exception {
        if (dist == null) {
            return;
        }
        try {
            Dist.Result status = dist.cli("status");
            assertEquals(0, status.exit(), status.toString());
            assertTrue(status.out().contains("daemon: running, pid " + daemonPid + ","), "same daemon all along:\n" + status);
            dist.stopAll(List.of(g64, g32));
        } finally {
            dist.close();
        }
    }

    private static Path image(String name) {
        return dist.dir.resolve(name);
    }

    private static void connect(Dist.Guest g, String vdev, String... options) throws Exception {
        String[] args = new String[options.length + 4];
        args[0] = "connect";
        args[1] = g.name();
        args[2] = "--vdev";
        args[3] = vdev;
        System.arraycopy(options, 0, args, 4, options.length);
        Dist.Result r = dist.cli(args);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("to domain " + g.domid() + " as " + vdev + " (vbd " + g.vbd(vdev)), r.toString());
        dist.awaitConnected(g, vdev);
    }

    /** Disconnects and checks the disk is gone from list and both xenstore directories. */
    private static void disconnect(Dist.Guest g, String vdev) throws Exception {
        Dist.Result r = dist.cli("disconnect", g.name(), vdev);
        assertEquals(0, r.exit(), r.toString());
        assertEquals("disconnected " + vdev + " from domain " + g.domid() + "\n", r.out());
        assertNull(dist.listLine(g.vbd(vdev)), "list still shows " + g.vbd(vdev));
        assertFalse(dist.xsExists(g.frontend(vdev)), g.frontend(vdev) + " still exists");
        assertFalse(dist.xsExists(g.backend(vdev)), g.backend(vdev) + " still exists");
    }

    private static Dist.Result run(Dist.Guest g, String vdev, String... workload) throws Exception {
        return dist.simRun(g, vdev, workload);
    }

    private static void assertVerifyOk(Dist.Result r) {
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().strip().endsWith(" OK"), r.toString());
    }

    @Test
    void cowShowsTheGoldImageAndLeavesItByteIdentical() throws Exception {
        Path gold = Images.sparse(image("gold.img"), 64L << 20, MARKER);
        String before = Images.sha256(gold);
        connect(g64, "xvdb", "--path", gold.toString(), "--storage", "cow");

        Dist.Result marker = run(g64, "xvdb", "read-at", "0", "1");
        assertEquals(0, marker.exit(), marker.toString());
        assertTrue(marker.out().startsWith("00000000  58 45 4e 44 49 53 4b 2d  45 32 45 2d 47 4f 4c 44  |XENDISK-E2E-GOLD|\n"),
                marker.toString());
        assertTrue(marker.out().endsWith("00000200\n"), marker.toString());

        assertVerifyOk(run(g64, "xvdb", "verify", "--size", "8M", "--seed", "3"));
        // the guest sees its own writes over the gold image: the marker is overwritten by sector 0 of the pattern
        Dist.Result after = run(g64, "xvdb", "read-at", "0", "1");
        assertFalse(after.out().contains("XENDISK"), after.toString());
        Map<String, Long> c = Dist.counters(dist.listLine(g64.vbd("xvdb")));
        assertEquals(8L << 20, c.get("write-bytes"), c.toString());
        assertTrue(c.get("flushes") >= 1, c.toString());
        assertEquals(0, c.get("errors"), c.toString());

        disconnect(g64, "xvdb");
        assertEquals(before, Images.sha256(gold), "the gold image changed");
        assertEquals(64L << 20, Files.size(gold));
    }

    /** Two disks on one guest (mmap and file engines), on each ring ABI; the images keep what the guest wrote. */
    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "x86_32"})
    void mmapAndFileImagesHoldWhatTheGuestWrote(String abi) throws Exception {
        Dist.Guest g = abi.equals("x86_64") ? g64 : g32;
        String mmapVdev = abi.equals("x86_64") ? "xvdc" : "xvdb";
        String fileVdev = abi.equals("x86_64") ? "xvdd" : "xvdc";
        Path mm = Images.sparse(image("mmap-" + abi + ".img"), 32L << 20, null);
        Path ff = Images.sparse(image("file-" + abi + ".img"), 24L << 20, null);
        connect(g, mmapVdev, "--path", mm.toString(), "--storage", "mmap");
        connect(g, fileVdev, "--path", ff.toString(), "--storage", "file");
        assertEquals(abi + "-abi", dist.xsRead(g.frontend(mmapVdev) + "/protocol"));
        assertEquals("65536", dist.xsRead(g.backend(mmapVdev) + "/sectors"));
        assertEquals("49152", dist.xsRead(g.backend(fileVdev) + "/sectors"));

        // distinct seeds and offsets, so data landing on the other disk or sector would show
        String bs = abi.equals("x86_64") ? "128k" : "44k";
        assertVerifyOk(run(g, mmapVdev, "verify", "--offset", "1M", "--size", "3M", "--seed", "11", "--bs", bs));
        assertVerifyOk(run(g, fileVdev, "verify", "--offset", "512k", "--size", "2M", "--seed", "12", "--bs", "44k"));
        String mmLine = dist.listLine(g.vbd(mmapVdev));
        assertNotNull(mmLine);
        assertTrue(mmLine.contains(" Connected mmap:" + mm), mmLine);
        assertEquals(3L << 20, Dist.counters(mmLine).get("write-bytes"), mmLine);
        if (abi.equals("x86_64")) {
            assertEquals(48L, Dist.counters(mmLine).get("indirect-requests"), "3 MiB in 128 KiB requests, each way: " + mmLine);
            assertTrue(Dist.counters(mmLine).get("persistent-grants") > 0, mmLine);
        } else {
            assertEquals(0L, Dist.counters(mmLine).get("indirect-requests"), "a guest without INDIRECT requests: " + mmLine);
        }

        disconnect(g, mmapVdev);
        disconnect(g, fileVdev);
        Images.assertPattern(mm, 1 << 20, 3 << 20, 11);
        Images.assertPattern(ff, 512 << 10, 2 << 20, 12);
        assertTrue(Images.zeros(mm, 0, 1 << 20), "bytes before the written range changed");
        assertTrue(Images.zeros(ff, (512 << 10) + (2 << 20), 1 << 20), "bytes after the written range changed");
        assertEquals(32L << 20, Files.size(mm));
        assertEquals(24L << 20, Files.size(ff));
    }

    /** A guest with two queues: a workload on each ring at once, one image. */
    @Test
    void twoQueuesOfOneDiskServeTwoWorkloadsAtOnce() throws Exception {
        Path img = Images.sparse(image("mq.img"), 16L << 20, null);
        connect(g64, "xvdf", "--path", img.toString(), "--storage", "file");
        assertEquals("4", dist.xsRead(g64.backend("xvdf") + "/multi-queue-max-queues"));
        assertEquals("2", dist.xsRead(g64.frontend("xvdf") + "/multi-queue-num-queues"));
        assertEquals(2L, Dist.counters(dist.listLine(g64.vbd("xvdf"))).get("queues"));

        CompletableFuture<Dist.Result> q0 = CompletableFuture.supplyAsync(() -> runQuietly(g64, "xvdf",
                "verify", "--offset", "0", "--size", "6M", "--seed", "31", "--queue", "0"));
        CompletableFuture<Dist.Result> q1 = CompletableFuture.supplyAsync(() -> runQuietly(g64, "xvdf",
                "verify", "--offset", "8M", "--size", "6M", "--seed", "32", "--queue", "1"));
        assertVerifyOk(q0.get(120, TimeUnit.SECONDS));
        assertVerifyOk(q1.get(120, TimeUnit.SECONDS));
        Dist.Result noSuchQueue = run(g64, "xvdf", "read-at", "0", "8", "--queue", "2");
        assertEquals(1, noSuchQueue.exit(), noSuchQueue.toString());
        assertTrue(noSuchQueue.err().contains("no queue 2 (the disk has 2 rings: queues 0..1)"), noSuchQueue.toString());

        Map<String, Long> c = Dist.counters(dist.listLine(g64.vbd("xvdf")));
        assertEquals(12L << 20, c.get("write-bytes"), c.toString());
        assertEquals(0L, c.get("errors"), c.toString());
        disconnect(g64, "xvdf");
        Images.assertPattern(img, 0, 6 << 20, 31);
        Images.assertPattern(img, 8 << 20, 6 << 20, 32);
        assertTrue(Images.zeros(img, 6 << 20, 2 << 20), "bytes between the two ranges changed");
    }

    private static Dist.Result runQuietly(Dist.Guest g, String vdev, String... workload) {
        try {
            return run(g, vdev, workload);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aRelativePathIsTheFileWhereTheUserTypedItNotWhereTheDaemonRuns() throws Exception {
        Path here = Files.createDirectories(image("elsewhere"));
        Path img = Images.sparse(here.resolve("disk.img"), 8L << 20, "XENDISK-E2E-RELATIVE");
        Path daemonDir = Files.readSymbolicLink(Path.of("/proc/" + daemonPid + "/cwd"));
        assertFalse(daemonDir.equals(here), "the daemon must run in another directory than the user");

        Dist.Result r = dist.cliIn(here, "connect", g64.name(), "--vdev", "xvdg", "--path", "disk.img");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().startsWith("connected file:" + img + " to domain " + g64.domid() + " as xvdg"), r.toString());
        dist.awaitConnected(g64, "xvdg");
        assertEquals("file:" + img, dist.xsRead(g64.backend("xvdg") + "/params"));
        Dist.Result marker = run(g64, "xvdg", "read-at", "0", "1");
        assertEquals(0, marker.exit(), marker.toString());
        assertTrue(marker.out().startsWith("00000000  58 45 4e 44 49 53 4b 2d  45 32 45 2d 52 45 4c 41  |XENDISK-E2E-RELA|\n"),
                marker.toString());
        disconnect(g64, "xvdg");
    }

    @Test
    void discardReadsZerosAfterWrites() throws Exception {
        connect(g32, "xvdd");
        Dist.Result w = run(g32, "xvdd", "seq-write", "--size", "4M");
        assertEquals(0, w.exit(), w.toString());
        assertTrue(w.out().contains(" bytes=4194304 ") && w.out().contains(" errors=0"), w.toString());
        Dist.Result r = run(g32, "xvdd", "read-at", "0", "64");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00008000\n",
                r.out());
        assertTrue(Dist.counters(dist.listLine(g32.vbd("xvdd"))).get("writes") > 0);
        disconnect(g32, "xvdd");
    }

    @Test
    void readOnlyDiskRejectsWritesAndServesReads() throws Exception {
        Path img = Images.sparse(image("ro.img"), 8L << 20, null);
        Images.writePattern(img, 0, 1 << 20, 21);
        String before = Images.sha256(img);
        connect(g64, "xvde", "--path", img.toString(), "--storage", "file", "--readonly");
        assertEquals("r", dist.xsRead(g64.backend("xvde") + "/mode"));

        Dist.Result hostile = run(g64, "xvde", "hostile", "write-read-only");
        assertEquals(0, hostile.exit(), hostile.toString());
        assertTrue(hostile.out().contains("hostile write-read-only PASS error response"), hostile.toString());
        assertTrue(hostile.out().contains("hostile summary passed=1 failed=0 skipped=0"), hostile.toString());
        // the guest's own workloads refuse to write to a disk advertised read-only
        Dist.Result write = run(g64, "xvde", "seq-write", "--size", "1M");
        assertEquals(1, write.exit(), write.toString());
        assertTrue(write.err().contains("read-only"), write.toString());
        // reads work: the pattern put there before connecting
        assertVerifyOk(run(g64, "xvde", "verify", "--read-only", "--size", "1M", "--seed", "21"));

        Map<String, Long> c = Dist.counters(dist.listLine(g64.vbd("xvde")));
        assertEquals(1, c.get("rejected-read-only"), c.toString());
        assertEquals(1, c.get("errors"), c.toString());
        assertEquals(0, c.get("writes"), c.toString());
        assertTrue(c.get("reads") > 0, c.toString());
        disconnect(g64, "xvde");
        assertEquals(before, Images.sha256(img), "a read-only image changed");
    }

    @Test
    void foregroundConnectIsUnpluggedBySigterm() throws Exception {
        Path out = dist.dir.resolve("fg-connect.txt");
        Process fg = dist.start(List.of(Dist.HOME.resolve("bin/xen-disk-java").toString(),
                "connect", g32.name(), "--vdev", "xvde", "--foreground"), out);
        Dist.poll(() -> read(out).contains("in the foreground"), "connect --foreground to say it serves");
        dist.awaitConnected(g32, "xvde");
        assertNotNull(dist.listLine(g32.vbd("xvde")));
        Dist.Result io = run(g32, "xvde", "read-at", "8", "8");
        assertEquals(0, io.exit(), io.toString());

        fg.destroy(); // SIGTERM
        assertTrue(fg.waitFor(30, TimeUnit.SECONDS), "connect --foreground ignored SIGTERM");
        assertEquals(0, fg.exitValue(), read(out));
        assertTrue(read(out).contains("disconnected xvde from domain " + g32.domid()), read(out));
        assertNull(dist.listLine(g32.vbd("xvde")), "list still shows the disk");
        assertFalse(dist.xsExists(g32.frontend("xvde")), "frontend directory left");
        assertFalse(dist.xsExists(g32.backend("xvde")), "backend directory left");
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
