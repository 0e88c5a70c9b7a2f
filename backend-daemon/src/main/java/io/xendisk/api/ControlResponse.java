package io.xendisk.api;

import java.util.Objects;

/**
 * The daemon's answer to one {@link ControlRequest}, shaped like a process
 * result so the CLI can print it verbatim: an exit code (0 success, 1 failure,
 * 2 usage error) and the text for its stdout and stderr.
 */
public record ControlResponse(int exitCode, String stdout, String stderr) {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    public ControlResponse {
        Objects.requireNonNull(stdout, "stdout");
        Objects.requireNonNull(stderr, "stderr");
    }

    /** Success with the given stdout text. */
    public static ControlResponse ok(String stdout) {
        return new ControlResponse(OK, stdout, "");
    }

    /** Failure with the given message as stderr. */
    public static ControlResponse error(int exitCode, String stderr) {
        return new ControlResponse(exitCode, "", stderr);
    }
}
