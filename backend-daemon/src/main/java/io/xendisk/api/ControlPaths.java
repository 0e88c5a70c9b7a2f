package io.xendisk.api;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where the daemon and the CLI meet: the run directory (control socket, lock,
 * the simulated platform's files) and the log directory. Both sides compute
 * them from the same environment so they always agree.
 *
 * <p>{@code XEN_DISK_JAVA_RUNDIR} overrides {@value #DEFAULT_RUN_DIR},
 * {@code XEN_DISK_JAVA_LOGDIR} overrides {@value #DEFAULT_LOG_DIR} (the
 * daemon's config file may move both defaults; see DaemonSettings). Unix socket
 * paths must stay below 108 bytes, so keep an overriding run dir short.
 */
public record ControlPaths(Path runDir, Path logDir) {
    public static final String RUNDIR_ENV = "XEN_DISK_JAVA_RUNDIR";
    public static final String LOGDIR_ENV = "XEN_DISK_JAVA_LOGDIR";
    public static final String DEFAULT_RUN_DIR = "/run/xen-disk-java";
    public static final String DEFAULT_LOG_DIR = "/var/log/xen-disk-java";

    /** Paths from the process environment. */
    public static ControlPaths fromEnvironment() {
        return from(System.getenv());
    }

    /** Paths from the given environment (tests inject one). */
    public static ControlPaths from(Map<String, String> env) {
        return from(env, defaults());
    }

    /**
     * Paths from the environment where it sets them, else {@code fallback}
     * (the config file's directories, themselves defaulting to ours).
     */
    public static ControlPaths from(Map<String, String> env, ControlPaths fallback) {
        return new ControlPaths(
                Path.of(nonEmpty(env.get(RUNDIR_ENV), fallback.runDir().toString())).toAbsolutePath(),
                Path.of(nonEmpty(env.get(LOGDIR_ENV), fallback.logDir().toString())).toAbsolutePath());
    }

    /** {@value #DEFAULT_RUN_DIR} and {@value #DEFAULT_LOG_DIR}. */
    public static ControlPaths defaults() {
        return new ControlPaths(Path.of(DEFAULT_RUN_DIR), Path.of(DEFAULT_LOG_DIR));
    }

    /** The daemon's control socket (mode 0600 in a 0700 directory). */
    public Path controlSocket() {
        return runDir.resolve("control.sock");
    }

    /** Held with an exclusive lock by the one running daemon; contains its pid. */
    public Path lockFile() {
        return runDir.resolve("daemon.lock");
    }

    public Path daemonLog() {
        return logDir.resolve("daemon.log");
    }

    /** The simulated platform's directory (its xenstored socket and pid file). */
    public Path simDir() {
        return runDir.resolve("sim");
    }

    public Path simXenstoredSocket() {
        return simDir().resolve("socket");
    }

    public Path simXenstoredPidFile() {
        return simDir().resolve("xenstored.pid");
    }

    public Path simXenstoredLog() {
        return logDir.resolve("xenstored.log");
    }

    private static String nonEmpty(String value, String fallback) {
        return value == null || value.isBlank() ? fallback : value;
    }
}
