package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.xml.DaemonConfig;
import io.xendisk.xml.DaemonConfigs;
import io.xendisk.xml.XmlInvalidException;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The daemon's settings after precedence: command line and environment over
 * the config file ({@value ControlPaths#DEFAULT_CONFIG}, or
 * {@code $XEN_DISK_JAVA_CONFIG}) over the built-in defaults. The CLI resolves
 * the paths the same way ({@link ControlPaths#forClient}), so both find the
 * same control socket when the file moves the run directory.
 *
 * @param paths      run and log directories
 * @param platform   the config file's platform, applied only when neither --platform
 *                   nor $XEN_DISK_JAVA_PLATFORM is set; empty when the file has none
 * @param logLevel   our classes' log level
 * @param configFile the file that was read (it may not exist)
 */
public record DaemonSettings(ControlPaths paths, Optional<String> platform, String logLevel, Path configFile) {
    /**
     * Reads the config file named by the environment, if it exists.
     *
     * @throws XmlInvalidException the file is invalid: file:LINE:COL, problem and fix per line
     */
    public static DaemonSettings load(Map<String, String> env) throws XmlInvalidException {
        Path file = ControlPaths.configFile(env);
        DaemonConfig config = DaemonConfigs.read(file);
        return new DaemonSettings(ControlPaths.from(env, config), config.platform(),
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
        String fromEnv = env.get(ControlPaths.PLATFORM_ENV);
        if ((fromEnv == null || fromEnv.isBlank()) && platform.isPresent()) {
            return detector.choose(platform.get(), "<platform>" + platform.get() + "</platform> in " + configFile);
        }
        return detector.choose(null);
    }
}
