package io.xendisk.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.blkif.Abi;
import io.xendisk.blkif.XenbusState;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;

/**
 * A guest in this JVM against the real backend (VbdBackend + BlkifConnector)
 * over the simulated platform: handshake, workloads, closing, hostile cases.
 */
class BlkfrontTest {
    private static final int XVDB = 51728;
    private static final long IMAGE_BYTES = 4L << 20;

    private SimBackend platform;
    private Guest guest;
    private Path image;
    private final List<String> out = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        if (guest != null) {
            guest.close();
        }
        if (platform != null) {
            platform.close();
        }
    }

    private Guest startGuest(Abi abi) throws Exception {
        platform = new SimBackend();
        guest = Guest.start(new Guest.Config("test-vm", platform.socket(), platform.simdir, 16, abi, null));
        return guest;
    }

    private SimBackend.Disk addImageDisk(int devid, boolean readOnly, byte[] content) throws Exception {
        return addImageDisk(devid, readOnly, content, "file", BlkifFeatures.BASIC);
    }

    private SimBackend.Disk addImageDisk(int devid, boolean readOnly, byte[] content, String engine,
                                         BlkifFeatures features) throws Exception {
        image = platform.dir.resolve("disk" + devid + ".img");
        byte[] bytes = content != null ? content : new byte[(int) IMAGE_BYTES];
        Files.write(image, bytes);
        IoEngine s = Storages.open(StorageSpec.of(engine, image, readOnly));
        return platform.addDisk(guest.domid(), devid, s, readOnly, features);
    }

    private Blkfront connected(int devid) throws InterruptedException {
        Blkfront fe = guest.awaitConnected(devid, 20, TimeUnit.SECONDS);
        assertNotNull(fe, "frontend " + devid + " connected; frontends " + guest.frontends());
        return fe;
    }

    private boolean run(Blkfront fe, String workload, String... args) throws Exception {
        return Workloads.run(fe, workload, List.of(args), out::add);
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void handshakeConnectsAndVerifyLeavesThePatternInTheImage(Abi abi) throws Exception {
        startGuest(abi);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null);
        Blkfront fe = connected(XVDB);

        assertEquals("4", platform.read(disk.fe + "/state"));
        assertEquals("4", platform.read(disk.be + "/state"));
        assertEquals(abi.protocol(), platform.read(disk.fe + "/protocol"));
        assertNotNull(platform.read(disk.fe + "/ring-ref"));
        assertNotNull(platform.read(disk.fe + "/event-channel"));
        assertEquals(IMAGE_BYTES / 512, fe.disk().sectors());
        assertFalse(fe.disk().readOnly());

        assertTrue(run(fe, "verify", "--offset", "64k", "--size", "1M", "--seed", "7"), out.toString());
        assertTrue(out.get(0).endsWith(" OK"), out.get(0));
        ByteBuffer img = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(img, 64 << 10, 128, 2048, 7), "image holds the seeded pattern");
        assertEquals(0, img.getLong((64 << 10) - 8), "nothing written before the range");
        assertEquals(0, img.getLong((64 << 10) + (1 << 20)), "nothing written after the range");
        assertTrue(disk.stats.writes() > 0 && disk.stats.reads() > 0);
        assertEquals(0, disk.stats.errors());
    }

    /**
     * Rings of 2^order pages, each order on each ABI: the frontend takes the smaller of its own
     * maximum and the backend's offer, publishes ring-page-order and ring-ref0..N-1, and a verify
     * keeps a full ring of requests in flight (32 per page).
     */
    @ParameterizedTest(name = "guest order {0}, backend order {1}, {2}")
    @CsvSource({"0, 4, X86_64", "1, 4, X86_32", "2, 4, X86_64", "3, 4, X86_32", "4, 4, X86_64", "4, 4, X86_32",
            "4, 2, X86_64", "4, 0, X86_32"})
    void multiPageRingsOfEveryOrderCarryAFullRing(int guestOrder, int backendOrder, Abi abi) throws Exception {
        platform = new SimBackend();
        guest = Guest.start(new Guest.Config("ring-vm", platform.socket(), platform.simdir, 48, abi, null,
                0, 1, guestOrder));
        BlkifFeatures features = new BlkifFeatures(1, backendOrder, 0, false);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null, "file", features);
        Blkfront fe = connected(XVDB);
        int order = Math.min(guestOrder, backendOrder);
        assertEquals(backendOrder == 0 ? null : Integer.toString(backendOrder), platform.read(disk.be + "/max-ring-page-order"));
        if (order == 0) {
            assertNotNull(platform.read(disk.fe + "/ring-ref"));
            assertNull(platform.read(disk.fe + "/ring-page-order"));
        } else {
            assertEquals(Integer.toString(order), platform.read(disk.fe + "/ring-page-order"));
            for (int i = 0; i < 1 << order; i++) {
                assertNotNull(platform.read(disk.fe + "/ring-ref" + i), "ring-ref" + i);
            }
            assertNull(platform.read(disk.fe + "/ring-ref" + (1 << order)));
        }
        int slots = 32 << order;
        assertTrue(run(fe, "verify", "--size", "4M", "--bs", "4k", "--qd", Integer.toString(slots), "--seed", "5"),
                out.toString());
        assertTrue(out.get(0).endsWith(" OK"), out.get(0));
        ByteBuffer img = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(img, 0, 0, 8192, 5), "the image holds the pattern");
        assertEquals(0, disk.stats.errors());
        assertTrue(disk.stats.ringUtilisationPercent() > 0);
    }

    @Test
    void readAtShowsTheImageBytes() throws Exception {
        startGuest(Abi.X86_64);
        byte[] content = new byte[(int) IMAGE_BYTES];
        byte[] marker = "xen-disk-java marker".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(marker, 0, content, 100 * 512, marker.length);
        addImageDisk(XVDB, false, content);
        Blkfront fe = connected(XVDB);
        assertTrue(run(fe, "read-at", "100", "2"));
        assertTrue(out.get(0).startsWith("0000c800  78 65 6e 2d"), out.get(0));
        assertTrue(out.get(0).endsWith("|xen-disk-java ma|"), out.get(0));
        assertTrue(out.get(1).endsWith("|rker............|"), out.get(1));
        assertEquals("*", out.get(3), "zero lines folded");
        assertEquals(String.format("%08x", 102 * 512), out.get(out.size() - 1));
    }

    @Test
    void sequentialAndRandomWorkloadsMoveTheBytesTheyReport() throws Exception {
        startGuest(Abi.X86_64);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null);
        Blkfront fe = connected(XVDB);
        assertTrue(run(fe, "seq-write", "--bs", "1M", "--size", "2M"));
        assertTrue(out.get(0).startsWith("seq-write bs=1048576 qd=24 "), out.get(0));
        assertTrue(out.get(0).contains(" bytes=2097152 "), out.get(0));
        assertEquals(2L << 20, disk.stats.writeBytes());
        // seq-write puts slot i's pattern (sectors i*88..) in each 44 KiB request: the first request is slot 0's
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(b, 0, 0, 88, 1));
        assertEquals(-1, Pattern.firstMismatch(b, 88 * 512, 88, 88, 1));
        assertTrue(run(fe, "rand-write", "--qd", "32", "--ops", "1000", "--bs", "8k"));
        assertTrue(out.get(1).contains(" bytes=8192000 "), out.get(1));
        assertEquals((2L << 20) + 8192000, disk.stats.writeBytes());
        assertTrue(disk.stats.meanBatch() > 1, "QD 32 batches requests: mean batch " + disk.stats.meanBatch());
        assertTrue(run(fe, "seq-read", "--bs", "64k"));
        assertTrue(out.get(2).contains(" bytes=" + IMAGE_BYTES + " "), out.get(2));
        assertTrue(run(fe, "rand-read", "--qd", "8", "--ops", "2000", "--seed", "3"));
        assertTrue(out.get(3).startsWith("rand-read bs=4096 qd=8 seed=3 requests=2000 bytes=8192000 "), out.get(3));
        assertTrue(out.get(3).contains(" errors=0"), out.get(3));
        assertEquals(0, disk.stats.errors(), disk.stats.rejections().toString());
    }

    @Test
    void writeAfterASmallerReadInTheSameSlot() throws Exception {
        startGuest(Abi.X86_64);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null);
        Blkfront fe = connected(XVDB);
        assertTrue(run(fe, "rand-read", "--qd", "32", "--ops", "64", "--bs", "4k"));
        assertTrue(run(fe, "rand-write", "--qd", "32", "--ops", "64", "--bs", "8k"), out.toString());
        assertEquals(0, disk.stats.errors(), disk.stats.rejections().toString());
    }

    @Test
    void backendClosingClosesTheFrontendAndRevokesItsGrants() throws Exception {
        startGuest(Abi.X86_64);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null);
        Blkfront fe = connected(XVDB);
        disk.toolstackRemoves(platform.dom0);
        assertTrue(fe.awaitFinished(20, TimeUnit.SECONDS));
        assertEquals(XenbusState.CLOSED, fe.state());
        assertEquals("6", platform.read(disk.fe + "/state"));
        SimBackend.await(() -> "6".equals(platform.read(disk.be + "/state")), "backend Closed");
        SimBackend.await(() -> !disk.teardowns.isEmpty(), "backend torn down (online=0)");
        assertFalse(disk.connector.serving());
        // every grant of the frontend is revoked: the backend can no longer map the ring
        int ringRef = Integer.parseInt(platform.read(disk.fe + "/ring-ref"));
        org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                () -> platform.grants.map(guest.domid(), new int[] {ringRef}, true).close());
    }

    /**
     * Without a back-off every kick of a storm wakes the ring thread (tens of
     * thousands a second on this platform); with it the thread sleeps longer
     * each time, up to 50 ms, and takes a few dozen events a second.
     */
    @Test
    void anEventStormIsBackedOffAndTheDiskStillServes() throws Exception {
        startGuest(Abi.X86_64);
        SimBackend.Disk rw = addImageDisk(XVDB, false, null);
        Blkfront fe = connected(XVDB);
        assertTrue(run(fe, "hostile", "event-storm", "--seconds", "2"), String.join("\n", out));
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("^hostile event-storm PASS (\\d+) notifications in ([0-9.]+) s; the backend took (\\d+) events")
                .matcher(out.get(0));
        assertTrue(m.find(), String.join("\n", out));
        long sent = Long.parseLong(m.group(1));
        double seconds = Double.parseDouble(m.group(2));
        long taken = Long.parseLong(m.group(3));
        assertTrue(sent > 10_000, "a storm: " + out.get(0));
        assertTrue(taken < 200 * Math.max(1, seconds), "the ring thread backs off: " + out.get(0));
        assertTrue(rw.stats.backoffs() > 0 && rw.stats.spuriousEvents() > 0, "counted for status");
        assertTrue(run(fe, "verify", "--size", "1M", "--seed", "3"), String.join("\n", out));
        assertTrue(rw.connector.serving());
    }

    @Test
    void hostileCasesGetErrorResponsesAndTheBackendKeepsServing() throws Exception {
        startGuest(Abi.X86_64);
        SimBackend.Disk rw = addImageDisk(XVDB, false, null);
        Blkfront fe = connected(XVDB);
        assertTrue(run(fe, "hostile", "all", "--count", "20000"), String.join("\n", out));
        long passes = out.stream().filter(l -> l.startsWith("hostile ") && l.contains(" PASS ")).count();
        long indirectCases = HostileWorkload.REQUEST_CASES.stream().filter(c -> c.startsWith("indirect-")).count();
        // every request case but write-read-only and the INDIRECT ones (not offered here), and event-storm
        assertEquals(HostileWorkload.REQUEST_CASES.size() - 1 - indirectCases + 1, passes, String.join("\n", out));
        assertTrue(out.stream().anyMatch(l -> l.startsWith("hostile write-read-only SKIP")));
        assertTrue(out.stream().anyMatch(l -> l.startsWith("hostile indirect-bad-op SKIP")));
        assertEquals("hostile summary passed=11 failed=0 skipped=6", out.get(out.size() - 1));
        out.clear();
        assertFalse(run(fe, "hostile", "write-read-only"), "a run whose every case is skipped does not pass");
        assertEquals("hostile summary passed=0 failed=0 skipped=1", out.get(out.size() - 1));
        out.clear();
        assertTrue(rw.connector.serving());
        assertTrue(rw.ringFailures.isEmpty(), rw.ringFailures.toString());
        assertEquals(10, rw.stats.errors(), "one error response per violating request");

        // the same guest, a read-only disk: the write is refused
        SimBackend.Disk ro = addImageDisk(51744, true, null);
        Blkfront roFe = connected(51744);
        assertTrue(roFe.disk().readOnly());
        out.clear();
        assertTrue(run(roFe, "hostile", "write-read-only"), String.join("\n", out));
        assertTrue(out.get(0).startsWith("hostile write-read-only PASS error response status -1"), out.get(0));
        assertEquals(1, ro.stats.errors());
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void producerOverflowStopsThatRingOnly(Abi abi) throws Exception {
        startGuest(abi);
        SimBackend.Disk victim = addImageDisk(XVDB, false, null);
        SimBackend.Disk other = addImageDisk(51744, false, null);
        Blkfront fe = connected(XVDB);
        Blkfront otherFe = connected(51744);
        assertTrue(run(fe, "hostile", "prod-overflow"), String.join("\n", out));
        assertTrue(out.get(0).startsWith("hostile prod-overflow PASS"), out.get(0));
        SimBackend.await(() -> !victim.ringFailures.isEmpty(), "backend stops the ring");
        assertTrue(victim.ringFailures.get(0).contains("req_prod"), victim.ringFailures.get(0));
        SimBackend.await(() -> !victim.connector.serving(), "ring thread gone");
        assertTrue(fe.error().contains("prod-overflow"), fe.error());
        out.clear();
        assertTrue(run(otherFe, "verify", "--size", "256k"), out.toString());
        assertTrue(other.connector.serving());
    }

    /**
     * With the daemon's default features the guest negotiates 32-segment
     * INDIRECT requests and persistent grants, as Linux blkfront does: 1 MiB
     * blocks go out as 128 KiB requests and the data pages stay mapped.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"file", "mmap"})
    void indirectRequestsAndPersistentGrantsCarryTheWorkloads(String engine) throws Exception {
        startGuest(Abi.X86_64);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null, engine, BlkifFeatures.DEFAULT);
        Blkfront fe = connected(XVDB);
        assertEquals("256", platform.read(disk.be + "/feature-max-indirect-segments"));
        assertEquals("1", platform.read(disk.be + "/feature-persistent"));
        assertEquals("1", platform.read(disk.fe + "/feature-persistent"));
        assertTrue(run(fe, "seq-write", "--bs", "1M", "--size", "2M"));
        assertTrue(out.get(0).startsWith("seq-write bs=1048576 qd=8 "), "1 MiB = 8 requests of 128 KiB: " + out.get(0));
        assertEquals(16, disk.stats.indirectRequests());
        // slot i's pattern (sectors i*88..) fills each 128 KiB request: the second request is slot 1's
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(b, 0, 0, 256, 1));
        assertEquals(-1, Pattern.firstMismatch(b, 256 * 512, 88, 256, 1));
        assertTrue(run(fe, "verify", "--bs", "128k", "--size", "2M", "--offset", "1M", "--seed", "4"), out.toString());
        assertTrue(run(fe, "rand-read", "--qd", "32", "--ops", "500", "--bs", "4k"));
        assertTrue(disk.stats.persistentGrants() > 32, "data pages kept mapped: " + disk.stats.persistentGrants());
        assertTrue(run(fe, "hostile", "all"), out.toString());
        assertTrue(out.stream().anyMatch(l -> l.startsWith("hostile indirect-bad-segment PASS")), out.toString());
        assertEquals("hostile summary passed=16 failed=0 skipped=1", out.get(out.size() - 1), "only write-read-only skipped");
        assertTrue(disk.ringFailures.isEmpty(), disk.ringFailures.toString());
    }

    /**
     * A guest that takes the 256 segments offered (as Linux booted with
     * xen_blkfront.max_indirect_segments=256) sends each 1 MiB block as one request, on
     * each ABI, through the guest's kept pages (file, persistent grants), the image's
     * memory (mmap) and bounce buffers (file without persistent grants).
     */
    @ParameterizedTest(name = "{0} {1} persistent={2}")
    @CsvSource({"X86_64, file, true", "X86_32, file, false", "X86_64, mmap, true", "X86_32, mmap, false",
            "X86_64, file, false"})
    void twoHundredFiftySixSegmentsCarryAMegabyteARequest(Abi abi, String engine, boolean persistent) throws Exception {
        platform = new SimBackend();
        guest = Guest.start(new Guest.Config("big-vm", platform.socket(), platform.simdir, 48, abi, null, 256, 1));
        BlkifFeatures features = new BlkifFeatures(1, 0, BlkifFeatures.DEFAULT_INDIRECT_SEGMENTS, persistent);
        SimBackend.Disk disk = addImageDisk(XVDB, false, null, engine, features);
        Blkfront fe = connected(XVDB);
        assertEquals("256", platform.read(disk.be + "/feature-max-indirect-segments"));
        assertTrue(run(fe, "verify", "--bs", "1M", "--size", "3M", "--offset", "512k", "--seed", "9"), out.toString());
        assertTrue(out.get(0).endsWith(" OK"), out.get(0));
        assertEquals(6, disk.stats.indirectRequests(), "3 MiB written and read back in 1 MiB requests");
        ByteBuffer img = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(img, 512 << 10, 1024, 6144, 9), "the image holds the pattern");
        assertEquals(0, img.getLong((512 << 10) - 8), "nothing before the range");
        assertEquals(0, disk.stats.errors());
        assertTrue(disk.ringFailures.isEmpty(), disk.ringFailures.toString());
    }

    static Stream<Arguments> layouts() {
        return Stream.of(Abi.values()).flatMap(abi -> Stream.of(
                Arguments.of(abi, BlkifFeatures.BASIC),
                Arguments.of(abi, BlkifFeatures.DEFAULT.withQueues(1))));
    }

    /**
     * An engine that completes out of order, from threads of its own, after
     * random delays (as a remote store does) serves verify with a ring's worth
     * of requests in flight: the bytes read back and the bytes in the image are
     * what the guest wrote, with the data in bounce buffers (no persistent
     * grants) and in the guest's kept pages.
     */
    @ParameterizedTest
    @MethodSource("layouts")
    void verifyPassesWithARingOfRequestsCompletingOutOfOrder(Abi abi, BlkifFeatures features) throws Exception {
        startGuest(abi);
        Path image = platform.dir.resolve("async.img");
        Files.write(image, new byte[(int) IMAGE_BYTES]);
        OutOfOrderEngine engine = new OutOfOrderEngine(image, 2_000);
        SimBackend.Disk disk = platform.addDisk(guest.domid(), XVDB, engine, false, features);
        Blkfront fe = connected(XVDB);

        assertTrue(Workloads.run(fe, "verify", List.of("--size", "4M", "--bs", "4k", "--qd", "32", "--seed", "11"),
                out::add), out.toString());
        assertTrue(out.get(0).endsWith(" OK"), out.get(0));
        assertEquals(0, disk.stats.errors(), disk.stats.rejections().toString());
        assertTrue(engine.maxInFlight() >= 16, "requests in flight at once: " + engine.maxInFlight());
        assertTrue(engine.overtaken() > 0, "completions out of order: " + engine.overtaken());
        assertEquals(4L << 20, disk.stats.writeBytes());

        // what the guest wrote is in the image, read by other means
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(b, 0, 0, (int) ((4L << 20) / 512), 11), "the image holds the pattern");
    }
}
