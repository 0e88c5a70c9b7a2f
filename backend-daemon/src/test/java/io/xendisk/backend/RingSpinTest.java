package io.xendisk.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RingSpinTest {
    @Test
    void theSpinOptionTakesMicrosecondsFromZeroToAThousandAndFallsBackToFiftyOtherwise() {
        assertEquals(50_000, RingWorker.spinNanos(null));
        assertEquals(0, RingWorker.spinNanos("0"));
        assertEquals(200_000, RingWorker.spinNanos(" 200 "));
        assertEquals(1_000_000, RingWorker.spinNanos("1000"));
        assertEquals(50_000, RingWorker.spinNanos("1001"));
        assertEquals(50_000, RingWorker.spinNanos("-1"));
        assertEquals(50_000, RingWorker.spinNanos("fast"));
    }
}
