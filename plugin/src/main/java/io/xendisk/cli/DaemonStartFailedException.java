package io.xendisk.cli;

import java.io.IOException;

/** The daemon could not be reached or started; the reason is already printed. */
public final class DaemonStartFailedException extends IOException {
    private static final long serialVersionUID = 1L;

    public DaemonStartFailedException(String message) {
        super(message);
    }
}
