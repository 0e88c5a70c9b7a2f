package io.xendisk.cli;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;

import java.io.IOException;
import java.io.PrintStream;
import java.util.Optional;

/** The daemon over its control socket; starts it in the background when a request needs it. */
public final class SocketDaemonLink implements DaemonLink {
    private final ControlPaths paths;
    private final ControlClient client;
    private final String platform;
    private final PrintStream err;

    /**
     * @param platform --platform for a daemon started here, or null
     * @param err      where the start of a daemon and failures are reported
     */
    public SocketDaemonLink(ControlPaths paths, String platform, PrintStream err) {
        this.paths = paths;
        this.client = new ControlClient(paths.controlSocket());
        this.platform = platform;
        this.err = err;
    }

    ControlClient client() {
        return client;
    }

    @Override
    public ControlResponse send(ControlRequest request) throws IOException {
        try {
            return client.send(request);
        } catch (DaemonUnavailableException e) {
            start(e);
            return client.send(request);
        }
    }

    @Override
    public Optional<ControlResponse> sendIfRunning(ControlRequest request) throws IOException {
        try {
            return Optional.of(client.send(request));
        } catch (DaemonUnavailableException e) {
            if (e.reason() == DaemonUnavailableException.Reason.ACCESS_DENIED) {
                throw denied(e);
            }
            return Optional.empty();
        }
    }

    /**
     * Starts a daemon after {@code why} showed none answers.
     *
     * @throws DaemonStartFailedException not root, or the daemon did not come up (both printed)
     */
    void start(DaemonUnavailableException why) throws DaemonStartFailedException {
        if (why.reason() == DaemonUnavailableException.Reason.ACCESS_DENIED) {
            throw denied(why);
        }
        try {
            long pid = new DaemonLauncher(paths, client).start(platform);
            err.println("xen-disk-java: started the daemon in the background (pid "
                    + (pid > 0 ? Long.toString(pid) : "unknown") + ", log " + paths.daemonLog() + ")");
        } catch (DaemonLauncher.LaunchException le) {
            err.println("xen-disk-java: " + le.getMessage());
            throw new DaemonStartFailedException(le.getMessage());
        }
    }

    private DaemonStartFailedException denied(DaemonUnavailableException e) {
        String msg = e.getMessage() + "; only root may control the daemon (you are user "
                + System.getProperty("user.name") + "); run with sudo";
        err.println("xen-disk-java: " + msg);
        return new DaemonStartFailedException(msg);
    }
}
