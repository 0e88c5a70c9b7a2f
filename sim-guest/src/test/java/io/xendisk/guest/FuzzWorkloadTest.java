package io.xendisk.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.blkif.Abi;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;

/**
 * The fuzz workload against the real backend (VbdBackend + BlkifConnector)
 * in this JVM over the simulated platform: every placement of the data
 * (bounce buffers, the guest's kept pages, the image's memory, an engine
 * completing out of order) passes, with each kind of request sent, and the
 * backend's own counters agree with what the guest saw.
 */
class FuzzWorkloadTest {
    private static final int XVDB = 51728;
    private static final long IMAGE_BYTES = 4L << 20;
    private static final java.util.regex.Pattern SUMMARY = java.util.regex.Pattern.compile(
            "^fuzz PASS requests=(\\d+) valid=(\\d+) invalid=(\\d+) uncertain=(\\d+) sectors-checked=(\\d+)"
                    + " read-back-requests=(\\d+) state-changes=(\\d+) seconds=[0-9.]+ seed=(\\d+)$");
    private static final java.util.regex.Pattern STATE_CHANGES = java.util.regex.Pattern.compile(
            "^fuzz state-changes close-reconnect=(\\d+) initialising-again=(\\d+) init-wait-again=(\\d+)"
                    + " bogus-state=(\\d+) unanswered-in-flight=(\\d+) reconnect-seconds=[0-9.]+$",
            java.util.regex.Pattern.MULTILINE);

    private SimBackend platform;
    private Guest guest;
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

    private Blkfront connect(String engine, BlkifFeatures features, boolean readOnly) throws Exception {
        platform = new SimBackend();
        guest = Guest.start(new Guest.Config("fuzz-vm", platform.socket(), platform.simdir, 16, Abi.X86_64, null));
        Path image = platform.dir.resolve("fuzz.img");
        Files.write(image, new byte[(int) IMAGE_BYTES]);
        IoEngine storage = engine.equals("out-of-order") ? new OutOfOrderEngine(image, 200)
                : Storages.open(StorageSpec.of(engine, image, readOnly));
        disk = platform.addDisk(guest.domid(), XVDB, storage, readOnly, features);
        Blkfront fe = guest.awaitConnected(XVDB, 20, TimeUnit.SECONDS);
        assertNotNull(fe, "frontend connected; frontends " + guest.frontends());
        return fe;
    }

    private SimBackend.Disk disk;

    static Stream<Arguments> backends() {
        return Stream.of(
                Arguments.of("file", BlkifFeatures.DEFAULT.withQueues(1)),   // kept pages, INDIRECT requests
                Arguments.of("mmap", BlkifFeatures.DEFAULT.withQueues(1)),   // the image's memory
                Arguments.of("file", BlkifFeatures.BASIC),                   // bounce buffers, direct requests only
                Arguments.of("out-of-order", BlkifFeatures.DEFAULT.withQueues(1)));
    }

    @ParameterizedTest
    @MethodSource("backends")
    void twentyThousandHostileAndValidRequestsAllGetTheRightAnswers(String engine, BlkifFeatures features) throws Exception {
        Blkfront fe = connect(engine, features, false);
        boolean passed = Workloads.run(fe, "fuzz", List.of("--requests", "20000", "--seed", "13"), out::add);
        String all = String.join("\n", out);
        assertTrue(passed, all);
        Matcher m = SUMMARY.matcher(out.get(out.size() - 1));
        assertTrue(m.find(), all);
        assertEquals(20000, Long.parseLong(m.group(1)));
        long valid = Long.parseLong(m.group(2));
        long invalid = Long.parseLong(m.group(3));
        long uncertain = Long.parseLong(m.group(4));
        assertEquals(20000, valid + invalid + uncertain, all);
        assertTrue(valid > 8000 && invalid > 8000, "about half valid: " + all);
        assertTrue(Long.parseLong(m.group(5)) > 20000, "reads checked data: " + all);
        assertEquals("1", m.group(7), "one state change in 20000 requests by default: " + all);
        assertEquals("13", m.group(8));

        Map<String, Long> cases = cases(all);
        boolean indirect = features.maxIndirectSegments() > 0;
        for (FuzzCase c : FuzzCase.values()) {
            boolean expected = switch (c) {
                case BARRIER, READ_BACK -> false; // not offered; counted apart
                case INDIRECT_READ, INDIRECT_WRITE, INDIRECT_BAD_OPERATION, INDIRECT_BAD_COUNT, INDIRECT_BAD_SECTORS,
                     INDIRECT_BAD_GRANT, INDIRECT_BAD_PAGE, INDIRECT_PAST_END -> indirect;
                case INDIRECT_NOT_OFFERED -> !indirect;
                default -> true;
            };
            assertEquals(expected, cases.getOrDefault(c.label, 0L) > 0, c.label + " sent: " + all);
        }
        assertTrue(all.matches("(?s).*fuzz grants revoked-in-flight=[1-9].*"), "pages revoked in flight: " + all);

        // the backend saw what the guest did: an error for every invalid request, and it still serves
        assertTrue(disk.stats.errors() >= invalid && disk.stats.errors() <= invalid + uncertain,
                disk.stats.errors() + " errors for " + invalid + " invalid, " + uncertain + " uncertain: " + all);
        assertTrue(disk.ringFailures.isEmpty(), disk.ringFailures.toString());
        assertTrue(disk.connector.serving());
    }

    static Stream<Arguments> stateChangeBackends() {
        return Stream.of(
                Arguments.of("file", BlkifFeatures.DEFAULT.withQueues(1)),
                Arguments.of("out-of-order", BlkifFeatures.BASIC));
    }

    @ParameterizedTest
    @MethodSource("stateChangeBackends")
    void stateChangesInTheMiddleOfIoLoseOnlyTheRequestsInFlight(String engine, BlkifFeatures features) throws Exception {
        Blkfront fe = connect(engine, features, false);
        boolean passed = Workloads.run(fe, "fuzz", List.of("--requests", "4000", "--seed", "21", "--state-changes", "40"),
                out::add);
        String all = String.join("\n", out);
        assertTrue(passed, all);
        Matcher m = SUMMARY.matcher(out.get(out.size() - 1));
        assertTrue(m.find(), all);
        assertEquals(4000, Long.parseLong(m.group(1)));
        long invalid = Long.parseLong(m.group(3));
        long uncertain = Long.parseLong(m.group(4));
        assertEquals(4000, Long.parseLong(m.group(2)) + invalid + uncertain, all);
        assertEquals(40, Long.parseLong(m.group(7)), all);
        Matcher k = STATE_CHANGES.matcher(all);
        assertTrue(k.find(), all);
        for (int g = 1; g <= 4; g++) {
            assertTrue(Long.parseLong(k.group(g)) > 0, "every kind of state change: " + all);
        }
        long unanswered = Long.parseLong(k.group(5));
        assertTrue(unanswered > 0 && unanswered <= uncertain, "requests were in flight at the changes: " + all);

        // the frontend is Connected on its last ring, the backend serves it and answered every invalid request
        assertEquals(io.xendisk.blkif.XenbusState.CONNECTED, fe.state());
        assertEquals(1, fe.queues());
        assertTrue(disk.stats.errors() >= invalid && disk.stats.errors() <= invalid + uncertain,
                disk.stats.errors() + " errors for " + invalid + " invalid, " + uncertain + " uncertain: " + all);
        assertTrue(disk.ringFailures.isEmpty(), disk.ringFailures.toString());
        assertTrue(disk.connector.serving());
        out.clear();
        assertTrue(Workloads.run(fe, "verify", List.of("--size", "1M"), out::add), out.toString());
    }

    @Test
    void aSeedMakesTheSameRequestsAgain() throws Exception {
        Blkfront fe = connect("file", BlkifFeatures.DEFAULT.withQueues(1), false);
        assertTrue(Workloads.run(fe, "fuzz", List.of("--requests", "3000", "--seed", "99"), out::add), out.toString());
        String first = casesLine();
        out.clear();
        assertTrue(Workloads.run(fe, "fuzz", List.of("--requests", "3000", "--seed", "99"), out::add), out.toString());
        assertEquals(first, casesLine());
        out.clear();
        assertTrue(Workloads.run(fe, "fuzz", List.of("--requests", "3000", "--seed", "100"), out::add), out.toString());
        assertFalse(first.equals(casesLine()), "another seed, other requests");
    }

    @Test
    void aReadOnlyDiskRefusesEveryWrite() throws Exception {
        Blkfront fe = connect("file", BlkifFeatures.DEFAULT.withQueues(1), true);
        assertTrue(Workloads.run(fe, "fuzz", List.of("--requests", "5000", "--seed", "5"), out::add), out.toString());
        assertTrue(out.get(0).endsWith(" read-only"), out.get(0));
        assertEquals(0, disk.stats.writes(), "nothing written");
    }

    @Test
    void aRandomSeedIsPrintedSoTheRunCanBeRepeated() throws Exception {
        Blkfront fe = connect("file", BlkifFeatures.BASIC, false);
        assertTrue(Workloads.run(fe, "fuzz", List.of("--requests", "200"), out::add), out.toString());
        Matcher m = java.util.regex.Pattern.compile("^fuzz seed=(\\d+) requests=200 ").matcher(out.get(0));
        assertTrue(m.find(), out.get(0));
        assertTrue(out.get(out.size() - 1).endsWith(" seed=" + m.group(1)), out.toString());
    }

    private String casesLine() {
        return out.stream().filter(l -> l.startsWith("fuzz cases ")).findFirst().orElseThrow();
    }

    private static Map<String, Long> cases(String all) {
        Map<String, Long> m = new TreeMap<>();
        String line = all.lines().filter(l -> l.startsWith("fuzz cases ")).findFirst().orElseThrow();
        for (String kv : line.substring("fuzz cases ".length()).split(" ")) {
            String[] p = kv.split("=");
            m.put(p[0], Long.parseLong(p[1]));
        }
        return m;
    }
}
