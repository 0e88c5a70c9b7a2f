package io.xendisk.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;

import org.junit.jupiter.api.Test;

/** The sim xenstored outlives the daemon, so it can be looked at and stopped without one. */
class SimWithoutDaemonTest {
    @Test
    void simStatusAndStopNeedNoDaemon() throws Exception {
        try (Dist d = new Dist()) {
            Dist.Result none = d.cli("sim", "status");
            assertEquals(3, none.exit(), none.toString());
            assertTrue(none.out().contains("not running"), none.toString());
            assertFalse(Files.exists(d.lockFile()), "sim status started no daemon");

            assertEquals(0, d.cli("sim", "start").exit());
            long xenstored = Dist.readPid(d.simPidFile());
            assertTrue(xenstored > 0);
            assertEquals(0, d.cli("shutdown").exit());

            Dist.Result st = d.cli("sim", "status");
            assertEquals(0, st.exit(), st.toString());
            assertTrue(st.out().contains("running (pid " + xenstored), st.toString());
            Dist.Result stop = d.cli("sim", "stop");
            assertEquals(0, stop.exit(), stop.toString());
            assertTrue(stop.out().contains("stopped (pid " + xenstored + ")"), stop.toString());
            assertFalse(Files.exists(d.lockFile()), "sim stop started no daemon");
            assertFalse(ProcessHandle.of(xenstored).map(ProcessHandle::isAlive).orElse(false));
        }
    }
}
