package io.xendisk.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The simulated platform's xenstored as its pid file and socket in the run
 * directory describe it: whether it runs, and stopping it. It outlives the
 * daemon, so the CLI answers {@code sim status} and {@code sim stop} with
 * this alone rather than start a daemon for them; the daemon, which also
 * starts it, uses the same.
 */
public final class SimXenstoredPid {
    /** Its main class: what a live process named by the pid file must be running. */
    public static final String MAIN_CLASS = "io.xendisk.xen.sim.XenstoredMain";
    private static final long STOP_TIMEOUT_MS = 10_000;

    /** A snapshot of the sim xenstored: running or not, its pid (or -1) and socket. */
    public record Status(boolean running, long pid, Path socket) {
        /** "running (pid 42, socket /run/...)" or "not running". */
        public String describe() {
            return running ? "running (pid " + pid + ", socket " + socket + ")" : "not running";
        }
    }

    private final ControlPaths paths;

    public SimXenstoredPid(ControlPaths paths) {
        this.paths = paths;
    }

    public Path socket() {
        return paths.simXenstoredSocket();
    }

    /** Running means: the pid file names a live process and the socket answers. */
    public Status status() {
        Optional<ProcessHandle> proc = process();
        boolean running = proc.isPresent() && UnixSockets.answers(socket());
        return new Status(running, proc.map(ProcessHandle::pid).orElse(-1L), socket());
    }

    /** The live process named by the pid file, if it is really a sim xenstored. */
    public Optional<ProcessHandle> process() {
        long pid;
        try {
            pid = Long.parseLong(Files.readString(paths.simXenstoredPidFile(), StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
        // a pid file outliving a reboot may name an unrelated process now
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(h -> h.info().commandLine().map(c -> c.contains(MAIN_CLASS)).orElse(true));
    }

    /**
     * Stops it with SIGTERM (SIGKILL if it does not exit in time) and removes
     * what it left.
     *
     * @param notes hears what went beyond a plain SIGTERM, for a log
     * @return the pid stopped, or -1 if none was running
     * @throws IOException naming what survived: the process, or its files
     */
    public long stop(Consumer<String> notes) throws IOException {
        Optional<ProcessHandle> proc = process();
        long pid = -1;
        if (proc.isPresent()) {
            ProcessHandle h = proc.get();
            pid = h.pid();
            h.destroy();
            if (!awaitExit(h, STOP_TIMEOUT_MS)) {
                notes.accept("sim xenstored pid " + pid + " ignored SIGTERM for " + STOP_TIMEOUT_MS / 1000
                        + " s; killing it");
                h.destroyForcibly();
                if (!awaitExit(h, STOP_TIMEOUT_MS)) {
                    throw new IOException("sim xenstored pid " + pid + " survives SIGKILL; check it with ps");
                }
            }
        }
        try {
            Files.deleteIfExists(paths.simXenstoredPidFile());
            if (!UnixSockets.answers(socket())) {
                Files.deleteIfExists(socket());
            }
        } catch (IOException e) {
            throw new IOException("sim xenstored stopped but its files remain: " + e, e);
        }
        return pid;
    }

    /**
     * Polls rather than using onExit(): it is not our child once a daemon
     * restarted, and the JDK's onExit() for non-children polls with long sleeps.
     */
    public static boolean awaitExit(ProcessHandle h, long timeoutMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (h.isAlive()) {
            if (System.nanoTime() > deadline || Thread.currentThread().isInterrupted()) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return true;
    }
}
