package io.xendisk.daemon;

import io.xendisk.api.ControlPaths;
import io.xendisk.xml.DaemonConfig;
import io.xendisk.xml.DaemonConfigs;
import io.xendisk.xml.XmlInvalidException;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

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
 * @param grantMappings the grant mapping budget, from {@value #GRANT_MAPPINGS_ENV} or the file;
 *                   empty for the default derived from vm.max_map_count
 * @param qcow2CacheMiB the L2 table cache of each qcow2 disk, from the file; empty for the engine's default
 * @param nbdReconnectSeconds how long an NBD disk connects again, from the file; empty for the engine's default
 * @param nbdConnections how many connections an NBD disk opens where the server allows several, from the file;
 *                   empty for the engine's default
 * @param maxRingPageOrder    the largest ring offered, from the file; empty for the default
 * @param maxIndirectSegments segments per INDIRECT request offered, from the file; empty for the default
 * @param metrics    where the metrics endpoint listens, from the file; empty: no metrics
 */
public record DaemonSettings(ControlPaths paths, Optional<String> platform, String logLevel, Path configFile,
                             OptionalInt grantMappings, OptionalInt qcow2CacheMiB, OptionalInt nbdReconnectSeconds,
                             OptionalInt nbdConnections, OptionalInt maxRingPageOrder, OptionalInt maxIndirectSegments,
                             Optional<String> metrics) {
    public static final String GRANT_MAPPINGS_ENV = "XEN_DISK_JAVA_GRANT_MAPPINGS";

    /**
     * Reads the config file named by the environment, if it exists.
     *
     * @throws XmlInvalidException the file is invalid: file:LINE:COL, problem and fix per line
     */
    public static DaemonSettings load(Map<String, String> env) throws XmlInvalidException {
        Path file = ControlPaths.configFile(env);
        DaemonConfig config = DaemonConfigs.read(file);
        return new DaemonSettings(ControlPaths.from(env, config), config.platform(),
                config.logLevel().orElse("info"), file, grantMappings(env, config), config.qcow2CacheMiB(),
                config.nbdReconnectSeconds(), config.nbdConnections(), config.maxRingPageOrder(),
                config.maxIndirectSegments(), config.metrics());
    }

    private static OptionalInt grantMappings(Map<String, String> env, DaemonConfig config) throws XmlInvalidException {
        String v = env.get(GRANT_MAPPINGS_ENV);
        if (v == null || v.isBlank()) {
            return config.grantMappings();
        }
        try {
            int n = Integer.parseInt(v.strip());
            if (n >= 1) {
                return OptionalInt.of(n);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new XmlInvalidException(new io.xendisk.xml.XmlProblem("$" + GRANT_MAPPINGS_ENV, 0, 0,
                "'" + v + "' is not a positive number of grant mappings", "set a number such as 40000, or unset it"));
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
