package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.xml.DaemonConfig;
import io.xendisk.xml.DaemonConfigs;
import io.xendisk.xml.XmlInvalidException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The daemon's settings after precedence: command line and environment over
 * the config file ({@value #DEFAULT_CONFIG}, or {@code $XEN_DISK_JAVA_CONFIG})
 * over the built-in defaults. The CLI resolves them the same way, so both
 * find the same control socket when the file moves the run directory.
 *
 * @param paths      run and log directories
 * @param platform   the config file's platform, applied only when neither --platform
 *                   nor $XEN_DISK_JAVA_PLATFORM is set; empty when the file has none
 * @param logLevel   our classes' log level
 * @param configFile the file that was read (it may not exist)
 */
public record DaemonSettings(ControlPaths paths, Optional<String> platform, String logLevel, Path configFile) {
    public static final String CONFIG_ENV = "XEN_DISK_JAVA_CONFIG";
    public static final String DEFAULT_CONFIG = "/etc/xen-disk-java/config.xml";

    /**
     * Reads the config file named by the environment, if it exists.
     *
     * @throws XmlInvalidException the file is invalid: file:LINE:COL, problem and fix per line
     */
    public static DaemonSettings load(Map<String, String> env) throws XmlInvalidException {
        Path file = configFile(env);
        return from(env, file, DaemonConfigs.read(file));
    }

    /**
     * For a CLI process: like {@link #load}, but a file this user may not read
     * counts as absent. The daemon runs as root and reads it; a user who cannot
     * is not root and is refused by the control socket with a clearer message.
     */
    public static DaemonSettings loadForClient(Map<String, String> env) throws XmlInvalidException {
        Path file = configFile(env);
        return Files.isReadable(file) ? from(env, file, DaemonConfigs.read(file)) : from(env, file, DaemonConfig.NONE);
    }

    private static Path configFile(Map<String, String> env) {
        String named = env.get(CONFIG_ENV);
        return Path.of(named == null || named.isBlank() ? DEFAULT_CONFIG : named);
    }

    private static DaemonSettings from(Map<String, String> env, Path file, DaemonConfig config) {
        ControlPaths defaults = ControlPaths.defaults();
        ControlPaths fromFile = new ControlPaths(config.runDir().orElse(defaults.runDir()),
                config.logDir().orElse(defaults.logDir()));
        return new DaemonSettings(ControlPaths.from(env, fromFile), config.platform(),
                config.logLevel().orElse("info"), file);
    }

    /**
     * Chooses the platform: --platform, else $XEN_DISK_JAVA_PLATFORM (read by
     * the detector), else the config file's, else auto.
     *
     * @param commandLine the value of --platform, or null
     */
    public PlatformChoice choosePlatform(PlatformDetector detector, String commandLine, Map<String, String> env)
            throws PlatformException {
        if (commandLine != null && !commandLine.isBlank()) {
            return detector.choose(commandLine);
        }
        String fromEnv = env.get(PlatformDetector.PLATFORM_ENV);
        if ((fromEnv == null || fromEnv.isBlank()) && platform.isPresent()) {
            return detector.choose(platform.get(), "<platform>" + platform.get() + "</platform> in " + configFile);
        }
        return detector.choose(null);
    }
}
