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
            // the engine reads its cache size when a disk opens; a JVM option given at start wins over the file
            settings.qcow2CacheMiB().ifPresent(mib -> {
                if (System.getProperty(Qcow2Storage.CACHE_PROPERTY) == null) {
                    System.setProperty(Qcow2Storage.CACHE_PROPERTY, Long.toString((long) mib << 20));
                }
            });
            // what the rings offer is read when the data plane starts; a JVM option wins over the file
            settings.maxRingPageOrder().ifPresent(n -> {
                if (System.getProperty(BlkifFeatures.RING_PAGE_ORDER_PROPERTY) == null) {
                    System.setProperty(BlkifFeatures.RING_PAGE_ORDER_PROPERTY, Integer.toString(n));
                }
            });
            settings.maxIndirectSegments().ifPresent(n -> {
                if (System.getProperty(BlkifFeatures.INDIRECT_SEGMENTS_PROPERTY) == null) {
                    System.setProperty(BlkifFeatures.INDIRECT_SEGMENTS_PROPERTY, Integer.toString(n));
                }
            });
            settings.nbdReconnectSeconds().ifPresent(s -> {
                if (System.getProperty(NbdEngine.RECONNECT_PROPERTY) == null) {
                    System.setProperty(NbdEngine.RECONNECT_PROPERTY, Integer.toString(s));
                }
            });
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
