package io.xendisk.daemon;

import org.apache.logging.log4j.core.config.Configurator;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/**
 * Switches Log4j2 from the quiet default (log4j2.xml, for the CLI) to the
 * daemon's configuration: one line per event into daemon.log, plus stderr
 * when in the foreground. Must run before any daemon class logs.
 */
public final class LogSetup {
    private LogSetup() {
    }

    /**
     * @param logFile  daemon.log
     * @param detached true when stderr is already redirected into logFile
     */
    public static void configure(Path logFile, boolean detached) {
        System.setProperty("xendisk.logFile", logFile.toString());
        System.setProperty("xendisk.consoleLevel", detached ? "off" : "info");
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
