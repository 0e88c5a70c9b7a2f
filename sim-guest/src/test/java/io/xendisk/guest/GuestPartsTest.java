package io.xendisk.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.xendisk.blkif.Abi;
import io.xendisk.xen.sim.domain.GuestProgram;

/** The small parts: the latency histogram, the pattern, argument parsing. */
class GuestPartsTest {
    @Test
    void histogramPercentilesAreWithinTheBucketPrecision() {
        LatencyHistogram h = new LatencyHistogram();
        assertEquals(0, h.percentile(50));
        for (long v = 1; v <= 100_000; v++) {
            h.record(v * 1000);
        }
        assertEquals(100_000, h.count());
        assertEquals(100_000_000L, h.max());
        assertEquals(50_000_000, h.percentile(50), 50_000_000 * 0.02);
        assertEquals(99_000_000, h.percentile(99), 99_000_000 * 0.02);
        assertEquals(100_000_000L, h.percentile(100));
        h.reset();
        h.record(37);
        assertEquals(37, h.percentile(50), "small values are exact");
    }

    @Test
    void patternSectorsStandAloneAndAMismatchIsLocated() {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        Pattern.fill(b, 0, 1000, 8, 42);
        assertEquals(1000, b.getLong(0));
        assertEquals(42, b.getLong(8));
        assertEquals(1003, b.getLong(3 * 512));
        assertEquals(-1, Pattern.firstMismatch(b, 0, 1000, 8, 42));
        assertEquals(0, Pattern.firstMismatch(b, 0, 1001, 8, 42), "data of the wrong sector is caught");
        assertEquals(0, Pattern.firstMismatch(b, 0, 1000, 8, 43), "another seed is caught");
        b.put(5 * 512 + 300, (byte) (b.get(5 * 512 + 300) ^ 1));
        assertEquals(5, Pattern.firstMismatch(b, 0, 1000, 8, 42));
    }

    @Test
    void sizesAndOptionsParse() {
        assertEquals(4096, WorkloadArgs.parseSize("bs", "4k"));
        assertEquals(1 << 20, WorkloadArgs.parseSize("bs", "1M"));
        assertEquals(1 << 20, WorkloadArgs.parseSize("bs", "1MiB"));
        assertEquals(2L << 30, WorkloadArgs.parseSize("bs", "2g"));
        assertEquals(4096, WorkloadArgs.parseSize("bs", "8s"));
        assertThrows(IllegalArgumentException.class, () -> WorkloadArgs.parseSize("bs", "lots"));
        WorkloadArgs a = new WorkloadArgs("w", List.of("--bs", "8k", "--qd=4", "--read-only", "12"), Set.of("bs", "qd"),
                Set.of("read-only"));
        assertEquals(8192, a.size("bs", 0));
        assertEquals(4, a.number("qd", 1));
        assertTrue(a.has("read-only"));
        assertEquals(List.of("12"), a.positional());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new WorkloadArgs("rand-read", List.of("--depth", "4"), Set.of("qd")));
        assertTrue(e.getMessage().contains("unknown option --depth"), e.getMessage());
    }

    @Test
    void commandLineIsCheckedBeforeAnythingStarts() {
        assertEquals(2, GuestMain.run(new String[] {"--name", "x"}));
        assertEquals(2, GuestMain.run(new String[] {"--name", "x", "--xenstore", "/s", "--simdir", "/d", "--abi", "arm"}));
        assertEquals(2, GuestMain.run(new String[] {"--bogus", "1"}));
        Guest.Config c = GuestMain.parse(new String[] {"--name=vm", "--xenstore", "/run/xs", "--simdir", "/dev/shm/x",
                "--abi", "x86_32", "--memory-mib", "32"});
        assertEquals(Abi.X86_32, c.abi());
        assertEquals(32, c.memoryMib());
        assertEquals(null, c.controlSocket());
    }

    /** The daemon knows this program only through GuestProgram: its class name, its options, its ready line. */
    @Test
    void theProgramIsWhatThePlatformStartsByName() {
        assertEquals(GuestProgram.MAIN_CLASS, GuestMain.class.getName());
        Guest.Config c = GuestMain.parse(GuestProgram.args("vm", Path.of("/run/xs"), Path.of("/dev/shm/x"), 48, "x86_32",
                0, 3).toArray(String[]::new));
        assertEquals(new Guest.Config("vm", Path.of("/run/xs"), Path.of("/dev/shm/x"), 48, Abi.X86_32, null, 0, 3), c);
        assertEquals(new GuestProgram.Ready("vm", 7),
                GuestProgram.findReady("12:00:00 INFO Guest: up\n" + GuestProgram.readyLine("vm", 7) + "\n").orElseThrow());
    }

    @Test
    void hexdumpFoldsRepeatedLines() {
        byte[] data = new byte[64];
        new Random(1).nextBytes(data);
        System.arraycopy(new byte[48], 0, data, 16, 48);
        List<String> lines = new java.util.ArrayList<>();
        ReadAtWorkload.hexdump(data, 0x200, lines::add);
        assertEquals(List.of("00000200", "00000210", "*", "00000240"),
                lines.stream().map(l -> l.length() > 8 ? l.substring(0, 8) : l).toList());
    }
}
