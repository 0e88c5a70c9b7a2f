package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.JavaCommand;
import io.xendisk.api.LogTail;
import io.xendisk.api.SimXenstoredPid;
import io.xendisk.api.UnixSockets;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The simulated platform's xenstored as a separate process
 * ({@value SimXenstoredPid#MAIN_CLASS}), started detached in its own session so
 * that it outlives a daemon crash and the xenstore contents with it. Its pid
 * file and socket live in the run directory's {@code sim/}
 * ({@link SimXenstoredPid}, which the CLI reads too); its output goes to
 * {@code xenstored.log} in the log directory.
 */
public final class SimXenstoredProcess {
    private static final String MAIN_CLASS = SimXenstoredPid.MAIN_CLASS;
    private static final Logger LOG = LogManager.getLogger(SimXenstoredProcess.class);
    private static final long START_TIMEOUT_MS = 20_000;

    /** Starting or stopping failed; the message says why and what to do. */
    public static final class SimException extends Exception {
        private static final long serialVersionUID = 1L;

        public SimException(String message) {
            super(message);
        }
    }

    private final ControlPaths paths;
    private final SimXenstoredPid pid;

    public SimXenstoredProcess(ControlPaths paths) {
        this.paths = paths;
        this.pid = new SimXenstoredPid(paths);
    }

    public Path socket() {
        return paths.simXenstoredSocket();
    }

    /** Whether this build contains the simulated xenstored at all. */
    public static boolean available() {
        try {
            Class.forName(MAIN_CLASS, false, SimXenstoredProcess.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    /** Running means: the pid file names a live process and the socket answers. */
    public SimXenstoredPid.Status status() {
        return pid.status();
    }

    /**
     * Starts the sim xenstored unless it already runs, and waits (bounded) until
     * its socket answers.
     *
     * @return the status after starting; {@code started} tells whether we started it
     */
    public synchronized SimXenstoredPid.Status start() throws SimException {
        SimXenstoredPid.Status now = status();
        if (now.running()) {
            return now;
        }
        if (!available()) {
            throw new SimException("the simulated xenstored (" + MAIN_CLASS + ") is not part of this build;"
                    + " build a version with the sim platform");
        }
        Optional<ProcessHandle> old = pid.process();
        if (old.isPresent()) {
            // alive but not answering: hung or still starting; don't start a second one on its socket
            throw new SimException("sim xenstored pid " + old.get().pid() + " is alive but " + socket()
                    + " does not answer; run 'xen-disk-java sim stop' and try again");
        }
        try {
            Files.createDirectories(paths.simDir());
            Files.setPosixFilePermissions(paths.simDir(), PosixFilePermissions.fromString("rwx------"));
            Files.createDirectories(paths.logDir());
            // nobody answers (checked above) and no live pid: whatever is left is stale
            Files.deleteIfExists(socket());
            Files.deleteIfExists(paths.simXenstoredPidFile());
        } catch (IOException e) {
            throw new SimException("cannot prepare " + paths.simDir() + " for the sim xenstored: " + e);
        }
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid"); // own session: a Ctrl+C or the daemon's death must not reach it
        // the daemon's Log4j config, aimed at xenstored.log: one line per event, as in daemon.log;
        // C1 and serial GC: a control-plane process should start fast and stay small
        List<String> jvm = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                "-Dlog4j2.configurationFile=classpath:io/xendisk/daemon/log4j2-daemon.xml",
                "-Dxendisk.logFile=" + paths.simXenstoredLog(), "-Dxendisk.consoleLevel=off");
        cmd.addAll(JavaCommand.of(jvm, MAIN_CLASS, List.of("--socket", socket().toString(),
                "--pid-file", paths.simXenstoredPidFile().toString())));
        Process p;
        try {
            p = new ProcessBuilder(cmd)
                    .redirectInput(new File("/dev/null"))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(paths.simXenstoredLog().toFile()))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new SimException("cannot start the sim xenstored (" + String.join(" ", cmd) + "): " + e);
        }
        LOG.info("starting sim xenstored pid {} on {}", p.pid(), socket());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
        while (System.nanoTime() < deadline) {
            if (UnixSockets.answers(socket())) {
                LOG.info("sim xenstored pid {} answers on {}", p.pid(), socket());
                return new SimXenstoredPid.Status(true, p.pid(), socket());
            }
            if (!p.isAlive()) {
                throw new SimException("the sim xenstored exited with status " + p.exitValue()
                        + " before answering on " + socket() + "; last lines of " + paths.simXenstoredLog()
                        + ":\n" + LogTail.of(paths.simXenstoredLog(), 15));
            }
            sleep(50);
        }
        p.destroy();
        throw new SimException("the sim xenstored (pid " + p.pid() + ") did not answer on " + socket() + " within "
                + START_TIMEOUT_MS / 1000 + " s; see " + paths.simXenstoredLog());
    }

    /**
     * Stops it with SIGTERM (SIGKILL if it does not exit in time) and removes
     * what it left.
     *
     * @return the pid stopped, or -1 if none was running
     */
    public synchronized long stop() throws SimException {
        pid.process().ifPresent(h -> LOG.info("stopping sim xenstored pid {}", h.pid()));
        try {
            return pid.stop(LOG::warn);
        } catch (IOException e) {
            throw new SimException(e.getMessage());
        }
    }

    static boolean awaitExit(ProcessHandle h, long timeoutMs) {
        return SimXenstoredPid.awaitExit(h, timeoutMs);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
