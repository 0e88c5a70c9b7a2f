package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.UnixSockets;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Chooses sim or xen. Explicit choice: {@code --platform} (passed in), else
 * {@value ControlPaths#PLATFORM_ENV}. Otherwise real Xen when {@code /dev/xen/privcmd}
 * exists and a xenstored is reachable, else the simulated platform.
 *
 * <p>The xenstored socket is found as libxenstore finds it, so our daemon and
 * Debian's xenstore-* tools talk to the same one: {@code XENSTORED_PATH}, else
 * {@code $XENSTORED_RUNDIR/socket}, else {@value #DEFAULT_XENSTORED_SOCKET};
 * failing a connectable socket, the {@code /dev/xen/xenbus} device.
 *
 * <p>The file system probes are injected so the rules can be tested on any host.
 */
public final class PlatformDetector {
    public static final String DEFAULT_XENSTORED_SOCKET = "/run/xenstored/socket";

    private final Map<String, String> env;
    private final Path devDir;
    private final Predicate<Path> exists;
    private final Predicate<Path> connectable;
    private final Path simSocket;

    /**
     * @param env         environment variables (XENSTORED_PATH, ...)
     * @param devDir      normally "/dev"; tests pass a temp dir
     * @param exists      whether a device node exists
     * @param connectable whether a unix socket answers
     * @param simSocket   the simulated xenstored's socket
     */
    public PlatformDetector(Map<String, String> env, Path devDir, Predicate<Path> exists,
                            Predicate<Path> connectable, Path simSocket) {
        this.env = Map.copyOf(env);
        this.devDir = devDir;
        this.exists = exists;
        this.connectable = connectable;
        this.simSocket = simSocket;
    }

    /** The detector for this host and process environment. */
    public static PlatformDetector forHost(ControlPaths paths) {
        return new PlatformDetector(System.getenv(), Path.of("/dev"), Files::exists,
                UnixSockets::answers, paths.simXenstoredSocket());
    }

    /**
     * @param requested the value of {@code --platform} or null
     * @throws PlatformException if an explicit choice is unknown or unusable here
     */
    public PlatformChoice choose(String requested) throws PlatformException {
        return choose(requested, "--platform " + requested);
    }

    /**
     * Like {@link #choose(String)}, for a value from elsewhere (the config file).
     *
     * @param source where {@code requested} came from, for messages ("config.xml")
     */
    public PlatformChoice choose(String requested, String source) throws PlatformException {
        String value = requested;
        if (value == null || value.isBlank()) {
            value = env.get(ControlPaths.PLATFORM_ENV);
            source = ControlPaths.PLATFORM_ENV + "=" + value;
        }
        if (value == null || value.isBlank() || value.trim().equalsIgnoreCase("auto")) {
            return auto();
        }
        Platform platform = Platform.parse(value);
        if (platform == null) {
            throw new PlatformException("unknown platform '" + value + "' (from " + source
                    + "): use sim, xen or auto");
        }
        if (platform == Platform.SIM) {
            return new PlatformChoice(Platform.SIM, source, simSocket);
        }
        Path privcmd = privcmd();
        if (!exists.test(privcmd)) {
            throw new PlatformException("platform xen requested (" + source + ") but " + privcmd
                    + " does not exist: this is not a Xen dom0 or the privcmd driver is not loaded"
                    + " (boot the Xen hypervisor, install xen-utils, run 'modprobe xen-privcmd'),"
                    + " or use --platform sim");
        }
        Path xenstore = xenstore();
        if (xenstore == null) {
            throw new PlatformException("platform xen requested (" + source + ") but no xenstored is reachable: "
                    + xenstoredSocket() + " does not answer and " + xenbus() + " does not exist"
                    + " (start it: 'systemctl start xenstored' from xen-utils, or set XENSTORED_PATH)");
        }
        return new PlatformChoice(Platform.XEN, source + ", xenstore " + xenstore, xenstore);
    }

    private PlatformChoice auto() {
        Path privcmd = privcmd();
        if (!exists.test(privcmd)) {
            return new PlatformChoice(Platform.SIM, "no " + privcmd, simSocket);
        }
        Path xenstore = xenstore();
        if (xenstore == null) {
            return new PlatformChoice(Platform.SIM, privcmd + " exists but no xenstored answers at "
                    + xenstoredSocket() + " and no " + xenbus(), simSocket);
        }
        return new PlatformChoice(Platform.XEN, privcmd + " and xenstore " + xenstore, xenstore);
    }

    /** The reachable xenstore endpoint, or null. */
    private Path xenstore() {
        Path socket = xenstoredSocket();
        if (connectable.test(socket)) {
            return socket;
        }
        return exists.test(xenbus()) ? xenbus() : null;
    }

    /** Same precedence as libxenstore's xs_daemon_socket(). */
    Path xenstoredSocket() {
        String path = env.get("XENSTORED_PATH");
        if (path != null && !path.isEmpty()) {
            return Path.of(path);
        }
        String rundir = env.get("XENSTORED_RUNDIR");
        if (rundir != null && !rundir.isEmpty()) {
            return Path.of(rundir, "socket");
        }
        return Path.of(DEFAULT_XENSTORED_SOCKET);
    }

    private Path privcmd() {
        return devDir.resolve("xen/privcmd");
    }

    private Path xenbus() {
        return devDir.resolve("xen/xenbus");
    }
}
