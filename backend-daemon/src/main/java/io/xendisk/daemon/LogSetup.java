package io.xendisk.daemon;

import org.apache.logging.log4j.core.config.Configurator;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/**
 * Chooses the daemon's Log4j2 configuration: one line per event into
 * daemon.log, plus stderr when in the foreground.
 */
public final class LogSetup {
    private LogSetup() {
    }

    /** {@link #configure(Path, boolean, String)} at level info. */
    public static void configure(Path logFile, boolean detached) {
        configure(logFile, detached, "info");
    }

    /**
     * For the daemon: must run before any daemon class logs.
     *
     * @param logFile  daemon.log
     * @param detached true when stderr is already redirected into logFile
     * @param level    our classes' level: error, warn, info, debug or trace (libraries stay at warn)
     */
    public static void configure(Path logFile, boolean detached, String level) {
        System.setProperty("xendisk.logFile", logFile.toString());
        System.setProperty("xendisk.logLevel", level);
        System.setProperty("xendisk.consoleLevel", detached ? "off" : level);
        URL config = LogSetup.class.getResource("log4j2-daemon.xml");
        if (config == null) {
            throw new IllegalStateException("log4j2-daemon.xml missing from the backend-daemon jar (broken build)");
        }
        try {
            // reconfigure rather than initialize: the CLI may have started Log4j already
            Configurator.reconfigure(config.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("bad resource URL " + config, e);
        }
    }
}
