package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.SimXenstoredPid;
import io.xendisk.api.UnixSockets;
import io.xendisk.api.Version;
import io.xendisk.backend.BlkifFeatures;
import io.xendisk.storage.nbd.NbdEngine;
import io.xendisk.storage.qcow2.Qcow2Storage;
import io.xendisk.xen.MappingBudget;
import io.xendisk.xml.XmlInvalidException;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import sun.misc.Signal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The daemon process: {@code xen-disk-java daemon} (foreground, what systemd
 * runs; the launcher script runs this class for it) or started in the
 * background by the CLI with {@code --detached}, by this class's name.
 *
 * <p>Startup: the config file (DaemonSettings), log file, run dir (0700), the one-per-host lock, platform choice,
 * the sim xenstored on the sim platform, then the control socket. SIGTERM,
 * SIGINT and {@code shutdown} stop it cleanly: socket and lock removed, exit 0.
 *
 * <p>Exit codes: 0 stopped cleanly, 1 could not start (already running, no
 * access, platform unusable), 2 bad command line.
 */
public final class DaemonMain {
    private DaemonMain() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Parses {@code [--platform sim|xen|auto] [--detached]} and runs until stopped. */
    public static int run(String[] args) {
        String platform = null;
        boolean detached = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--detached")) {
                detached = true;
            } else if (a.equals("--platform") && i + 1 < args.length) {
                platform = args[++i];
            } else if (a.startsWith("--platform=")) {
                platform = a.substring("--platform=".length());
            } else {
                System.err.println("xen-disk-java daemon: unknown argument '" + a
                        + "' (usage: daemon [--platform sim|xen|auto])");
                return 2;
            }
        }
        if (platform != null && !List.of("sim", "xen", "auto").contains(platform)) {
            System.err.println("xen-disk-java daemon: unknown platform '" + platform
                    + "' for --platform: use sim, xen or auto");
            return 2;
        }
        return run(platform, detached);
    }

    /**
     * Runs the daemon until it is stopped.
     *
     * @param platform "sim", "xen", "auto" or null (then XEN_DISK_JAVA_PLATFORM, then auto)
     * @param detached started in the background with stderr going into the log file
     * @return the process exit code
     */
    public static int run(String platform, boolean detached) {
        Map<String, String> env = System.getenv();
        DaemonSettings settings;
        try {
            settings = DaemonSettings.load(env);
        } catch (XmlInvalidException e) {
            // before logging is set up: the file may be what names the log directory
            System.err.println("xen-disk-java daemon: invalid configuration, not starting:\n" + e.getMessage());
            return 1;
        }
        ControlPaths paths = settings.paths();
        try {
            Files.createDirectories(paths.logDir());
        } catch (IOException e) {
            System.err.println("xen-disk-java: cannot create log directory " + paths.logDir() + ": " + e
                    + " (run as root, or set " + ControlPaths.LOGDIR_ENV + ")");
            return 1;
        }
        LogSetup.configure(paths.daemonLog(), detached, settings.logLevel());
        Logger log = LogManager.getLogger(DaemonMain.class);
        try {
            return serve(settings, platform, env, log);
        } finally {
            LogManager.shutdown();
        }
    }

    private static int serve(DaemonSettings settings, String platformArg, Map<String, String> env, Logger log) {
        ControlPaths paths = settings.paths();
        long pid = ProcessHandle.current().pid();
        try {
            Files.createDirectories(paths.runDir());
            Files.setPosixFilePermissions(paths.runDir(), PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            log.error("xen-disk-java: cannot create run directory {} (mode 0700): {} (run as root, or set {})",
                    paths.runDir(), e.toString(), ControlPaths.RUNDIR_ENV);
            return 1;
        }
        DaemonLock lock;
        try {
            lock = DaemonLock.acquire(paths.lockFile(), pid);
        } catch (AlreadyRunningException e) {
            log.error("xen-disk-java daemon already running (pid {}, socket {})",
                    e.pid() > 0 ? Long.toString(e.pid()) : "unknown", paths.controlSocket());
            return 1;
        } catch (IOException e) {
            log.error("xen-disk-java: cannot lock {}: {}", paths.lockFile(), e.toString());
            return 1;
        }
        Cleanup cleanup = new Cleanup(lock, log);
        Runtime.getRuntime().addShutdownHook(new Thread(cleanup::run, "daemon-cleanup"));
        try {
            PlatformChoice choice;
            try {
                choice = settings.choosePlatform(PlatformDetector.forHost(paths), platformArg, env);
            } catch (PlatformException e) {
                log.error("xen-disk-java: {}", e.getMessage());
                return 1;
            }
            // engines and the rings read their settings when a disk opens or the data plane starts
            settings.qcow2CacheMiB().ifPresent(mib -> defaultProperty(Qcow2Storage.CACHE_PROPERTY, (long) mib << 20));
            settings.nbdReconnectSeconds().ifPresent(s -> defaultProperty(NbdEngine.RECONNECT_PROPERTY, s));
            settings.nbdConnections().ifPresent(n -> defaultProperty(NbdEngine.CONNECTIONS_PROPERTY, n));
            settings.maxRingPageOrder().ifPresent(n -> defaultProperty(BlkifFeatures.RING_PAGE_ORDER_PROPERTY, n));
            settings.maxIndirectSegments().ifPresent(n -> defaultProperty(BlkifFeatures.INDIRECT_SEGMENTS_PROPERTY, n));
            DaemonContext ctx = new DaemonContext(choice, paths, new VbdRegistry(), pid, Instant.now(),
                    MappingBudget.forThisProcess(settings.grantMappings()));
            SimXenstoredProcess sim = new SimXenstoredProcess(paths);
            if (choice.platform() == Platform.SIM) {
                startSim(sim, log);
            }
            Path socket = paths.controlSocket();
            if (!removeStaleSocket(socket, log)) {
                return 1;
            }
            CountDownLatch stop = new CountDownLatch(1);
            CommandDispatcher dispatcher = new CommandDispatcher(ctx, sim, stop::countDown);
            cleanup.dispatcher = dispatcher;
            cleanup.server = ControlServer.start(socket, PeerPolicy.forThisProcess(), dispatcher);
            dispatcher.startDataPlane();
            settings.metrics().ifPresent(listen -> cleanup.metrics = startMetrics(listen, ctx, dispatcher, log));
            Signal.handle(new Signal("TERM"), s -> stop.countDown());
            Signal.handle(new Signal("INT"), s -> stop.countDown());
            log.info("daemon started: pid {}, version {}, platform {}, control socket {}, xenstore {}, config {}",
                    pid, Version.get(), choice.describe(), socket, ctx.xenstorePath(),
                    Files.exists(settings.configFile()) ? settings.configFile() : "none (" + settings.configFile() + " absent)");
            stop.await();
            log.info("daemon stopping (pid {})", pid);
            return 0;
        } catch (IOException e) {
            log.error("xen-disk-java: cannot open control socket {}: {}", paths.controlSocket(), e.toString());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            cleanup.run();
        }
    }

    /**
     * The metrics endpoint; null when it cannot listen, which the log says: the
     * disks matter more than their metrics, so the daemon serves on without them.
     */
    private static MetricsServer startMetrics(String listen, DaemonContext ctx, CommandDispatcher dispatcher,
                                              Logger log) {
        try {
            MetricsServer m = MetricsServer.start(listen, new VbdCollector(ctx.vbds(), dispatcher::domainName,
                    ctx.mappings()));
            log.info("metrics for Prometheus at http://{}/metrics", m.describe());
            return m;
        } catch (IOException | IllegalArgumentException e) {
            log.error("xen-disk-java: no metrics endpoint at '{}' (config.xml's <metrics>): {}; the daemon serves"
                    + " its disks without it: free the port or name another", listen, e.getMessage());
            return null;
        }
    }

    /** An engine reads its setting when a disk opens: the file's value, unless a JVM option gave one at start. */
    private static void defaultProperty(String name, long value) {
        if (System.getProperty(name) == null) {
            System.setProperty(name, Long.toString(value));
        }
    }

    private static void startSim(SimXenstoredProcess sim, Logger log) {
        try {
            SimXenstoredPid.Status s = sim.start();
            log.info("sim xenstored {}", s.describe());
        } catch (SimXenstoredProcess.SimException e) {
            // the daemon stays useful (status, sim start later) without it
            log.warn("sim platform without xenstored: {}", e.getMessage());
        }
    }

    /** We hold the lock, so a socket nobody answers on is a dead daemon's. */
    private static boolean removeStaleSocket(Path socket, Logger log) throws IOException {
        if (!Files.exists(socket)) {
            return true;
        }
        if (UnixSockets.answers(socket)) {
            log.error("xen-disk-java: something answers on {} although the daemon lock was free;"
                    + " stop that process or remove the socket", socket);
            return false;
        }
        log.info("removing stale control socket {} (its daemon died)", socket);
        Files.delete(socket);
        return true;
    }

    /** Idempotent: runs on normal exit and from the shutdown hook (SIGHUP, System.exit elsewhere). */
    private static final class Cleanup {
        private final AtomicBoolean done = new AtomicBoolean();
        private final DaemonLock lock;
        private final Logger log;
        volatile ControlServer server;
        volatile CommandDispatcher dispatcher;
        volatile MetricsServer metrics;

        Cleanup(DaemonLock lock, Logger log) {
            this.lock = lock;
            this.log = log;
        }

        void run() {
            if (!done.compareAndSet(false, true)) {
                return;
            }
            ControlServer s = server;
            if (s != null) {
                s.close();
            }
            MetricsServer m = metrics;
            if (m != null) {
                m.close();
            }
            CommandDispatcher d = dispatcher;
            if (d != null) {
                d.close(); // unplug the disks cleanly while xenstore is still there
            }
            try {
                lock.close();
            } catch (IOException e) {
                log.warn("could not remove lock {}: {}", lock, e.toString());
            }
            log.info("daemon stopped");
        }
    }
}
