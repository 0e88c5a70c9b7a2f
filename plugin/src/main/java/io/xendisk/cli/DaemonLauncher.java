package io.xendisk.cli;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.JavaCommand;
import io.xendisk.api.LogTail;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecuteResultHandler;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.PumpStreamHandler;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts the daemon, a program of its own that the CLI knows only by its main
 * class ({@value #DAEMON_MAIN}), in the background when none runs. The daemon gets its own
 * session ({@code setsid}), stdin from /dev/null and stdout/stderr appended to
 * daemon.log, so it survives the CLI's exit and a Ctrl+C in the CLI's terminal.
 * Commons Exec runs a tiny {@code sh} that sets up the redirections and execs
 * {@code setsid java ... DaemonMain}; the pid it watches is therefore the
 * daemon's own (setsid only forks when its caller leads a process group,
 * which a child of the JVM never does).
 */
public final class DaemonLauncher {
    static final String DAEMON_MAIN = "io.xendisk.daemon.DaemonMain";
    private static final long START_TIMEOUT_MS = 20_000;
    private static final String SHELL_SCRIPT = "log=$1; shift; exec setsid \"$@\" </dev/null >>\"$log\" 2>&1";

    private final ControlPaths paths;
    private final ControlClient client;

    public DaemonLauncher(ControlPaths paths, ControlClient client) {
        this.paths = paths;
        this.client = client;
    }

    /**
     * Starts a daemon and waits (at most 20 s) until its control socket answers.
     *
     * @param platform --platform to pass on, or null
     * @return the new daemon's pid (from its lock file), or -1 if unknown
     * @throws LaunchException if it could not start; the message includes the log's tail
     */
    public long start(String platform) throws LaunchException {
        Path log = paths.daemonLog();
        try {
            Files.createDirectories(paths.logDir());
        } catch (IOException e) {
            throw new LaunchException("cannot create log directory " + paths.logDir() + " for the daemon: " + e
                    + " (run with sudo, or set " + ControlPaths.LOGDIR_ENV + ")");
        }
        long logStart = sizeOf(log);
        CommandLine cmd = new CommandLine("/bin/sh");
        cmd.addArgument("-c");
        cmd.addArgument(SHELL_SCRIPT, false);
        cmd.addArgument("xen-disk-java-daemon", false); // $0 of the script
        cmd.addArgument(log.toString(), false);
        for (String a : daemonCommand(platform)) {
            cmd.addArgument(a, false);
        }
        DefaultExecutor executor = DefaultExecutor.builder().get();
        // nothing reaches these pipes: the script redirects before exec
        executor.setStreamHandler(new PumpStreamHandler(OutputStream.nullOutputStream(),
                OutputStream.nullOutputStream(), null));
        DefaultExecuteResultHandler result = new DefaultExecuteResultHandler();
        try {
            executor.execute(cmd, result);
        } catch (IOException e) {
            throw new LaunchException("cannot start the daemon (" + cmd + "): " + e);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
        while (System.nanoTime() < deadline) {
            if (client.answers()) {
                return readPid();
            }
            if (result.hasResult()) {
                // it may have lost a start race to another CLI's daemon, which is fine
                if (client.answers()) {
                    return readPid();
                }
                throw new LaunchException("the daemon exited with status " + result.getExitValue()
                        + " before opening " + client.socket() + "; last lines of " + log + ":\n" + LogTail.since(log, logStart, 15));
            }
            sleep(50);
        }
        throw new LaunchException("the daemon did not open " + client.socket() + " within "
                + START_TIMEOUT_MS / 1000 + " s; see " + log + ":\n" + LogTail.since(log, logStart, 15));
    }

    /** {@code java -cp <our class path> DaemonMain --detached [--platform P]}. */
    static List<String> daemonCommand(String platform) {
        return JavaCommand.of(List.of(), DAEMON_MAIN, daemonArgs(platform, true));
    }

    private static List<String> daemonArgs(String platform, boolean detached) {
        List<String> args = new ArrayList<>();
        if (detached) {
            args.add("--detached");
        }
        if (platform != null) {
            args.add("--platform");
            args.add(platform);
        }
        return args;
    }

    /**
     * {@code xen-disk-java daemon} when this CLI was started without the
     * launcher script (which runs the daemon's main class itself): the daemon
     * as a child in the foreground, on our terminal, stopped with us.
     *
     * @return the daemon's exit status
     */
    static int runInForeground(String platform, PrintStream err) {
        Process p;
        try {
            p = new ProcessBuilder(JavaCommand.of(List.of(), DAEMON_MAIN, daemonArgs(platform, false)))
                    .inheritIO().start();
        } catch (IOException e) {
            err.println("xen-disk-java: cannot start the daemon (" + DAEMON_MAIN + "): " + e);
            return 1;
        }
        // SIGTERM or SIGINT to us: pass it on and let the daemon stop cleanly before we exit
        Thread stop = new Thread(() -> {
            p.destroy();
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "daemon-stop");
        Runtime.getRuntime().addShutdownHook(stop);
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(stop);
            } catch (IllegalStateException e) {
                // shutting down already: the hook runs
            }
        }
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0;
        }
    }

    private long readPid() {
        try {
            return Long.parseLong(Files.readString(paths.lockFile(), StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The daemon could not be started; the message is for the user. */
    public static final class LaunchException extends Exception {
        private static final long serialVersionUID = 1L;

        public LaunchException(String message) {
            super(message);
        }
    }
}
