package io.xendisk.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import io.xendisk.xml.DaemonConfig;
import io.xendisk.xml.DaemonConfigs;
import io.xendisk.xml.XmlInvalidException;

/**
 * Where the daemon and the CLI meet: the run directory (control socket, lock,
 * the simulated platform's files) and the log directory. Both sides compute
 * them from the same environment and config file so they always agree.
 *
 * <p>{@code XEN_DISK_JAVA_RUNDIR} overrides {@value #DEFAULT_RUN_DIR},
 * {@code XEN_DISK_JAVA_LOGDIR} overrides {@value #DEFAULT_LOG_DIR}; the
 * config file ({@value #DEFAULT_CONFIG}, or {@code $XEN_DISK_JAVA_CONFIG})
 * may move both defaults. Unix socket paths must stay below 108 bytes, so
 * keep an overriding run dir short.
 */
public record ControlPaths(Path runDir, Path logDir) {
    public static final String RUNDIR_ENV = "XEN_DISK_JAVA_RUNDIR";
    public static final String LOGDIR_ENV = "XEN_DISK_JAVA_LOGDIR";
    public static final String DEFAULT_RUN_DIR = "/run/xen-disk-java";
    public static final String DEFAULT_LOG_DIR = "/var/log/xen-disk-java";
    /** Names the config file instead of {@value #DEFAULT_CONFIG}. */
    public static final String CONFIG_ENV = "XEN_DISK_JAVA_CONFIG";
    public static final String DEFAULT_CONFIG = "/etc/xen-disk-java/config.xml";
    /** The platform (sim, xen, auto) when no --platform is given; over the config file's. */
    public static final String PLATFORM_ENV = "XEN_DISK_JAVA_PLATFORM";

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

    /** The config file the environment names, whether or not it exists. */
    public static Path configFile(Map<String, String> env) {
        return Path.of(nonEmpty(env.get(CONFIG_ENV), DEFAULT_CONFIG));
    }

    /** Paths from the environment where it sets them, else from the config file, else the defaults. */
    public static ControlPaths from(Map<String, String> env, DaemonConfig config) {
        ControlPaths defaults = defaults();
        return from(env, new ControlPaths(config.runDir().orElse(defaults.runDir()),
                config.logDir().orElse(defaults.logDir())));
    }

    /**
     * For a CLI process: the paths as the daemon computes them, but a config
     * file this user may not read counts as absent. The daemon runs as root
     * and reads it; a user who cannot is not root and is refused by the
     * control socket with a clearer message.
     *
     * @throws XmlInvalidException the file is invalid: file:LINE:COL, problem and fix per line
     */
    public static ControlPaths forClient(Map<String, String> env) throws XmlInvalidException {
        Path file = configFile(env);
        return from(env, Files.isReadable(file) ? DaemonConfigs.read(file) : DaemonConfig.NONE);
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
