package io.xendisk.cli;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import io.xendisk.api.SimXenstoredPid;
import io.xendisk.api.Version;
import io.xendisk.cli.hook.LibvirtHook;
import io.xendisk.cli.install.InstallCommand;
import io.xendisk.cli.libvirt.LibvirtVerbs;
import io.xendisk.xml.XmlInvalidException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The {@code xen-disk-java} command. {@code daemon} is the daemon's own main
 * class, which the launcher script runs directly (this class only runs it as
 * a child when started without the launcher); {@code help} and
 * {@code --version} answer locally; the libvirt
 * verbs (attach-disk, detach-disk, domblklist), the libvirt hook and
 * install/uninstall run here and reach the daemon only when they need it;
 * every other verb is sent to the running daemon, which is started in the
 * background first if none answers. Exit status: 0 success, 1 failure, 2 usage error, or the
 * daemon's own status for the verb.
 */
public final class Main {
    private static final long STOP_TIMEOUT_MS = 20_000;
    /** Not log4j2.xml: an auto-discovered file would apply to every main class on the class path. */
    private static final String LOG_CONFIG = "classpath:io/xendisk/cli/log4j2-cli.xml";

    private final Map<String, String> env;
    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;
    private final Path cwd;

    public Main(Map<String, String> env, PrintStream out, PrintStream err) {
        this(env, InputStream.nullInputStream(), out, err);
    }

    /** @param in stdin: the domain XML for {@code libvirt-hook} */
    public Main(Map<String, String> env, InputStream in, PrintStream out, PrintStream err) {
        this(env, in, out, err, Path.of("").toAbsolutePath());
    }

    /** @param cwd the directory relative image paths on the command line are taken from */
    public Main(Map<String, String> env, InputStream in, PrintStream out, PrintStream err, Path cwd) {
        this.env = Map.copyOf(env);
        this.in = in;
        this.out = out;
        this.err = err;
        this.cwd = cwd.toAbsolutePath();
    }

    public static void main(String[] args) {
        // before anything logs; an explicit -Dlog4j2.configurationFile wins
        if (System.getProperty("log4j2.configurationFile") == null) {
            System.setProperty("log4j2.configurationFile", LOG_CONFIG);
        }
        int status = new Main(System.getenv(), System.in, System.out, System.err).run(args);
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
                return DaemonLauncher.runInForeground(args.platform(), err);
            case "attach-disk":
            case "detach-disk":
            case "domblklist":
            case "libvirt-hook": {
                ControlPaths paths = paths();
                if (paths == null) {
                    return ControlResponse.FAILED;
                }
                DaemonLink daemon = new SocketDaemonLink(paths, args.platform(), err);
                return args.verb().equals("libvirt-hook") ? new LibvirtHook(daemon, err).run(args.args(), in)
                        : new LibvirtVerbs(env, cwd, daemon, out, err).run(args.verb(), args.args(), args.options());
            }
            case "install":
            case "uninstall":
                return new InstallCommand(env, out, err).run(args.verb(), args.options().get("root"));
            default:
                return remote(args);
        }
    }

    /** The daemon's paths as the daemon computes them (environment over config file over defaults), or null if the file is bad. */
    private ControlPaths paths() {
        try {
            return ControlPaths.forClient(env);
        } catch (XmlInvalidException e) {
            err.println("xen-disk-java: invalid configuration:\n" + e.getMessage());
            return null;
        }
    }

    private int remote(CliArgs args) {
        ControlPaths paths = paths();
        if (paths == null) {
            return ControlResponse.FAILED;
        }
        SocketDaemonLink link = new SocketDaemonLink(paths, args.platform(), err);
        ControlClient client = link.client();
        String platform = args.platform();
        String fromEnv = env.get(ControlPaths.PLATFORM_ENV);
        if (platform == null && fromEnv != null && !fromEnv.isBlank()) {
            platform = fromEnv;
        }
        ControlRequest request = daemonRequest(args, platform, cwd);
        if (args.verb().equals("demo")) {
            Path dir = Path.of(args.options().getOrDefault("dir", "/tmp/xen-disk-java-demo")).toAbsolutePath();
            try {
                return new Demo(r -> sendStartingDaemon(paths, link, args, r), out, err, dir).run();
            } catch (DaemonStartFailedException e) {
                return ControlResponse.FAILED;
            } catch (IOException e) {
                err.println("xen-disk-java: demo failed: " + e.getMessage());
                return ControlResponse.FAILED;
            }
        }
        ControlResponse response;
        try {
            response = sendStartingDaemon(paths, link, args, request);
        } catch (DaemonStartFailedException e) {
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

    /**
     * What the daemon is sent for a command line: its options without the
     * CLI's own ({@code --foreground}), with the platform, and {@code connect}'s
     * image absolute against {@code cwd}, since the daemon runs in another directory.
     */
    static ControlRequest daemonRequest(CliArgs args, String platform, Path cwd) {
        Map<String, String> options = new java.util.LinkedHashMap<>(args.options());
        options.remove("foreground"); // the CLI's own business
        if (platform != null) {
            options.put("platform", platform);
        }
        if (args.verb().equals("connect") && options.containsKey("path")) {
            options.put("path", ImageSource.resolve(options.get("path"), cwd));
        }
        return new ControlRequest(args.verb(), args.args(), options);
    }

    /**
     * Sends a request, starting the daemon first when none runs. Returns null
     * for {@code shutdown} when there is no daemon (nothing to stop).
     */
    private ControlResponse sendStartingDaemon(ControlPaths paths, SocketDaemonLink link, CliArgs args,
                                               ControlRequest request) throws IOException {
        try {
            return link.client().send(request);
        } catch (DaemonUnavailableException e) {
            if (e.reason() != DaemonUnavailableException.Reason.ACCESS_DENIED) {
                if (args.verb().equals("shutdown")) {
                    out.println("no daemon running (" + paths.controlSocket() + ")");
                    return null;
                }
                if (args.verb().equals("sim") && (args.args().get(0).equals("stop") || args.args().get(0).equals("status"))) {
                    // the sim xenstored outlives the daemon: look at it directly rather than start a daemon for this
                    return simWithoutDaemon(paths, args.args().get(0));
                }
            }
            link.start(e);
            return link.client().send(request);
        }
    }

    private ControlResponse simWithoutDaemon(ControlPaths paths, String action) {
        SimXenstoredPid sim = new SimXenstoredPid(paths);
        if (action.equals("status")) {
            SimXenstoredPid.Status st = sim.status();
            return new ControlResponse(st.running() ? ControlResponse.OK : 3, "sim xenstored: " + st.describe()
                    + "\n" + (st.running() ? "XENSTORED_PATH=" + st.socket() + " xenstore-ls\n" : ""), "");
        }
        try {
            long pid = sim.stop(note -> err.println("xen-disk-java: " + note));
            return ControlResponse.ok(pid < 0 ? "sim xenstored was not running\n" : "sim xenstored stopped (pid " + pid + ")\n");
        } catch (IOException e) {
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
