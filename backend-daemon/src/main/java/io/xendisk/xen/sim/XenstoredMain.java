package io.xendisk.xen.sim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.DefaultConfiguration;
import sun.misc.Signal;

/**
 * Runs {@link SimXenstored} in the foreground until SIGTERM or SIGINT, then removes
 * its sockets (and pid file) and exits 0.
 * <pre>XenstoredMain --socket PATH [--pid-file PATH]</pre>
 * Exit codes: 0 after a signal, 1 when it cannot start (already running, bad
 * path), 2 for a wrong command line.
 */
public final class XenstoredMain {
    private static final String USAGE = "usage: xenstored-sim --socket PATH [--pid-file PATH]";

    private XenstoredMain() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        Path socket = null;
        Path pidFile = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = i + 1 < args.length ? args[i + 1] : null;
            if ((a.equals("--socket") || a.equals("--pid-file")) && value != null) {
                if (a.equals("--socket")) {
                    socket = Path.of(value);
                } else {
                    pidFile = Path.of(value);
                }
                i++;
            } else if (a.startsWith("--socket=")) {
                socket = Path.of(a.substring("--socket=".length()));
            } else if (a.startsWith("--pid-file=")) {
                pidFile = Path.of(a.substring("--pid-file=".length()));
            } else if (a.equals("--help") || a.equals("-h")) {
                System.out.println(USAGE);
                return 0;
            } else {
                System.err.println("xenstored-sim: unexpected argument '" + a + "'\n" + USAGE);
                return 2;
            }
        }
        if (socket == null) {
            System.err.println("xenstored-sim: --socket PATH is required\n" + USAGE);
            return 2;
        }
        defaultToInfoLogging();
        Logger log = LogManager.getLogger(XenstoredMain.class);
        CountDownLatch stop = new CountDownLatch(1);
        // Own handlers instead of a shutdown hook: the JVM would exit 143 on SIGTERM.
        for (String sig : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(sig), s -> {
                log.info("SIG{} received, stopping", s.getName());
                stop.countDown();
            });
        }
        SimXenstored server;
        try {
            server = SimXenstored.start(socket);
        } catch (SimXenstored.AlreadyRunningException e) {
            System.err.println("xenstored-sim: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            System.err.println("xenstored-sim: cannot serve on " + socket + ": " + e.getMessage());
            return 1;
        }
        try {
            if (pidFile != null) {
                writePidFile(pidFile);
            }
            stop.await();
            return 0;
        } catch (IOException e) {
            System.err.println("xenstored-sim: cannot write pid file " + pidFile + ": " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            server.close();
            if (pidFile != null) {
                try {
                    Files.deleteIfExists(pidFile);
                } catch (IOException e) {
                    log.warn("could not remove pid file {} ({})", pidFile, e.toString());
                }
            }
        }
    }

    private static void writePidFile(Path pidFile) throws IOException {
        Path abs = pidFile.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        // write then rename: a reader never sees an empty pid file
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp");
        Files.writeString(tmp, ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
        Files.move(tmp, abs, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Without a log4j2 configuration Log4j only prints errors; a daemon should log its events. */
    private static void defaultToInfoLogging() {
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        if (ctx.getConfiguration() instanceof DefaultConfiguration) {
            Configurator.setRootLevel(Level.INFO);
        }
    }
}
