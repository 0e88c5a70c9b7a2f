package io.xendisk.cli.install;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** install / uninstall into a staging --root, from a distribution laid out like the real one. */
class InstallTest {
    private static final String HOOK = "etc/libvirt/hooks/libxl.d/xen-disk-java";
    private static final String UNIT = "etc/systemd/system/xen-disk-java.service";
    private static final String CONFIG = "etc/xen-disk-java/config.xml";
    private static final String LINK = "usr/sbin/xen-disk-java";
    private static final String XL = "etc/xen/scripts/xen-disk-java";

    @TempDir
    Path tmp;
    private Path home;
    private Path root;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final List<String> systemctl = new ArrayList<>();

    /** The repository's own files, where the assembly takes them from (the module runs in plugin/). */
    @BeforeEach
    void distribution() throws IOException {
        home = tmp.resolve("dist");
        root = Files.createDirectory(tmp.resolve("root"));
        copy(Path.of("../src/main/dist/bin/xen-disk-java"), home.resolve("bin/xen-disk-java"));
        copy(Path.of("../hook-scripts/libvirt-hook"), home.resolve("hooks/libvirt-hook"));
        copy(Path.of("../src/main/dist/systemd/xen-disk-java.service"), home.resolve("systemd/xen-disk-java.service"));
        copy(Path.of("../src/main/dist/conf/config.xml"), home.resolve("conf/config.xml"));
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
    }

    private Systemd systemd(boolean running) {
        return new Systemd() {
            @Override
            public boolean running() {
                return running;
            }

            @Override
            public String systemctl(String... args) {
                systemctl.add(String.join(" ", args));
                return "";
            }
        };
    }

    private int run(String verb) {
        out.reset();
        err.reset();
        return new InstallCommand(Map.of(InstallCommand.HOME_ENV, home.toString()),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                systemd(true)).run(verb, root.toString());
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    private List<String> tree() throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).filter(p -> !p.isEmpty()).sorted().toList();
        }
    }

    @Test
    void installPutsEverythingInPlaceAndUninstallRemovesExactlyThat() throws Exception {
        Files.createDirectories(root.resolve("etc/xen")); // was there before: stays
        assertEquals(0, run("install"), err.toString());
        assertEquals(Files.readString(home.resolve("hooks/libvirt-hook")), Files.readString(root.resolve(HOOK)));
        assertEquals("rwxr-xr-x", mode(root.resolve(HOOK)));
        String unit = Files.readString(root.resolve(UNIT));
        assertTrue(unit.contains("\nExecStart=" + home + "/bin/xen-disk-java daemon\n"), unit);
        assertFalse(unit.contains("@XEN_DISK_JAVA_HOME@"), unit);
        assertEquals("rw-r--r--", mode(root.resolve(UNIT)));
        assertEquals(home.resolve("bin/xen-disk-java"), Files.readSymbolicLink(root.resolve(LINK)));
        assertEquals(Files.readString(home.resolve("conf/config.xml")), Files.readString(root.resolve(CONFIG)));
        assertFalse(Files.exists(root.resolve(XL)));
        assertTrue(out().startsWith("skipped /etc/xen/scripts/xen-disk-java: this distribution has no xl hotplug script"
                + " (hooks/xen-disk-java) yet\n"), out());
        assertTrue(out().contains("installed /" + HOOK + "\n"), out());
        assertTrue(out().contains("systemd: not touched (--root " + root + " is not this host)"), out());
        assertEquals(List.of(), systemctl);

        assertEquals(0, run("uninstall"), err.toString());
        assertEquals(List.of("etc", "etc/xen"), tree(), out());
        assertTrue(out().contains("removed /" + HOOK + "\nremoved directory"), out());
        assertTrue(out().contains("removed directory /etc/libvirt/hooks/libxl.d\n"), out());

        assertEquals(0, run("uninstall"));
        assertEquals("nothing to uninstall: xen-disk-java install left no record below " + root + "\n", out());
    }

    @Test
    void theOperatorsConfigIsNeverOverwrittenNorRemoved() throws Exception {
        assertEquals(0, run("install"));
        Files.writeString(root.resolve(CONFIG), "<config xmlns='https://xen-disk-java.org/xmlns/config/1'>\n"
                + "<log-level>debug</log-level>\n</config>\n");
        assertEquals(0, run("install"));
        assertTrue(out().contains("kept /" + CONFIG + " (an existing config is never overwritten; valid)"), out());
        assertTrue(Files.readString(root.resolve(CONFIG)).contains("debug"));
        assertEquals(0, run("uninstall"));
        assertTrue(out().contains("kept /" + CONFIG + ": changed since it was installed\n"), out());
        assertTrue(Files.exists(root.resolve(CONFIG)));
        assertFalse(Files.exists(root.resolve(HOOK)));

        // an invalid one is kept too, and said to be invalid with its line
        Files.writeString(root.resolve(CONFIG), "<config xmlns='https://xen-disk-java.org/xmlns/config/1'>\n"
                + "<log-level>loud</log-level>\n</config>\n");
        assertEquals(0, run("install"));
        assertTrue(out().contains("kept /" + CONFIG + " (an existing config is never overwritten; INVALID, the daemon will"
                + " not start until it is fixed:\n" + root.resolve(CONFIG) + ":2:"), out());
    }

    @Test
    void reinstallingIsUpToDateAndUpgradesChangedFiles() throws Exception {
        assertEquals(0, run("install"));
        assertEquals(0, run("install"));
        assertTrue(out().contains("up to date /" + HOOK + "\n"), out());
        assertTrue(out().contains("up to date /" + LINK + " -> "), out());
        Files.writeString(home.resolve("hooks/libvirt-hook"), "#!/bin/sh\n# a newer hook\n");
        assertEquals(0, run("install"));
        assertTrue(out().contains("updated /" + HOOK + "\n"), out());
        assertEquals("#!/bin/sh\n# a newer hook\n", Files.readString(root.resolve(HOOK)));
        assertEquals(0, run("uninstall"));
        assertFalse(Files.exists(root.resolve(HOOK)), "the upgraded file is still ours");
    }

    @Test
    void theXlHotplugScriptIsInstalledOnceTheDistributionHasIt() throws Exception {
        Files.writeString(home.resolve("hooks/xen-disk-java"), "#!/bin/sh\nexit 0\n");
        assertEquals(0, run("install"));
        assertEquals("rwxr-xr-x", mode(root.resolve(XL)));
        assertTrue(out().startsWith("installed /" + XL + "\n"), out());
        assertEquals(0, run("uninstall"));
        assertFalse(Files.exists(root.resolve(XL)));
    }

    @Test
    void aDistributionInsideTheStagingRootIsReferredToByItsPathOnTheHost() throws Exception {
        Path inside = root.resolve("opt/xen-disk-java");
        Files.createDirectories(inside.getParent());
        Files.move(home, inside);
        home = inside;
        assertEquals(0, run("install"), err.toString());
        assertTrue(Files.readString(root.resolve(UNIT)).contains("\nExecStart=/opt/xen-disk-java/bin/xen-disk-java daemon\n"));
        assertEquals(Path.of("/opt/xen-disk-java/bin/xen-disk-java"), Files.readSymbolicLink(root.resolve(LINK)));
    }

    @Test
    void systemdIsUsedOnlyOnThisHostAndOnlyWhenItRuns() {
        Installer host = new Installer(home, Path.of("/"), systemd(true), new PrintStream(out, true, StandardCharsets.UTF_8));
        host.enableService();
        assertEquals(List.of("daemon-reload", "enable xen-disk-java.service"), systemctl);
        host.disableService();
        host.reloadService();
        assertEquals(List.of("daemon-reload", "enable xen-disk-java.service", "disable xen-disk-java.service",
                "daemon-reload"), systemctl);

        systemctl.clear();
        out.reset();
        new Installer(home, Path.of("/"), systemd(false), new PrintStream(out, true, StandardCharsets.UTF_8)).enableService();
        assertEquals(List.of(), systemctl);
        assertTrue(out().startsWith("systemd: not running on this host; the launcher starts the daemon on demand"), out());
    }

    @Test
    void withoutTheDistributionOrWithABadRootNothingHappens() throws Exception {
        int rc = new InstallCommand(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), systemd(true)).run("install", root.toString());
        assertEquals(1, rc);
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("xen-disk-java: install needs the distribution: run it as"
                + " <dist>/bin/xen-disk-java install (XEN_DISK_JAVA_HOME is unset)"), err.toString(StandardCharsets.UTF_8));
        root = tmp.resolve("no-such-root");
        assertEquals(1, run("install"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--root " + root + " is not a directory"));
        Files.delete(home.resolve("hooks/libvirt-hook"));
        root = tmp.resolve("root");
        assertEquals(1, run("install"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("the distribution " + home + " lacks hooks/libvirt-hook"),
                err.toString(StandardCharsets.UTF_8));
    }
}
