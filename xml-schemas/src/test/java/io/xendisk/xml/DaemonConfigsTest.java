package io.xendisk.xml;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** config.xml: settings read, every problem named with file:LINE:COL and its fix. */
class DaemonConfigsTest {
    private static final String OPEN = "<config xmlns='" + DaemonConfigs.NAMESPACE + "'>\n";

    @TempDir
    Path dir;

    @Test
    void readsEverySetting() throws Exception {
        Path f = dir.resolve("config.xml");
        Files.writeString(f, OPEN + "  <log-level> debug </log-level>\n  <platform>sim</platform>\n"
                + "  <run-dir>/run/x</run-dir>\n  <log-dir>/var/log/x</log-dir>\n  <grant-mappings> 500 </grant-mappings>\n"
                + "  <qcow2-cache-mib>8</qcow2-cache-mib>\n  <nbd-reconnect-seconds>30</nbd-reconnect-seconds>\n"
                + "  <nbd-connections>2</nbd-connections>\n  <metrics>127.0.0.1:9477</metrics>\n</config>\n");
        assertEquals(new DaemonConfig(Optional.of("sim"), Optional.of(Path.of("/run/x")), Optional.of(Path.of("/var/log/x")),
                Optional.of("debug"), java.util.OptionalInt.of(500), java.util.OptionalInt.of(8),
                java.util.OptionalInt.of(30), java.util.OptionalInt.of(2), java.util.OptionalInt.empty(),
                java.util.OptionalInt.empty(), Optional.of("127.0.0.1:9477")),
                DaemonConfigs.read(f));
    }

    @Test
    void readsWhatTheRingsOfferAndRefusesWhatNoFrontendCouldUse() throws Exception {
        DaemonConfig c = DaemonConfigs.parse(OPEN + "<max-ring-page-order>2</max-ring-page-order>"
                + "<max-indirect-segments>0</max-indirect-segments></config>", "c.xml");
        assertEquals(java.util.OptionalInt.of(2), c.maxRingPageOrder());
        assertEquals(java.util.OptionalInt.of(0), c.maxIndirectSegments());
        for (String bad : new String[] {"<max-ring-page-order>5</max-ring-page-order>",
                "<max-indirect-segments>11</max-indirect-segments>", "<max-indirect-segments>4097</max-indirect-segments>"}) {
            XmlInvalidException e = assertThrows(XmlInvalidException.class,
                    () -> DaemonConfigs.parse(OPEN + bad + "</config>", "c.xml"));
            assertTrue(e.getMessage().contains(bad.substring(1, bad.indexOf('>'))), e.getMessage());
        }
    }

    @Test
    void aGrantMappingBudgetMustBePositive() {
        XmlInvalidException e = org.junit.jupiter.api.Assertions.assertThrows(XmlInvalidException.class,
                () -> DaemonConfigs.parse(OPEN + "<grant-mappings>0</grant-mappings></config>", "c.xml"));
        assertTrue(e.getMessage().contains("grant-mappings"), e.getMessage());
    }

    @Test
    void nbdConnectionsAreOneToSixteen() {
        for (String bad : new String[] {"0", "17", "many"}) {
            XmlInvalidException e = assertThrows(XmlInvalidException.class,
                    () -> DaemonConfigs.parse(OPEN + "<nbd-connections>" + bad + "</nbd-connections></config>", "c.xml"));
            assertTrue(e.getMessage().endsWith(": invalid <nbd-connections>" + bad + "</nbd-connections>; use a whole"
                    + " number of connections from 1 to 16"), e.getMessage());
        }
    }

    @Test
    void metricsListenOnAPortOrHostAndPort() throws Exception {
        for (String ok : new String[] {"9477", "127.0.0.1:9477", "[::1]:9477", "metrics.example:80"}) {
            assertEquals(Optional.of(ok), DaemonConfigs.parse(OPEN + "<metrics>" + ok + "</metrics></config>", "c.xml")
                    .metrics());
        }
        XmlInvalidException e = assertThrows(XmlInvalidException.class,
                () -> DaemonConfigs.parse(OPEN + "<metrics>http://localhost:9477/</metrics></config>", "c.xml"));
        assertTrue(e.getMessage().endsWith(": invalid <metrics>http://localhost:9477/</metrics>; use a port (on the"
                + " loopback address) or HOST:PORT, e.g. 127.0.0.1:9477"), e.getMessage());
    }

    @Test
    void missingFileMeansNoSettingsButAnEmptyConfigIsValid() throws Exception {
        assertEquals(DaemonConfig.NONE, DaemonConfigs.read(dir.resolve("absent.xml")));
        assertEquals(DaemonConfig.NONE, DaemonConfigs.parse(OPEN + "</config>", "c.xml"));
    }

    @Test
    void theDistributionsDefaultConfigIsValidAndSetsNothing() throws Exception {
        // the module runs with its own directory as working directory
        Path shipped = Path.of("../src/main/dist/conf/config.xml");
        assertTrue(Files.exists(shipped), shipped.toAbsolutePath() + " missing");
        assertEquals(DaemonConfig.NONE, DaemonConfigs.read(shipped));
    }

    @Test
    void badValuesAreNamedWithFileLineAndFix() throws Exception {
        Path f = dir.resolve("config.xml");
        Files.writeString(f, OPEN + "  <platform>kvm</platform>\n  <run-dir>run</run-dir>\n</config>\n");
        XmlInvalidException e = assertThrows(XmlInvalidException.class, () -> DaemonConfigs.read(f));
        assertEquals(2, e.problems().size(), e.getMessage());
        String[] lines = e.getMessage().split("\n");
        assertTrue(lines[0].startsWith(f + ":2:"), e.getMessage());
        assertTrue(lines[0].endsWith(": invalid <platform>kvm</platform>; use auto, xen or sim"), e.getMessage());
        assertTrue(lines[1].startsWith(f + ":3:"), e.getMessage());
        assertTrue(lines[1].contains("invalid <run-dir>run</run-dir>; use an absolute directory path"), e.getMessage());
    }

    @Test
    void settingTwiceUnknownSettingAndWrongNamespace() {
        XmlInvalidException twice = assertThrows(XmlInvalidException.class, () -> DaemonConfigs.parse(
                OPEN + "<platform>xen</platform>\n<platform>sim</platform>\n</config>", "c.xml"));
        assertTrue(twice.getMessage().startsWith("c.xml:3:"), twice.getMessage());
        assertTrue(twice.getMessage().contains("unexpected <platform> (given twice, or out of place); keep one"), twice.getMessage());

        XmlInvalidException unknown = assertThrows(XmlInvalidException.class, () -> DaemonConfigs.parse(
                OPEN + "<loglevel>info</loglevel>\n</config>", "c.xml"));
        assertTrue(unknown.getMessage().startsWith("c.xml:2:"), unknown.getMessage());
        assertEquals("c.xml:2:11: unexpected <loglevel>; remove it or fix its name"
                + " (expected: <platform>, <run-dir>, <log-dir>, <log-level>, <grant-mappings>, <qcow2-cache-mib>, <nbd-reconnect-seconds>, <max-ring-page-order>, <max-indirect-segments>, <nbd-connections>, <metrics>)", unknown.getMessage());

        XmlInvalidException noNs = assertThrows(XmlInvalidException.class, () -> DaemonConfigs.parse(
                "<config>\n</config>", "c.xml"));
        assertEquals("c.xml:1:9: <config> is not in namespace " + DaemonConfigs.NAMESPACE + "; write <config xmlns=\""
                + DaemonConfigs.NAMESPACE + "\"> (any prefix, this namespace URI)", noNs.getMessage());
    }

    @Test
    void unreadableIsNamed() throws Exception {
        Path d = dir.resolve("is-a-dir");
        Files.createDirectory(d);
        XmlInvalidException e = assertThrows(XmlInvalidException.class, () -> DaemonConfigs.read(d));
        assertTrue(e.getMessage().startsWith(d + ": cannot read it: "), e.getMessage());
    }

    @Test
    void schemasShipInTheJar() {
        for (XmlSchema s : XmlSchema.values()) {
            assertTrue(s.resource() != null, s + " has no .xsd resource");
        }
    }
}
