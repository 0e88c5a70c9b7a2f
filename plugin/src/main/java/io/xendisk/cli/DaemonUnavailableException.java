package io.xendisk.cli;

import java.io.IOException;

/** The control socket could not be connected to; {@link #reason()} says why. */
public final class DaemonUnavailableException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Why the connection failed. */
    public enum Reason {
        /** No socket file (ENOENT) or nobody listening on it (ECONNREFUSED): no daemon runs. */
        NOT_RUNNING,
        /** EACCES on the socket or its directory: we are not root. */
        ACCESS_DENIED
    }

    private final Reason reason;

    public DaemonUnavailableException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
