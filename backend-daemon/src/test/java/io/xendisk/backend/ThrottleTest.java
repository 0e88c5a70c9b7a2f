package io.xendisk.backend;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The buckets on a clock of the test's own: how many requests a limit lets
 * through in simulated seconds, bursts, reads apart from writes, a live
 * change, and the settings libvirt refuses.
 */
class ThrottleTest {
    private static final long SECOND = 1_000_000_000L;

    /** Requests of {@code bytes} sent as fast as allowed for {@code seconds} simulated seconds; how many went. */
    private static long run(Throttle t, boolean write, long bytes, long start, long seconds) {
        long now = start;
        long end = start + seconds * SECOND;
        long n = 0;
        while (now < end) {
            long wait = t.admit(write, bytes, now);
            if (wait == 0) {
                n++;
            } else {
                now += wait;
            }
        }
        return n;
    }

    @Test
    void aThousandIopsIsAThousandASecondAfterATenthOfASecondsBurst() {
        Throttle t = new Throttle(IoLimits.of(Map.of("total_iops_sec", "1000")), 0);
        long n = run(t, false, 4096, 0, 10);
        // the bucket holds a tenth of a second's worth at the start
        assertTrue(n >= 10_000 && n <= 10_101, "requests in 10 s: " + n);
    }

    @Test
    void fiftyMegabytesASecondOfOneMebibyteRequests() {
        Throttle t = new Throttle(IoLimits.of(Map.of("read_bytes_sec", "50000000")), 0);
        long n = run(t, false, 1 << 20, 0, 10);
        double rate = n * (double) (1 << 20) / 10;
        assertTrue(rate >= 50e6 * 0.99 && rate <= 50e6 * 1.02, "bytes a second: " + rate);
        // writes are not limited by a read limit
        assertEquals(0, t.admit(true, 1 << 30, 10 * SECOND));
    }

    @Test
    void aBurstRunsAtItsMaximumForItsLengthThenAtTheRate() {
        Throttle t = new Throttle(IoLimits.of(Map.of("write_iops_sec", "100", "write_iops_sec_max", "1000",
                "write_iops_sec_max_length", "5")), 0);
        // the bucket holds 5 s at 1000: the first second runs near the burst rate
        long first = run(t, true, 4096, 0, 1);
        assertTrue(first >= 900 && first <= 1110, "in the first second: " + first);
        // long after the burst is spent, the rate
        run(t, true, 4096, SECOND, 60);
        long later = run(t, true, 4096, 61 * SECOND, 10);
        assertTrue(later >= 990 && later <= 1010, "in 10 s once the burst is spent: " + later);
    }

    @Test
    void sizeIopsSecCountsALargeRequestAsSeveral() {
        Throttle t = new Throttle(IoLimits.of(Map.of("total_iops_sec", "100", "size_iops_sec", "65536")), 0);
        long n = run(t, false, 1 << 20, 0, 16);
        // a 1 MiB request is 16 operations of 64 KiB
        assertTrue(n >= 99 && n <= 102, "1 MiB requests in 16 s at 100 64-KiB operations a second: " + n);
    }

    @Test
    void newLimitsApplyFromNow() {
        Throttle t = new Throttle(IoLimits.of(Map.of("total_iops_sec", "100")), 0);
        long slow = run(t, false, 512, 0, 10);
        t.update(IoLimits.of(Map.of("total_iops_sec", "1000")), 10 * SECOND);
        long fast = run(t, false, 512, 10 * SECOND, 10);
        t.update(IoLimits.NONE, 20 * SECOND);
        assertEquals(0, t.admit(false, 512, 20 * SECOND));
        assertTrue(slow <= 1015 && fast >= 9900, "before " + slow + ", after " + fast);
    }

    @Test
    void theCommandLineKnowsTheSameSettings() {
        assertEquals(io.xendisk.api.IoTuneOptions.NAMES, IoLimits.names());
    }

    @Test
    void libvirtsRulesAndNames() {
        IoLimits l = IoLimits.of(Map.of("--read-iops-sec", "10", "write_bytes_sec", "0"));
        assertEquals(Map.of("read_iops_sec", "10"), l.asMap());
        assertEquals(IoLimits.of(Map.of("read_iops_sec", "10", "write_iops_sec", "5")),
                l.with(Map.of("write_iops_sec", "5")));
        assertEquals(IoLimits.NONE, l.with(Map.of("read_iops_sec", "0")));
        for (Map.Entry<Map<String, String>, String> bad : Map.of(
                Map.of("total_bytes_sec", "1", "read_bytes_sec", "1"), "total_bytes_sec cannot be set together with"
                        + " read_bytes_sec",
                Map.of("read_iops_sec", "100", "read_iops_sec_max", "50"), "read_iops_sec_max=50 is below read_iops_sec=100",
                Map.of("write_iops_sec_max_length", "3"), "write_iops_sec_max_length needs write_iops_sec_max",
                Map.of("total_iops", "1"), "unknown I/O limit 'total_iops'",
                Map.of("total_iops_sec", "lots"), "total_iops_sec='lots' is not a whole number",
                Map.of("size_iops_sec", "4096"), "size_iops_sec needs an iops limit").entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IoLimits.of(bad.getKey()));
            assertTrue(e.getMessage().contains(bad.getValue()), e.getMessage());
        }
    }
}
