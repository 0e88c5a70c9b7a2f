package io.xendisk.e2e;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Debian package as an operator meets it, on this machine: lintian finds
 * no error in it; dpkg installs it where xl, libvirtd and systemd look, with
 * the unit enabled; the demo runs from /usr/sbin; remove keeps the
 * configuration (and the operator's change to it), purge leaves nothing.
 */
class DebPackageE2ETest {
    private static final String PACKAGE = "xen-disk-java";
    private static final Path WANTS = Path.of("/etc/systemd/system/multi-user.target.wants/xen-disk-java.service");
    private static final Path CONFIG = Path.of("/etc/xen-disk-java/config.xml");

    @Test
    void installRunRemoveAndPurge() throws Exception {
        Tools.require(Path.of("/usr/bin/dpkg"), "dpkg");
        Tools.require(Path.of("/usr/bin/lintian"), "lintian");
        Path deb = debFile();
        try (Dist dist = new Dist()) {
            Dist.Result status = dist.exec(List.of("dpkg-query", "-W", "-f=${Status}", PACKAGE), Map.of());
            if (status.out().contains("installed") && !status.out().contains("not-installed")) {
                fail(PACKAGE + " is already installed on this machine (" + status.out() + "); this test installs and"
                        + " purges its own copy: run dpkg -P " + PACKAGE + " first");
            }

            Dist.Result lintian = dist.exec(List.of("lintian", "--tag-display-limit", "0", deb.toString()), Map.of());
            System.out.println("lintian " + deb.getFileName() + ":\n" + lintian.out() + lintian.err());
            assertFalse(Stream.of(lintian.out().split("\n")).anyMatch(l -> l.startsWith("E: ")), lintian.toString());

            List<String> files = packagedFiles(dist, deb);
            Dist.Result install = dist.exec(List.of("dpkg", "-i", deb.toString()), Map.of());
            assertEquals(0, install.exit(), install.toString());
            try {
                for (String f : files) {
                    assertTrue(Files.exists(Path.of(f), java.nio.file.LinkOption.NOFOLLOW_LINKS), f + " not installed");
                }
                assertTrue(Files.isSymbolicLink(Path.of("/usr/sbin/xen-disk-java")));
                assertTrue(Files.isExecutable(Path.of("/etc/xen/scripts/xen-disk-java")));
                assertTrue(Files.isExecutable(Path.of("/etc/libvirt/hooks/libxl.d/xen-disk-java")));
                assertTrue(Files.readString(Path.of("/lib/systemd/system/xen-disk-java.service"))
                        .contains("ExecStart=/usr/share/xen-disk-java/bin/xen-disk-java daemon"));
                assertEquals(Files.readString(Dist.HOME.resolve("conf/config.xml")), Files.readString(CONFIG));
                assertTrue(Files.isSymbolicLink(WANTS), "the unit is enabled: " + WANTS);

                Map<String, String> env = Map.of("XEN_DISK_JAVA_RUNDIR", dist.dir.resolve("run").toString(),
                        "XEN_DISK_JAVA_LOGDIR", dist.dir.resolve("log").toString());
                Dist.Result demo = dist.exec(List.of("/usr/sbin/xen-disk-java", "demo", "--dir",
                        dist.dir.resolve("demo").toString()), env);
                dist.exec(List.of("/usr/sbin/xen-disk-java", "shutdown"), env);
                dist.exec(List.of("/usr/sbin/xen-disk-java", "sim", "stop"), env);
                assertEquals(0, demo.exit(), demo.toString());
                assertTrue(demo.out().contains("demo OK"), demo.toString());

                Files.writeString(CONFIG, "<!-- the operator's own -->\n", java.nio.file.StandardOpenOption.APPEND);
                Dist.Result remove = dist.exec(List.of("dpkg", "-r", PACKAGE), Map.of());
                assertEquals(0, remove.exit(), remove.toString());
                assertTrue(Files.readString(CONFIG).endsWith("<!-- the operator's own -->\n"),
                        "remove keeps the configuration as the operator left it");
                assertFalse(Files.exists(Path.of("/usr/sbin/xen-disk-java"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
                assertFalse(Files.exists(Path.of("/usr/share/xen-disk-java")));
            } finally {
                Dist.Result purge = dist.exec(List.of("dpkg", "-P", PACKAGE), Map.of());
                assertEquals(0, purge.exit(), purge.toString());
            }
            List<String> left = new ArrayList<>();
            for (String f : files) {
                if (Files.exists(Path.of(f), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    left.add(f);
                }
            }
            for (Path p : List.of(CONFIG.getParent(), WANTS, Path.of("/etc/systemd/system/xen-disk-java.service"),
                    Path.of("/var/log/xen-disk-java"), Path.of("/var/lib/xen-disk-java"))) {
                if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    left.add(p.toString());
                }
            }
            assertEquals(List.of(), left, "left after purge");
            Dist.Result gone = dist.exec(List.of("dpkg-query", "-W", "-f=${Status}", PACKAGE), Map.of());
            assertNotEquals("install ok installed", gone.out());
        }
    }

    /** src/target/xen-disk-java_VERSION_all.deb, which mvn package made. */
    private static Path debFile() throws Exception {
        Path target = Dist.HOME.getParent();
        try (Stream<Path> s = Files.list(target)) {
            List<Path> debs = s.filter(p -> p.getFileName().toString().matches("xen-disk-java_.*_all\\.deb")).toList();
            assertEquals(1, debs.size(), "one xen-disk-java_*_all.deb in " + target + " (mvn package makes it): " + debs);
            return debs.get(0);
        }
    }

    /** The package's files and links (not its directories), as dpkg-deb lists them. */
    private static List<String> packagedFiles(Dist dist, Path deb) throws Exception {
        Dist.Result list = dist.exec(List.of("dpkg-deb", "-c", deb.toString()), Map.of());
        assertEquals(0, list.exit(), list.toString());
        List<String> files = new ArrayList<>();
        for (String line : list.out().split("\n")) {
            if (line.startsWith("d") || line.isBlank()) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            // mode owner size date time ./path [-> target]
            String path = f[5];
            files.add(path.startsWith("./") ? path.substring(1) : path);
        }
        assertTrue(files.contains("/usr/sbin/xen-disk-java"), files.toString());
        return files;
    }
}
