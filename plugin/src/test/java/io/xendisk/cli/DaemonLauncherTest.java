package io.xendisk.cli;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Modifier;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI starts the daemon by class name only: the name must stay a runnable main class. */
class DaemonLauncherTest {
    @Test
    void theDaemonsMainClassIsRunnable() throws Exception {
        var main = Class.forName(DaemonLauncher.DAEMON_MAIN).getMethod("main", String[].class);
        assertTrue(Modifier.isStatic(main.getModifiers()));
    }

    @Test
    void theBackgroundDaemonIsDetachedWithThePlatformPassedOn() {
        List<String> cmd = DaemonLauncher.daemonCommand("sim");
        assertEquals(List.of(DaemonLauncher.DAEMON_MAIN, "--detached", "--platform", "sim"),
                cmd.subList(cmd.indexOf(DaemonLauncher.DAEMON_MAIN), cmd.size()));
    }
}
