package io.xendisk.xml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/** Reads the daemon's config.xml (config.xsd) into a {@link DaemonConfig}. */
public final class DaemonConfigs {
    /** The config file's namespace URI. */
    public static final String NAMESPACE = "https://xen-disk-java.org/xmlns/config/1";

    private DaemonConfigs() {
    }

    /**
     * @return the settings, or {@link DaemonConfig#NONE} when the file does not exist
     * @throws XmlInvalidException naming the file, line and fix of each problem, or why it cannot be read
     */
    public static DaemonConfig read(Path file) throws XmlInvalidException {
        String xml;
        try {
            xml = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return DaemonConfig.NONE;
        } catch (IOException e) {
            throw new XmlInvalidException(new XmlProblem(file.toString(), 0, 0, "cannot read it: " + e,
                    "check its permissions (the daemon runs as root)"));
        }
        return parse(xml, file.toString());
    }

    /** Parses a config document; {@code source} names it in problems. */
    public static DaemonConfig parse(String xml, String source) throws XmlInvalidException {
        XmlElement config = XmlReader.read(xml, source, XmlSchema.CONFIG, XmlReader.ROOT);
        return new DaemonConfig(text(config, "platform"), text(config, "run-dir").map(Path::of),
                text(config, "log-dir").map(Path::of), text(config, "log-level"),
                number(config, "grant-mappings"), number(config, "qcow2-cache-mib"),
                number(config, "nbd-reconnect-seconds"), number(config, "nbd-connections"),
                number(config, "max-ring-page-order"), number(config, "max-indirect-segments"), text(config, "metrics"));
    }

    private static OptionalInt number(XmlElement config, String name) {
        return text(config, name).map(v -> OptionalInt.of(Integer.parseInt(v))).orElse(OptionalInt.empty());
    }

    private static Optional<String> text(XmlElement config, String name) {
        // the schema's xs:token types collapse whitespace when validating; read them the same way
        return config.child(name).map(e -> e.text().strip().replaceAll("\\s+", " "));
    }
}
