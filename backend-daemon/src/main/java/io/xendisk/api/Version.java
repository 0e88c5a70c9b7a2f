package io.xendisk.api;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The build's version, shared by the daemon's {@code status} and the CLI's {@code --version}. */
public final class Version {
    private static final String VERSION = load();

    private Version() {
    }

    /** e.g. "0.1.0-SNAPSHOT"; "unknown" when run from classes without the filtered resource. */
    public static String get() {
        return VERSION;
    }

    private static String load() {
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
