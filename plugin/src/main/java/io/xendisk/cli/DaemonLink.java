package io.xendisk.cli;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;

import java.io.IOException;
import java.util.Optional;

/**
 * How commands handled in the CLI process (the libvirt verbs, the libvirt
 * hook) reach the daemon; tests give a fake.
 */
public interface DaemonLink {
    /**
     * Sends a request, starting the daemon first when none runs.
     *
     * @throws DaemonStartFailedException the daemon could not be reached or started (the reason is printed)
     * @throws IOException                the daemon broke the connection
     */
    ControlResponse send(ControlRequest request) throws IOException;

    /**
     * Sends a request only if a daemon runs: undoing (disconnect) needs no daemon
     * when none runs, since nothing is served then.
     *
     * @return the response, or empty when no daemon runs
     */
    Optional<ControlResponse> sendIfRunning(ControlRequest request) throws IOException;
}
