package io.xendisk.cli;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.api.Version;
import io.xendisk.daemon.DaemonMain;
import io.xendisk.daemon.LogSetup;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The {@code xen-disk-java} command. {@code daemon} runs the daemon in this
 * process; {@code help} and {@code --version} answer locally; every other verb
 * is sent to the running daemon, which is started in the background first if
 * none answers. Exit status: 0 success, 1 failure, 2 usage error, or the
 * daemon's own status for the verb.
 */
public final class Main {
    private static final long STOP_TIMEOUT_MS = 20_000;

    private final Map<String, String> env;
    private final PrintStream out;
    private final PrintStream err;

    public Main(Map<String, String> env, PrintStream out, PrintStream err) {
        this.env = Map.copyOf(env);
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        LogSetup.forCli();
        int status = new Main(System.getenv(), System.out, System.err).run(args);
        System.out.flush();
        // exit explicitly: the launcher's watcher thread must not keep the CLI alive
        System.exit(status);
    }

    /** Runs one command line and returns the exit status. */
    public int run(String... argv) {
        CliArgs args;
        try {
            args = CliArgs.parse(Arrays.asList(argv));
        } catch (UsageException e) {
            err.println("xen-disk-java: " + e.getMessage());
            err.println(Usage.HINT);
            return ControlResponse.USAGE;
        }
        switch (args.verb()) {
            case "":
                err.print(Usage.TEXT);
                return ControlResponse.USAGE;
            case "help":
                out.print(Usage.TEXT);
                return ControlResponse.OK;
            case "version":
                out.println("xen-disk-java " + Version.get());
                return ControlResponse.OK;
            case "daemon":
                return DaemonMain.run(args.platform(), false);
            default:
                return remote(args);
        }
    }

    private int remote(CliArgs args) {
        ControlPaths paths = ControlPaths.from(env);
        ControlClient client = new ControlClient(paths.controlSocket());
        String platform = args.platform();
        if (platform == null && env.get("XEN_DISK_JAVA_PLATFORM") != null
                && !env.get("XEN_DISK_JAVA_PLATFORM").isBlank()) {
            platform = env.get("XEN_DISK_JAVA_PLATFORM");
        }
        Map<String, String> options = new java.util.LinkedHashMap<>(args.options());
        options.remove("foreground"); // the CLI's own business
        if (platform != null) {
            options.put("platform", platform);
        }
        ControlRequest request = new ControlRequest(args.verb(), args.args(), options);
        if (args.verb().equals("demo")) {
            Path dir = Path.of(args.options().getOrDefault("dir", "/tmp/xen-disk-java-demo")).toAbsolutePath();
            try {
                return new Demo(r -> sendStartingDaemon(paths, client, args, r), out, err, dir).run();
            } catch (DaemonStartFailed e) {
                return ControlResponse.FAILED;
            } catch (IOException e) {
                err.println("xen-disk-java: demo failed: " + e.getMessage());
                return ControlResponse.FAILED;
            }
        }
        ControlResponse response;
        try {
            response = sendStartingDaemon(paths, client, args, request);
        } catch (DaemonStartFailed e) {
            return ControlResponse.FAILED;
        } catch (IOException e) {
            err.println("xen-disk-java: control request '" + args.verb() + "' over " + paths.controlSocket()
                    + " failed: " + e.getMessage() + " (see " + paths.daemonLog() + ")");
            return ControlResponse.FAILED;
        }
        if (response == null) {
            return ControlResponse.OK; // shutdown without a daemon
        }
        out.print(response.stdout());
        err.print(response.stderr());
        if (args.verb().equals("shutdown") && response.exitCode() == ControlResponse.OK) {
            return awaitStopped(paths);
        }
        if (args.options().containsKey("foreground") && response.exitCode() == ControlResponse.OK) {
            return new ForegroundConnection(client, request, out, err).serveUntilStopped(response.stdout());
        }
        return response.exitCode();
    }

    /** The daemon could not be reached or started; the reason is already printed. */
    private static final class DaemonStartFailed extends IOException {
        private static final long serialVersionUID = 1L;
    }

    /**
     * Sends a request, starting the daemon first when none runs. Returns null
     * for {@code shutdown} when there is no daemon (nothing to stop).
     */
    private ControlResponse sendStartingDaemon(ControlPaths paths, ControlClient client, CliArgs args,
                                               ControlRequest request) throws IOException {
        try {
            return client.send(request);
        } catch (DaemonUnavailableException e) {
            if (e.reason() == DaemonUnavailableException.Reason.ACCESS_DENIED) {
                err.println("xen-disk-java: " + e.getMessage() + "; only root may control the daemon (you are user "
                        + System.getProperty("user.name") + "); run with sudo");
                throw new DaemonStartFailed();
            }
            if (args.verb().equals("shutdown")) {
                out.println("no daemon running (" + paths.controlSocket() + ")");
                return null;
            }
            if (args.verb().equals("sim") && (args.args().get(0).equals("stop") || args.args().get(0).equals("status"))) {
                // the sim xenstored outlives the daemon: look at it directly rather than start a daemon for this
                return simWithoutDaemon(paths, args.args().get(0));
            }
            try {
                long pid = new DaemonLauncher(paths, client).start(args.platform());
                err.println("xen-disk-java: started the daemon in the background (pid "
                        + (pid > 0 ? Long.toString(pid) : "unknown") + ", log " + paths.daemonLog() + ")");
            } catch (DaemonLauncher.LaunchException le) {
                err.println("xen-disk-java: " + le.getMessage());
                throw new DaemonStartFailed();
            }
            return client.send(request);
        }
    }

    private static ControlResponse simWithoutDaemon(ControlPaths paths, String action) {
        io.xendisk.daemon.SimXenstoredProcess sim = new io.xendisk.daemon.SimXenstoredProcess(paths);
        if (action.equals("status")) {
            io.xendisk.daemon.SimXenstoredProcess.Status st = sim.status();
            return new ControlResponse(st.running() ? ControlResponse.OK : 3, "sim xenstored: " + st.describe()
                    + "\n" + (st.running() ? "XENSTORED_PATH=" + st.socket() + " xenstore-ls\n" : ""), "");
        }
        try {
            long pid = sim.stop();
            return ControlResponse.ok(pid < 0 ? "sim xenstored was not running\n" : "sim xenstored stopped (pid " + pid + ")\n");
        } catch (io.xendisk.daemon.SimXenstoredProcess.SimException e) {
            return ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: " + e.getMessage() + "\n");
        }
    }

    /** {@code shutdown} returns once the daemon has removed its socket and lock, so scripts can rely on it. */
    private int awaitStopped(ControlPaths paths) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_TIMEOUT_MS);
        while (System.nanoTime() < deadline) {
            if (!Files.exists(paths.controlSocket()) && !Files.exists(paths.lockFile())) {
                out.println("daemon stopped");
                return ControlResponse.OK;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        err.println("xen-disk-java: the daemon acknowledged shutdown but " + paths.controlSocket() + " or "
                + paths.lockFile() + " still exists after " + STOP_TIMEOUT_MS / 1000 + " s; see " + paths.daemonLog());
        return ControlResponse.FAILED;
    }
}
