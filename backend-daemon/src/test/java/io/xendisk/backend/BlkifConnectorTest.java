package io.xendisk.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.BackRing;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.FrontRing;
import io.xendisk.blkif.Rejection;
import io.xendisk.blkif.Request;
import io.xendisk.storage.Capabilities;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.IoRequest;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import io.xendisk.xen.BudgetedGrantTable;
import io.xendisk.xen.MappingBudget;
import io.xendisk.xen.sim.domain.SimDomain;
import io.xendisk.xen.sim.domain.SimEventChannel;
import io.xendisk.xen.sim.domain.SimEventChannels;
import io.xendisk.xen.sim.domain.SimGrantTable;

/**
 * The data path end to end in one process: a guest domain of the simulated
 * platform drives the ring by hand (as blkfront would), the backend serves it
 * from a real image file; assertions are on bytes in guest memory and in the image.
 */
class BlkifConnectorTest {
    private static final int DOMID = 7;
    private static final long DISK_SECTORS = 2048; // 1 MiB

    private Path dir;
    private SimDomain guest;
    private IoEngine storage;
    private BlkifConnector connector;
    private SimGrantTable grants;
    private FrontRing front;
    private int ringRef;
    private SimEventChannel port;
    private final VbdStats stats = new VbdStats();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private Path image;
    /** What the tests of ordering put around the engine {@link #start} opens. */
    private UnaryOperator<IoEngine> wrapEngine = e -> e;
    /** What a test does to the ring page (as a previous daemon left it) before the backend attaches. */
    private Consumer<ByteBuffer> beforeConnect = ring -> { };
    /** The daemon-wide mapping budget the backend's grant table counts against. */
    private MappingBudget budget = MappingBudget.unlimited();

    private void start(Abi abi) throws IOException {
        start(abi, "file");
    }

    private void start(Abi abi, String engine) throws IOException {
        start(abi, engine, 0, false);
    }

    private void start(Abi abi, String engine, int maxIndirect, boolean persistent) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjdp");
        guest = SimDomain.create(dir, DOMID, 512, 1024);
        image = dir.resolve("disk.img");
        byte[] content = new byte[(int) (DISK_SECTORS * 512)];
        new Random(1).nextBytes(content);
        Files.write(image, content);
        storage = wrapEngine.apply(Storages.open(StorageSpec.of(engine, image, false)));
        int ringFrame = guest.memory().allocate(1);
        ringRef = guest.grants().grantAccess(ringFrame, 0, false);
        front = FrontRing.init(guest.memory().page(ringFrame), abi, 1);
        port = guest.allocUnbound(0);
        grants = new SimGrantTable(dir);
        connector = new BlkifConnector("vbd 7/51728", new BudgetedGrantTable(grants, budget), new SimEventChannels(dir), storage,
                new Request.Limits(DISK_SECTORS, false, false, maxIndirect), stats, failures::add, () -> { },
                new RingJournals(dir.resolve("rings")), DOMID, 51728);
        beforeConnect.accept(guest.memory().page(ringFrame));
        connector.connect(new FrontendRing(DOMID, List.of(ringRef), port.localPort(), abi, persistent));
        assertTrue(connector.serving());
    }

    @AfterEach
    void tearDown() throws IOException {
        if (connector != null) {
            connector.disconnect();
        }
        if (storage != null) {
            storage.close();
        }
        if (grants != null) {
            grants.close();
        }
        if (guest != null) {
            guest.close();
        }
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A data page of the guest, granted to dom0. */
    private record Page(int frame, int ref) {
    }

    private Page page(boolean readOnly) {
        int f = guest.memory().allocate(1);
        return new Page(f, guest.grants().grantAccess(f, 0, readOnly));
    }

    private void submit(int op, long id, long sector, Page... pages) {
        int n = pages.length;
        int[] refs = new int[n];
        int[] first = new int[n];
        int[] last = new int[n];
        for (int i = 0; i < n; i++) {
            refs[i] = pages[i].ref();
            last[i] = 7;
        }
        front.putRequest(op, id, sector, 51728, refs, first, last, n);
    }

    private void push() {
        if (front.pushRequests()) {
            port.notifyRemote();
        }
    }

    /** Waits for {@code n} responses; returns {id, op, status} triples in ring order. */
    private List<long[]> responses(int n) throws InterruptedException {
        List<long[]> out = new ArrayList<>();
        long end = System.nanoTime() + 10_000_000_000L;
        while (out.size() < n) {
            while (front.unconsumedResponses() > 0) {
                out.add(new long[] {front.responseId(), front.responseOperation(), front.responseStatus()});
                front.takeResponse();
            }
            if (out.size() < n && !front.finalCheckForResponses()) {
                port.await(100_000_000L);
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("only " + out.size() + " of " + n + " responses; failures " + failures);
            }
        }
        return out;
    }

    private byte[] imageBytes(long sector, int len) throws IOException {
        byte[] all = Files.readAllBytes(image);
        byte[] out = new byte[len];
        System.arraycopy(all, (int) (sector * 512), out, 0, len);
        return out;
    }

    private byte[] guestBytes(Page p) {
        byte[] b = new byte[4096];
        guest.memory().page(p.frame()).get(0, b);
        return b;
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void writeFlushReadMoveTheRightBytes(Abi abi) throws Exception {
        start(abi);
        Page w1 = page(true);
        Page w2 = page(true);
        byte[] pattern = new byte[8192];
        new Random(2).nextBytes(pattern);
        guest.memory().page(w1.frame()).put(0, pattern, 0, 4096);
        guest.memory().page(w2.frame()).put(0, pattern, 4096, 4096);
        submit(Blkif.OP_WRITE, 100, 16, w1, w2);
        submit(Blkif.OP_FLUSH_DISKCACHE, 101, 0);
        Page r1 = page(false);
        Page r2 = page(false);
        submit(Blkif.OP_READ, 102, 16, r1, r2); // same batch: must see the write
        push();
        List<long[]> rsp = responses(3);
        assertArrayEquals(new long[] {100, Blkif.OP_WRITE, Blkif.RSP_OKAY}, rsp.get(0));
        assertArrayEquals(new long[] {101, Blkif.OP_FLUSH_DISKCACHE, Blkif.RSP_OKAY}, rsp.get(1));
        assertArrayEquals(new long[] {102, Blkif.OP_READ, Blkif.RSP_OKAY}, rsp.get(2));
        assertArrayEquals(pattern, imageBytes(16, 8192), "image holds the guest's data after the flush");
        byte[] read = new byte[8192];
        System.arraycopy(guestBytes(r1), 0, read, 0, 4096);
        System.arraycopy(guestBytes(r2), 0, read, 4096, 4096);
        assertArrayEquals(pattern, read, "guest memory holds what was read");
        assertEquals(1, stats.reads());
        assertEquals(1, stats.writes());
        assertEquals(8192, stats.writeBytes());
        assertEquals(1, stats.flushes());
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /** mmap and cow take the zero-copy path: grant copies straight to and from the image's memory. */
    @ParameterizedTest
    @ValueSource(strings = {"mmap", "cow"})
    void zeroCopyEnginesMoveTheRightBytes(String engine) throws Exception {
        start(Abi.X86_64, engine);
        Page w = page(true);
        byte[] pattern = new byte[4096];
        new Random(5).nextBytes(pattern);
        guest.memory().page(w.frame()).put(0, pattern);
        byte[] before = imageBytes(64, 4096);
        Page r0 = page(false);
        submit(Blkif.OP_READ, 1, 64, r0);   // the old contents
        push();
        assertEquals(Blkif.RSP_OKAY, responses(1).get(0)[2]);
        submit(Blkif.OP_WRITE, 2, 64, w);
        submit(Blkif.OP_FLUSH_DISKCACHE, 3, 0);
        Page r1 = page(false);
        submit(Blkif.OP_READ, 4, 64, r1);   // after the flush: the new contents
        push();
        List<long[]> rsp = responses(3);
        for (long[] x : rsp) {
            assertEquals(Blkif.RSP_OKAY, x[2]);
        }
        assertArrayEquals(before, guestBytes(r0));
        assertArrayEquals(pattern, guestBytes(r1));
        if (engine.equals("mmap")) {
            assertArrayEquals(pattern, imageBytes(64, 4096), "mmap: in the image after the flush");
        } else {
            assertArrayEquals(before, imageBytes(64, 4096), "cow: the gold image is untouched");
        }
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void partialSegmentsLandAtTheirSectors(Abi abi) throws Exception {
        start(abi);
        Page r = page(false);
        // sectors 3..5 of the page from disk sectors 40..42
        front.putRequest(Blkif.OP_READ, 7, 40, 0, new int[] {r.ref()}, new int[] {3}, new int[] {5}, 1);
        push();
        assertEquals(Blkif.RSP_OKAY, responses(1).get(0)[2]);
        byte[] g = guestBytes(r);
        byte[] want = imageBytes(40, 3 * 512);
        byte[] got = new byte[3 * 512];
        System.arraycopy(g, 3 * 512, got, 0, got.length);
        assertArrayEquals(want, got);
        assertEquals(0, g[0], "bytes outside the segment untouched");
        assertEquals(0, g[6 * 512]);
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void badRequestsGetErrorsWithTheirIdsAndTheGoodOnesInTheSameBatchSucceed(Abi abi) throws Exception {
        start(abi);
        Page ro = page(true);
        Page rw = page(false);
        submit(Blkif.OP_READ, 1, 0, ro);                    // read into a read-only grant
        submit(Blkif.OP_READ, 2, DISK_SECTORS - 4, rw);      // past the end
        front.putRequest(Blkif.OP_READ, 3, 0, 0, new int[] {999}, new int[] {0}, new int[] {7}, 1); // never granted
        submit(Blkif.OP_READ, 4, 8, rw);                      // fine
        front.putRequest(42, 5, 0, 0, new int[0], new int[0], new int[0], 0); // unknown op
        push();
        List<long[]> rsp = responses(5);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), rsp.stream().map(r -> r[0]).toList());
        assertEquals(Blkif.RSP_ERROR, rsp.get(0)[2]);
        assertEquals(Blkif.RSP_ERROR, rsp.get(1)[2]);
        assertEquals(Blkif.RSP_ERROR, rsp.get(2)[2]);
        assertEquals(Blkif.RSP_OKAY, rsp.get(3)[2]);
        assertEquals(Blkif.RSP_EOPNOTSUPP, rsp.get(4)[2]);
        assertEquals(42, rsp.get(4)[1], "response carries the request's operation");
        assertEquals(2, stats.rejected(Rejection.BAD_GRANT));
        assertEquals(1, stats.rejected(Rejection.BEYOND_END));
        assertEquals(1, stats.rejected(Rejection.UNKNOWN_OPERATION));
        assertEquals(4, stats.errors());
        assertArrayEquals(imageBytes(8, 4096), guestBytes(rw));
        assertTrue(connector.serving(), "bad requests do not stop the ring");
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void producerIndexFarAheadStopsThisRingOnly(Abi abi) throws Exception {
        start(abi);
        // another VBD's ring, served beside this one from the same engine
        GuestQueue other = new GuestQueue();
        BlkifConnector second = new BlkifConnector("vbd 7/51744", grants, new SimEventChannels(dir), storage,
                new Request.Limits(DISK_SECTORS, false, false, 0), new VbdStats(), failures::add);
        second.connect(new FrontendRing(DOMID, List.of(other.queue()), Abi.X86_64, false));
        try {
            front.forceReqProd(1000);
            port.notifyRemote();
            long end = System.nanoTime() + 10_000_000_000L;
            while (failures.isEmpty() && System.nanoTime() < end) {
                Thread.sleep(5);
            }
            assertEquals(1, failures.size());
            assertTrue(failures.get(0).contains("req_prod 1000"), failures.get(0));
            end = System.nanoTime() + 10_000_000_000L;
            while (connector.serving() && System.nanoTime() < end) {
                Thread.sleep(5);
            }
            assertFalse(connector.serving());
            // the other ring goes on: its writes and reads move the right bytes
            byte[] disk = new byte[(int) (DISK_SECTORS * 512)];
            new Random(5).nextBytes(disk);
            other.io(Blkif.OP_WRITE, 0, 32, disk);
            other.io(Blkif.OP_READ, 0, 32, disk);
            assertTrue(second.serving());
            assertEquals(1, failures.size(), failures.toString());
        } finally {
            second.disconnect();
        }
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void manyRoundsAcrossTheRingWrap(Abi abi) throws Exception {
        start(abi);
        Page[] pages = new Page[32];
        for (int i = 0; i < pages.length; i++) {
            pages[i] = page(false);
        }
        long id = 0;
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < 32; i++) {
                submit(Blkif.OP_READ, id++, (i * 8) % DISK_SECTORS, pages[i]);
            }
            push();
            List<long[]> rsp = responses(32);
            for (long[] r : rsp) {
                assertEquals(Blkif.RSP_OKAY, r[2]);
            }
        }
        assertEquals(640, stats.reads());
        assertArrayEquals(imageBytes(31 * 8, 4096), guestBytes(pages[31]));
        assertTrue(stats.meanBatch() >= 1);
    }

    /** Writes an INDIRECT request whose descriptors (full pages) are in a fresh indirect page granted read-only. */
    private Page submitIndirect(int indirectOp, long id, long sector, int nrSegments, Page... pages) {
        Page ind = page(true);
        ByteBuffer d = guest.memory().page(ind.frame());
        for (int i = 0; i < pages.length; i++) {
            d.putInt(i * 8, pages[i].ref()).put(i * 8 + 4, (byte) 0).put(i * 8 + 5, (byte) 7);
        }
        front.putIndirect(indirectOp, id, sector, 51728, nrSegments, new int[] {ind.ref()});
        return ind;
    }

    private Page[] pages(int n, boolean readOnly) {
        Page[] p = new Page[n];
        for (int i = 0; i < n; i++) {
            p[i] = page(readOnly);
        }
        return p;
    }

    /** 128 KiB requests of 32 segments, with and without persistent grants, on the copying and the mapped path. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"X86_64,file,false", "X86_32,file,true", "X86_64,mmap,true",
            "X86_64,mmap,false", "X86_64,cow,true"})
    void indirectRequestsMoveTheRightBytes(Abi abi, String engine, boolean persistent) throws Exception {
        start(abi, engine, 32, persistent);
        Page[] w = pages(32, false);
        byte[] pattern = new byte[32 * 4096];
        new Random(9).nextBytes(pattern);
        for (int i = 0; i < 32; i++) {
            guest.memory().page(w[i].frame()).put(0, pattern, i * 4096, 4096);
        }
        byte[] before = imageBytes(256, pattern.length);
        submitIndirect(Blkif.OP_WRITE, 1, 256, 32, w);
        submit(Blkif.OP_FLUSH_DISKCACHE, 2, 0);
        Page[] r = pages(32, false);
        submitIndirect(Blkif.OP_READ, 3, 256, 32, r);
        push();
        List<long[]> rsp = responses(3);
        assertArrayEquals(new long[] {1, Blkif.OP_WRITE, Blkif.RSP_OKAY}, rsp.get(0), "the response carries indirect_op");
        assertArrayEquals(new long[] {2, Blkif.OP_FLUSH_DISKCACHE, Blkif.RSP_OKAY}, rsp.get(1));
        assertArrayEquals(new long[] {3, Blkif.OP_READ, Blkif.RSP_OKAY}, rsp.get(2));
        byte[] read = new byte[pattern.length];
        for (int i = 0; i < 32; i++) {
            System.arraycopy(guestBytes(r[i]), 0, read, i * 4096, 4096);
        }
        assertArrayEquals(pattern, read, "guest memory holds what was read");
        assertArrayEquals(engine.equals("cow") ? before : pattern, imageBytes(256, pattern.length));
        assertEquals(2, stats.indirectRequests());
        assertEquals(32 * 4096, stats.writeBytes());
        if (persistent) {
            // 64 data pages and the two indirect pages granted read-only, which stay grant-copied
            assertEquals(64, stats.persistentGrants(), "the data pages are kept mapped");
            assertEquals(1 + 2, budget.inUse(), "the ring's mapping and one for each batch's pages (the writes', the reads'): "
                    + budget.describe());
            assertFalse(guest.grants().endAccess(w[0].ref()), "a page kept mapped cannot be revoked");
        } else {
            assertEquals(0, stats.persistentGrants());
        }
        connector.disconnect();
        for (Page p : w) {
            assertTrue(guest.grants().endAccess(p.ref()), "every page is released at disconnect");
        }
        assertEquals(0, stats.persistentGrants());
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /** A frontend that closes or resets waits for this: the idle ring thread is woken, not left to its timeout. */
    @Test
    void anIdleRingStopsAtOnce() throws Exception {
        start(Abi.X86_64);
        Page p = page(false);
        submit(Blkif.OP_READ, 1, 0, p);
        push();
        assertEquals(Blkif.RSP_OKAY, responses(1).get(0)[2]);
        Thread.sleep(20); // past the spin: the ring thread sleeps on its port
        long started = System.nanoTime();
        connector.disconnect();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertTrue(ms < 100, "disconnect took " + ms + " ms");
        assertFalse(connector.serving());
    }

    /**
     * Persistent mappings are reused: the same pages over many rounds are
     * mapped once, the four a batch names first in one mapping.
     */
    @Test
    void persistentPagesAreMappedOnceAndReused() throws Exception {
        start(Abi.X86_64, "file", 32, true);
        Page[] pages = pages(4, false);
        for (int round = 0; round < 50; round++) {
            for (int i = 0; i < 4; i++) {
                submit(round % 2 == 0 ? Blkif.OP_READ : Blkif.OP_WRITE, round * 4 + i, i * 8L, pages[i]);
            }
            push();
            for (long[] x : responses(4)) {
                assertEquals(Blkif.RSP_OKAY, x[2]);
            }
        }
        assertEquals(4, stats.persistentGrants());
        assertEquals(1 + 1, budget.inUse(), "the ring's mapping and one for the four pages: " + budget.describe());
        assertArrayEquals(imageBytes(24, 4096), guestBytes(pages[3]));
    }

    /**
     * A budget of the ring plus 2 mappings for a frontend that rotates 64
     * pages, 8 a batch (one mapping each batch): every request is served
     * right (by copies where no mapping is left), the budget is never
     * exceeded, and the ring gives back its least recently used pages so that
     * the ones in use now get mapped.
     */
    @Test
    void aShortMappingBudgetIsNeverExceededAndServesByCopies() throws Exception {
        budget = new MappingBudget(1 + 2, "test");
        start(Abi.X86_64, "file", 32, true);
        Page[] pages = pages(64, false);
        Random rnd = new Random(5);
        byte[] expect = Files.readAllBytes(image);
        long[] sectors = new long[8];
        for (int round = 0; round < 40; round++) {
            for (int i = 0; i < 8; i++) {
                Page p = pages[(round * 8 + i) % 64];
                long sector = (long) rnd.nextInt((int) (DISK_SECTORS / 8)) * 8;
                sectors[i] = sector;
                if (round % 2 == 0) {
                    byte[] data = new byte[4096];
                    rnd.nextBytes(data);
                    guest.memory().page(p.frame()).put(0, data);
                    System.arraycopy(data, 0, expect, (int) sector * 512, 4096);
                    submit(Blkif.OP_WRITE, round * 8 + i, sector, p);
                } else {
                    submit(Blkif.OP_READ, round * 8 + i, sector, p);
                }
            }
            push();
            for (long[] x : responses(8)) {
                assertEquals(Blkif.RSP_OKAY, x[2], "id " + x[0]);
            }
            for (int i = 0; i < 8 && round % 2 == 1; i++) {
                int at = (int) sectors[i] * 512;
                assertArrayEquals(Arrays.copyOfRange(expect, at, at + 4096), guestBytes(pages[(round * 8 + i) % 64]),
                        "round " + round + " read " + i);
            }
            Thread.sleep(round % 4 == 0 ? 110 : 0); // let a purge fall due now and then
        }
        assertArrayEquals(expect, Files.readAllBytes(image), "every write landed");
        assertTrue(budget.peak() <= budget.limit(), budget.describe());
        assertTrue(budget.refusals() > 0, "the budget ran out: " + budget.describe());
        assertTrue(stats.persistentGrants() <= 16 && stats.persistentGrants() > 0, budget.describe());
        connector.disconnect();
        assertEquals(0, budget.inUse(), "everything given back: " + budget.describe());
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void badIndirectRequestsGetErrorsWithTheirIdsAndOperations(Abi abi) throws Exception {
        start(abi, "file", 32, true);
        Page[] ok = pages(2, false);
        submitIndirect(Blkif.OP_FLUSH_DISKCACHE, 1, 0, 2, ok);          // indirect_op not READ/WRITE
        submitIndirect(Blkif.OP_READ, 2, 0, 33, ok);                    // more than offered
        submitIndirect(Blkif.OP_READ, 3, 0, 0, ok);                     // no segments
        submitIndirect(Blkif.OP_READ, 4, DISK_SECTORS - 8, 2, ok);      // past the end
        Page bad = page(true);                                          // last_sect 8 in the indirect page
        guest.memory().page(bad.frame()).putInt(0, ok[0].ref()).put(4, (byte) 0).put(5, (byte) 8);
        front.putIndirect(Blkif.OP_READ, 5, 0, 0, 1, new int[] {bad.ref()});
        front.putIndirect(Blkif.OP_READ, 6, 0, 0, 1, new int[] {999});  // indirect page never granted
        submitIndirect(Blkif.OP_READ, 7, 8, 2, ok);                     // fine
        push();
        List<long[]> rsp = responses(7);
        assertArrayEquals(new long[] {1, Blkif.OP_FLUSH_DISKCACHE, Blkif.RSP_EOPNOTSUPP}, rsp.get(0));
        assertArrayEquals(new long[] {2, Blkif.OP_READ, Blkif.RSP_ERROR}, rsp.get(1));
        assertArrayEquals(new long[] {3, Blkif.OP_READ, Blkif.RSP_ERROR}, rsp.get(2));
        assertArrayEquals(new long[] {4, Blkif.OP_READ, Blkif.RSP_ERROR}, rsp.get(3));
        assertArrayEquals(new long[] {5, Blkif.OP_READ, Blkif.RSP_ERROR}, rsp.get(4));
        assertArrayEquals(new long[] {6, Blkif.OP_READ, Blkif.RSP_ERROR}, rsp.get(5));
        assertArrayEquals(new long[] {7, Blkif.OP_READ, Blkif.RSP_OKAY}, rsp.get(6));
        assertEquals(2, stats.rejected(Rejection.BAD_SEGMENT_COUNT));
        assertEquals(1, stats.rejected(Rejection.BEYOND_END));
        assertEquals(1, stats.rejected(Rejection.BAD_SEGMENT));
        assertEquals(1, stats.rejected(Rejection.BAD_GRANT));
        assertArrayEquals(imageBytes(16, 4096), guestBytes(ok[1]));
        assertTrue(connector.serving());
    }

    @Test
    void indirectRequestsAreRefusedWhenNotOffered() throws Exception {
        start(Abi.X86_64, "file");
        Page[] ok = pages(2, false);
        submitIndirect(Blkif.OP_READ, 1, 0, 2, ok);
        push();
        assertArrayEquals(new long[] {1, Blkif.OP_READ, Blkif.RSP_EOPNOTSUPP}, responses(1).get(0));
        assertEquals(1, stats.rejected(Rejection.UNSUPPORTED_OPERATION));
    }

    /** One ring of a multi-queue frontend, driven by its own thread as blkfront does per vCPU. */
    private final class GuestQueue {
        final FrontRing ring;
        final SimEventChannel port;
        final int ref;
        final Page[] pages = new Page[16];

        GuestQueue() {
            int frame = guest.memory().allocate(1);
            ref = guest.grants().grantAccess(frame, 0, false);
            ring = FrontRing.init(guest.memory().page(frame), Abi.X86_64, 1);
            port = guest.allocUnbound(0);
            for (int i = 0; i < pages.length; i++) {
                pages[i] = page(false);
            }
        }

        FrontendRing.Queue queue() {
            return new FrontendRing.Queue(List.of(ref), port.localPort());
        }

        /** Writes (or reads) 4 KiB pages {@code from .. from+count-1} of the disk, 16 requests at a time. */
        void io(int op, int from, int count, byte[] disk) throws InterruptedException {
            for (int done = 0; done < count; done += pages.length) {
                int n = Math.min(pages.length, count - done);
                for (int i = 0; i < n; i++) {
                    int diskPage = from + done + i;
                    if (op == Blkif.OP_WRITE) {
                        guest.memory().page(pages[i].frame()).put(0, disk, diskPage * 4096, 4096);
                    }
                    ring.putRequest(op, diskPage, diskPage * 8L, 51728, new int[] {pages[i].ref()}, new int[1],
                            new int[] {7}, 1);
                }
                if (ring.pushRequests()) {
                    port.notifyRemote();
                }
                int got = 0;
                long end = System.nanoTime() + 10_000_000_000L;
                while (got < n) {
                    while (ring.unconsumedResponses() > 0) {
                        assertEquals(Blkif.RSP_OKAY, ring.responseStatus(), "request " + ring.responseId());
                        int i = (int) ring.responseId() - from - done;
                        if (op == Blkif.OP_READ) {
                            byte[] b = new byte[4096];
                            guest.memory().page(pages[i].frame()).get(0, b);
                            assertArrayEquals(Arrays.copyOfRange(disk, (int) ring.responseId() * 4096,
                                    (int) ring.responseId() * 4096 + 4096), b, "page " + ring.responseId());
                        }
                        ring.takeResponse();
                        got++;
                    }
                    if (got < n && !ring.finalCheckForResponses()) {
                        port.await(100_000_000L);
                    }
                    assertTrue(System.nanoTime() < end, "responses " + got + " of " + n + "; failures " + failures);
                }
            }
        }
    }

    /**
     * multi-queue-num-queues 2: each ring has its own thread and event channel,
     * both write into one storage at once, and each reads back what the other wrote.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "mmap", "cow"})
    void twoQueuesShareOneDisk(String engine) throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjmq");
        guest = SimDomain.create(dir, DOMID, 512, 1024);
        image = dir.resolve("disk.img");
        Files.write(image, new byte[(int) (DISK_SECTORS * 512)]);
        storage = Storages.open(StorageSpec.of(engine, image, false));
        grants = new SimGrantTable(dir);
        connector = new BlkifConnector("vbd 7/51728", grants, new SimEventChannels(dir), storage,
                new Request.Limits(DISK_SECTORS, false, false, 0), stats, failures::add);
        GuestQueue q0 = new GuestQueue();
        GuestQueue q1 = new GuestQueue();
        connector.connect(new FrontendRing(DOMID, List.of(q0.queue(), q1.queue()), Abi.X86_64, true));
        assertTrue(connector.serving());
        assertEquals(2, connector.queues());
        assertEquals(2, stats.queues());

        byte[] disk = new byte[(int) (DISK_SECTORS * 512)];
        new Random(9).nextBytes(disk);
        int half = disk.length / 4096 / 2;
        ExecutorService vcpus = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> writes = List.of(vcpus.submit(() -> { q0.io(Blkif.OP_WRITE, 0, half, disk); return null; }),
                    vcpus.submit(() -> { q1.io(Blkif.OP_WRITE, half, half, disk); return null; }));
            for (Future<?> f : writes) {
                f.get(60, TimeUnit.SECONDS);
            }
            List<Future<?>> reads = List.of(vcpus.submit(() -> { q1.io(Blkif.OP_READ, 0, half, disk); return null; }),
                    vcpus.submit(() -> { q0.io(Blkif.OP_READ, half, half, disk); return null; }));
            for (Future<?> f : reads) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            vcpus.shutdownNow();
        }
        assertEquals(2L * half, stats.writes());
        assertEquals(2L * half, stats.reads());
        assertEquals(2 * 16, stats.persistentGrants(), "each ring keeps its 16 pages mapped");
        if (!engine.equals("cow")) {
            assertArrayEquals(disk, Files.readAllBytes(image));
        }
        connector.disconnect();
        assertFalse(connector.serving());
        assertEquals(0, stats.queues());
        assertEquals(0, stats.persistentGrants());
        assertTrue(guest.grants().endAccess(q0.ref) && guest.grants().endAccess(q1.ref), "both rings unmapped");
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /**
     * An engine that completes the operations a test picks only when the
     * test lets them go, from a thread of its own (the others at once), over
     * a real engine, and logs what it was given and when each completed.
     */
    private static class HeldEngine implements IoEngine {
        private final IoEngine disk;
        private final Predicate<IoRequest> hold;
        private final List<IoRequest> held = new CopyOnWriteArrayList<>();
        final List<String> log = new CopyOnWriteArrayList<>();

        HeldEngine(IoEngine disk, Predicate<IoRequest> hold) {
            this.disk = disk;
            this.hold = hold;
        }

        @Override
        public long sizeBytes() {
            return disk.sizeBytes();
        }

        @Override
        public Capabilities capabilities() {
            return disk.capabilities().reachedAs(false, disk.capabilities().vectored());
        }

        @Override
        public Submission submit(IoRequest r) {
            log.add("submit " + r.op() + " " + r.sector());
            if (hold.test(r)) {
                held.add(r);
                return Submission.SUBMITTED;
            }
            disk.submit(r);
            log.add("done " + r.op() + " " + r.sector());
            return Submission.EXECUTED;
        }

        /** Waits until {@code n} operations are held. */
        void awaitHeld(int n) throws InterruptedException {
            long end = System.nanoTime() + 10_000_000_000L;
            while (held.size() < n) {
                if (System.nanoTime() > end) {
                    throw new AssertionError("only " + held.size() + " held; log " + log);
                }
                Thread.sleep(2);
            }
        }

        /** Completes the held operation on {@code sector} from another thread, as an engine's own thread would. */
        void release(long sector) throws Exception {
            IoRequest r = held.stream().filter(h -> h.sector() == sector).findFirst().orElseThrow();
            held.remove(r);
            Thread t = new Thread(() -> {
                disk.submit(r);
                log.add("done " + r.op() + " " + r.sector());
                r.complete(null);
            });
            t.start();
            t.join();
        }

        @Override
        public void close() {
            disk.close();
        }
    }

    /** Gives the ring time to do what it should not (submit or answer too early) before the test looks. */
    private static void settle() throws InterruptedException {
        Thread.sleep(300);
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void aFlushWaitsForTheWritesInFlightBeforeIt(Abi abi) throws Exception {
        HeldEngine[] engine = new HeldEngine[1];
        wrapEngine = e -> engine[0] = new HeldEngine(e, r -> r.op() == IoRequest.Op.WRITE && r.sector() == 16);
        start(abi);
        Page w = page(true);
        guest.memory().page(w.frame()).put(0, new byte[] {1, 2, 3, 4});
        submit(Blkif.OP_WRITE, 200, 16, w);
        submit(Blkif.OP_FLUSH_DISKCACHE, 201, 0);
        push();
        engine[0].awaitHeld(1);
        settle();
        assertEquals(List.of("submit WRITE 16"), engine[0].log, "the flush waits for the write in flight");
        assertEquals(0, front.unconsumedResponses(), "nothing is answered yet");
        engine[0].release(16);
        List<long[]> rsp = responses(2);
        assertArrayEquals(new long[] {200, Blkif.OP_WRITE, Blkif.RSP_OKAY}, rsp.get(0));
        assertArrayEquals(new long[] {201, Blkif.OP_FLUSH_DISKCACHE, Blkif.RSP_OKAY}, rsp.get(1));
        assertEquals(List.of("submit WRITE 16", "done WRITE 16", "submit FLUSH 0", "done FLUSH 0"), engine[0].log);
        assertArrayEquals(new byte[] {1, 2, 3, 4}, Arrays.copyOf(imageBytes(16, 512), 4));
        assertTrue(failures.isEmpty(), failures.toString());
    }

    @Test
    void aBarrierDrainsWhatIsInFlightAndHoldsBackWhatFollows() throws Exception {
        HeldEngine[] engine = new HeldEngine[1];
        wrapEngine = e -> engine[0] = new HeldEngine(e,
                r -> (r.op() == IoRequest.Op.WRITE && r.sector() == 16) || r.op() == IoRequest.Op.FLUSH);
        start(Abi.X86_64);
        submit(Blkif.OP_WRITE, 300, 16, page(true));
        submit(Blkif.OP_WRITE_BARRIER, 301, 0);
        push();
        engine[0].awaitHeld(1);
        submit(Blkif.OP_READ, 302, 32, page(false));
        push();
        settle();
        assertEquals(List.of("submit WRITE 16"), engine[0].log, "the barrier waits for the write");
        engine[0].release(16);
        engine[0].awaitHeld(1);
        settle();
        assertEquals(List.of("submit WRITE 16", "done WRITE 16", "submit FLUSH 0"), engine[0].log,
                "the read after the barrier waits for it");
        engine[0].release(0);
        List<long[]> rsp = responses(3);
        assertEquals(List.of(300L, 301L, 302L), rsp.stream().map(x -> x[0]).toList());
        assertEquals("submit READ 32", engine[0].log.get(4));
        assertTrue(failures.isEmpty(), failures.toString());
    }

    @Test
    void responsesGoOutInCompletionOrder() throws Exception {
        HeldEngine[] engine = new HeldEngine[1];
        wrapEngine = e -> engine[0] = new HeldEngine(e, r -> r.sector() == 16);
        start(Abi.X86_64);
        Page slow = page(false);
        Page fast = page(false);
        submit(Blkif.OP_READ, 400, 16, slow);
        submit(Blkif.OP_READ, 401, 24, fast);
        push();
        List<long[]> first = responses(1);
        assertEquals(401, first.get(0)[0], "the later request, completed first, is answered first");
        engine[0].release(16);
        List<long[]> second = responses(1);
        assertEquals(400, second.get(0)[0]);
        assertArrayEquals(imageBytes(16, 4096), guestBytes(slow), "the slow read's data");
        assertArrayEquals(imageBytes(24, 4096), guestBytes(fast), "the fast read's data");
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /**
     * A daemon killed after writing a batch's responses into the ring's slots
     * but before pushing them: the one attaching next finds the batch in the
     * journal and publishes it, and does not take the overwritten slots for
     * requests.
     */
    @ParameterizedTest
    @EnumSource(Abi.class)
    void aResumingBackendPublishesTheResponsesItsKilledPredecessorDidNotPush(Abi abi) throws Exception {
        beforeConnect = ringPage -> {
            front.putRequest(Blkif.OP_WRITE, 500, 8, 51728, new int[] {1}, new int[] {0}, new int[] {7}, 1);
            front.putRequest(Blkif.OP_READ, 501, 8, 51728, new int[] {2}, new int[] {0}, new int[] {7}, 1);
            front.pushRequests();
            // the predecessor took both, journalled the batch, wrote the responses, and died
            BackRing old = new BackRing(ringPage, abi, 1);
            old.takeRequest(new byte[abi.stride]);
            old.takeRequest(new byte[abi.stride]);
            try (ResponseJournal j = ResponseJournal.open(dir.resolve("rings/vbd-" + DOMID + "-51728-q0"), old.size())) {
                j.begin();
                j.record(0, 500, Blkif.OP_WRITE, Blkif.RSP_OKAY);
                j.record(1, 501, Blkif.OP_READ, Blkif.RSP_ERROR);
                j.commit(0, 2);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            old.putResponse(500, Blkif.OP_WRITE, Blkif.RSP_OKAY);
            old.putResponse(501, Blkif.OP_READ, Blkif.RSP_ERROR);
        };
        start(abi);
        List<long[]> rsp = responses(2);
        assertArrayEquals(new long[] {500, Blkif.OP_WRITE, Blkif.RSP_OKAY}, rsp.get(0));
        assertArrayEquals(new long[] {501, Blkif.OP_READ, Blkif.RSP_ERROR}, rsp.get(1));
        // the ring goes on from there: a new request is served, nothing else was answered
        Page r = page(false);
        submit(Blkif.OP_READ, 502, 16, r);
        push();
        assertArrayEquals(new long[] {502, Blkif.OP_READ, Blkif.RSP_OKAY}, responses(1).get(0));
        assertArrayEquals(imageBytes(16, 4096), guestBytes(r));
        assertEquals(1, stats.reads(), "the replayed requests are not served again");
        assertTrue(failures.isEmpty(), failures.toString());
        connector.disconnect();
        assertFalse(Files.exists(dir.resolve("rings/vbd-" + DOMID + "-51728-q0")), "a clean stop leaves no journal");
    }

    @Test
    void theJournalOfReplacedRingsIsDroppedWhenTheDeviceIsOfferedAgain() throws Exception {
        beforeConnect = ringPage -> {
            // a batch of the ring before: this fresh ring starts at rsp_prod 0 too
            Path file = dir.resolve("rings/vbd-" + DOMID + "-51728-q0");
            try (ResponseJournal j = ResponseJournal.open(file, 32)) {
                j.begin();
                j.record(0, 9, Blkif.OP_WRITE, Blkif.RSP_OKAY);
                j.commit(0, 1);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            BackRing fresh = new BackRing(ringPage, Abi.X86_64, 1);
            try (ResponseJournal j = ResponseJournal.open(file, 32)) {
                assertEquals(0, j.replay(fresh), "no request published: nothing to answer");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            connector.freshRings(); // what the handshake does when it offers the device (InitWait)
            assertFalse(Files.exists(file), "dropped with the device offered afresh");
        };
        start(Abi.X86_64);
        Page r = page(false);
        submit(Blkif.OP_READ, 600, 16, r);
        push();
        assertArrayEquals(new long[] {600, Blkif.OP_READ, Blkif.RSP_OKAY}, responses(1).get(0));
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /**
     * A storage call that does not return (a hung NFS server): disconnect
     * gives up waiting, but the ring stays mapped and the storage open while
     * the thread is inside; when the call returns, the guest gets its answer
     * and only then is the ring released and the storage closed.
     */
    /**
     * A disk limited to 20 operations a second: a ring full of reads and
     * writes with a FLUSH among them is answered whole, in ring order, and no
     * faster than the limit lets it (the bucket starts with 2 operations
     * spare); lifting the limit lets the next batch through at once.
     */
    @ParameterizedTest
    @EnumSource(Abi.class)
    void aLimitedDiskAnswersEverythingInOrderAtItsRate(Abi abi) throws Exception {
        start(abi);
        connector.throttle().update(IoLimits.of(java.util.Map.of("total_iops_sec", "20")), System.nanoTime());
        int n = 30;
        long began = System.nanoTime();
        for (int i = 0; i < n; i++) {
            if (i == 15) {
                submit(Blkif.OP_FLUSH_DISKCACHE, 1000 + i, 0);
            } else {
                submit(i % 2 == 0 ? Blkif.OP_READ : Blkif.OP_WRITE, 1000 + i, 8L * i, page(i % 2 == 1));
            }
        }
        push();
        List<long[]> rsp = responses(n);
        long tookMs = (System.nanoTime() - began) / 1_000_000;
        for (int i = 0; i < n; i++) {
            assertEquals(1000 + i, rsp.get(i)[0], "ring order");
            assertEquals(Blkif.RSP_OKAY, rsp.get(i)[2]);
        }
        // 29 reads and writes at 20 a second, 3 of them from the bucket's start
        assertTrue(tookMs >= 1200, "29 limited requests answered in " + tookMs + " ms");

        connector.throttle().update(IoLimits.NONE, System.nanoTime());
        for (int i = 0; i < 10; i++) {
            submit(Blkif.OP_READ, 2000 + i, 8L * i, page(false));
        }
        push();
        assertEquals(10, responses(10).size());
    }

    @Test
    void aRingThreadStuckInTheStorageKeepsItsRingMappedUntilItReturns() throws Exception {
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch hung = new java.util.concurrent.CountDownLatch(1);
        wrapEngine = e -> new HeldEngine(e, r -> false) {
            @Override
            public Submission submit(IoRequest r) {
                if (r.op() == IoRequest.Op.WRITE) {
                    entered.countDown();
                    try {
                        hung.await();
                    } catch (InterruptedException x) {
                        Thread.currentThread().interrupt();
                    }
                }
                return super.submit(r);
            }
        };
        start(Abi.X86_64);
        Page w = page(true);
        guest.memory().page(w.frame()).put(0, new byte[] {9, 8, 7});
        submit(Blkif.OP_WRITE, 700, 40, w);
        push();
        assertTrue(entered.await(10, TimeUnit.SECONDS), "the write reached the storage");
        connector.stopWaitMillis(200);
        connector.disconnect();
        java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
        connector.whenStopped(() -> released.set(true));
        assertEquals(1, connector.stuckRings());
        assertFalse(released.get(), "the storage must stay open while a thread is in it");
        assertFalse(guest.grants().endAccess(ringRef), "the ring page is still mapped");
        hung.countDown();
        List<long[]> rsp = responses(1);
        assertArrayEquals(new long[] {700, Blkif.OP_WRITE, Blkif.RSP_OKAY}, rsp.get(0));
        Poll.until(released::get, "released when the call returned");
        assertEquals(0, connector.stuckRings());
        assertTrue(guest.grants().endAccess(ringRef), "the ring page is unmapped now");
        assertArrayEquals(new byte[] {9, 8, 7}, Arrays.copyOf(imageBytes(40, 512), 3));
    }

    /** Polls a condition for up to 10 s. */
    private static final class Poll {
        static void until(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
            long end = System.nanoTime() + 10_000_000_000L;
            while (!cond.getAsBoolean()) {
                if (System.nanoTime() > end) {
                    throw new AssertionError("gave up waiting: " + what);
                }
                Thread.sleep(5);
            }
        }
    }
}
