package io.xendisk.cli.libvirt;

import io.xendisk.api.ControlResponse;
import io.xendisk.cli.CliArgs;
import io.xendisk.cli.FakeDaemon;
import io.xendisk.xml.DomainXml;
import io.xendisk.xml.Engine;
import io.xendisk.xml.MetadataDisk;
import io.xendisk.xml.MetadataDisks;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attach-disk, detach-disk and domblklist against libvirt's test driver,
 * in process: what lands in the live and persistent definitions (read back
 * through libvirt), what the daemon is asked, and every refusal's message.
 */
class LibvirtVerbsTest {
    private static final String NS = MetadataDisks.NAMESPACE;
    private static TestDriver libvirt;
    private final List<Domain> domains = new ArrayList<>();
    private final FakeDaemon daemon = new FakeDaemon();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @BeforeAll
    static void open() throws Exception {
        libvirt = new TestDriver();
    }

    @AfterAll
    static void close() throws Exception {
        libvirt.close();
    }

    @AfterEach
    void removeDomains() {
        domains.forEach(TestDriver::remove);
    }

    private String stopped(String metadata) throws LibvirtException {
        String name = TestDriver.name("stopped");
        domains.add(libvirt.define(name, metadata));
        return name;
    }

    private String running(String metadata) throws LibvirtException {
        String name = TestDriver.name("running");
        domains.add(libvirt.running(name, metadata));
        return name;
    }

    /** Runs a command line as Main would hand it over, against the test driver. */
    private int run(String... argv) throws Exception {
        return runIn(Path.of("").toAbsolutePath(), argv);
    }

    /** {@link #run} typed in directory {@code cwd}. */
    private int runIn(Path cwd, String... argv) throws Exception {
        out.reset();
        err.reset();
        List<String> args = new ArrayList<>(List.of(argv));
        args.add("--connect");
        args.add(TestDriver.URI);
        CliArgs a = CliArgs.parse(args);
        return new LibvirtVerbs(Map.of(), cwd, daemon, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(a.verb(), a.args(), a.options());
    }

    @Test
    void aRelativeSourceIsTakenFromTheCallersDirectoryAndAUriIsNot() throws Exception {
        String vm = running("");
        assertEquals(0, runIn(Path.of("/srv/vm"), "attach-disk", vm, "images/../data.img", "xvdc", "--live"), err());
        assertEquals(List.of("connect " + vm + " path=/srv/vm/data.img storage=file vdev=xvdc"), daemon.summary());
        assertEquals(List.of(new MetadataDisk("xvdc", "/srv/vm/data.img", Engine.FILE, false)), disks(vm, Scope.LIVE));

        // a URI is a remote store's name, sent and kept as it is
        assertEquals(0, runIn(Path.of("/srv/vm"), "attach-disk", vm, "nbd://store:10809/data", "xvdd", "--live",
                "--driver-type", "nbd"), err());
        assertEquals("connect " + vm + " path=nbd://store:10809/data storage=nbd vdev=xvdd", daemon.summary().get(1));
        assertTrue(disks(vm, Scope.LIVE).contains(new MetadataDisk("xvdd", "nbd://store:10809/data", Engine.NBD, false)),
                disks(vm, Scope.LIVE).toString());
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private static String xml(String name, Scope scope) throws LibvirtException {
        return libvirt.conn.domainLookupByName(name).getXMLDesc(scope.xmlFlags());
    }

    private static List<MetadataDisk> disks(String name, Scope scope) throws Exception {
        return DomainXml.parse(xml(name, scope), "test").disks();
    }

    @Test
    void configAttachRecordsMetadataThatLibvirtKeepsAndCopiesToTheLiveDomainAtStart() throws Exception {
        String vm = stopped("");
        assertEquals(0, run("attach-disk", vm, "/img/gold.img", "xvdb", "--driver-type", "cow", "--mode", "readonly"),
                err());
        assertEquals("Disk attached successfully: xvdb (cow /img/gold.img, read-only) to domain " + vm
                + " (persistent config)\n", out());
        assertEquals(List.of(), daemon.requests, "a stopped domain gets its disks at start, through the hook");
        String config = xml(vm, Scope.CONFIG);
        assertTrue(config.contains("<xdj:disks xmlns:xdj=\"" + NS + "\">"), config);
        assertTrue(config.contains("<xdj:disk target=\"xvdb\" source=\"/img/gold.img\" engine=\"cow\" readonly=\"true\"/>"),
                config);

        libvirt.conn.domainLookupByName(vm).create();
        assertEquals(List.of(new MetadataDisk("xvdb", "/img/gold.img", Engine.COW, true)), disks(vm, Scope.LIVE));
        assertEquals(0, run("domblklist", vm), err());
        assertEquals(" Target   Source          Engine   Mode\n"
                + "-".repeat(44) + "\n"
                + " xvdb     /img/gold.img   cow      readonly\n", out());
    }

    @Test
    void hand_written_metadata_in_a_defined_domain_is_listed() throws Exception {
        String vm = stopped("    <x:disks xmlns:x='" + NS + "'>\n"
                + "      <x:disk target='xvdc' source='/srv/data.img' engine='mmap'/>\n"
                + "      <x:disk target='xvdd' engine='discard'/>\n"
                + "    </x:disks>\n");
        assertEquals(0, run("domblklist", vm, "--inactive"), err());
        assertTrue(out().contains(" xvdc     /srv/data.img   mmap      readwrite\n"), out());
        assertTrue(out().contains(" xvdd     -               discard   readwrite\n"), out());
    }

    @Test
    void invalidMetadataIsReportedWithTheLineOfVirshDumpxml() throws Exception {
        String vm = stopped("    <x:disks xmlns:x='" + NS + "'>\n"
                + "      <x:disk target='xvdc' source='/srv/data.img' engine='qcow9'/>\n"
                + "    </x:disks>\n");
        String[] lines = xml(vm, Scope.CONFIG).split("\n", -1);
        int line = 0;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains("qcow9")) {
                line = i + 1;
            }
        }
        assertTrue(line > 0);
        assertEquals(1, run("domblklist", vm));
        assertTrue(err().startsWith("xen-disk-java: the xen-disk-java metadata in the persistent config definition of domain "
                + vm + " is invalid; fix it with 'virsh edit " + vm + "'"), err());
        assertTrue(err().contains("\nvirsh dumpxml --inactive " + vm + ":" + line + ":"), err());
        assertTrue(err().contains(": invalid engine=\"qcow9\" on <disk>; use cow (writes vanish at detach), mmap, file, qcow2, nbd, rbd or discard"),
                err());
        // nothing is written over invalid metadata either
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb"));
        assertTrue(xml(vm, Scope.CONFIG).contains("qcow9"));
    }

    @Test
    void onARunningDomainNoFlagMeansLiveThroughTheDaemon() throws Exception {
        String vm = running("");
        assertEquals(0, run("attach-disk", vm, "/img/data.img", "xvdc"), err());
        assertEquals(List.of("connect " + vm + " path=/img/data.img storage=file vdev=xvdc"), daemon.summary());
        assertTrue(out().startsWith("connect done\nDisk attached successfully: xvdc (file /img/data.img) to domain " + vm
                + " (live)"), out());
        assertEquals(List.of(new MetadataDisk("xvdc", "/img/data.img", Engine.FILE, false)), disks(vm, Scope.LIVE));
        assertEquals(List.of(), disks(vm, Scope.CONFIG));

        assertEquals(0, run("detach-disk", vm, "xvdc"), err());
        assertEquals("disconnect " + vm + " xvdc", daemon.summary().get(1));
        assertEquals(List.of(), disks(vm, Scope.LIVE));
        assertFalse(xml(vm, Scope.LIVE).contains(NS), "the empty element is removed");
    }

    @Test
    void persistentMeansLiveAndConfigAndDetachMirrorsIt() throws Exception {
        String vm = running("");
        assertEquals(0, run("attach-disk", vm, "-", "xvdb", "--driver-type", "discard", "--persistent"), err());
        assertEquals(List.of("connect " + vm + " storage=discard vdev=xvdb"), daemon.summary());
        MetadataDisk disk = new MetadataDisk("xvdb", null, Engine.DISCARD, false);
        assertEquals(List.of(disk), disks(vm, Scope.LIVE));
        assertEquals(List.of(disk), disks(vm, Scope.CONFIG));
        assertTrue(out().endsWith("(live and persistent config)\n"), out());

        assertEquals(0, run("detach-disk", vm, "xvdb", "--persistent"), err());
        assertEquals(List.of(), disks(vm, Scope.LIVE));
        assertEquals(List.of(), disks(vm, Scope.CONFIG));
    }

    @Test
    void configOnARunningDomainOnlyChangesItsNextStart() throws Exception {
        String vm = running("");
        assertEquals(0, run("attach-disk", vm, "/img/x.img", "xvde", "--config", "--driver-type", "mmap"), err());
        assertEquals(List.of(), daemon.requests);
        assertEquals(List.of(), disks(vm, Scope.LIVE));
        assertEquals(List.of(new MetadataDisk("xvde", "/img/x.img", Engine.MMAP, false)), disks(vm, Scope.CONFIG));
        assertTrue(err().contains("note: /img/x.img does not exist yet; domain " + vm + " will not start until it does"),
                err());
    }

    @Test
    void liveOnAStoppedDomainAndConfigOnATransientOneAreRefused() throws Exception {
        String vm = stopped("");
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb", "--live"));
        assertEquals("xen-disk-java: domain " + vm + " is not running, so it has no live state to change (start it,"
                + " or use --config to change what it gets at its next start)\n", err());

        String transient_ = TestDriver.name("transient");
        domains.add(libvirt.conn.domainCreateXML(TestDriver.domainXml(transient_, ""), 0));
        assertEquals(1, run("attach-disk", transient_, "/img/a", "xvdb", "--persistent"));
        assertTrue(err().startsWith("xen-disk-java: domain " + transient_ + " is transient (it has no persistent config);"
                + " use --live"), err());
        assertEquals(List.of(), daemon.requests);
    }

    @Test
    void takenTargetsAreRefused() throws Exception {
        String vm = running("");
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvda"));
        assertEquals("xen-disk-java: domain " + vm + " already has a libvirt disk xvda in its live definition (virsh"
                + " domblklist " + vm + "); choose another target\n", err());
        assertEquals(0, run("attach-disk", vm, "/img/a", "xvdb"), err());
        assertEquals(1, run("attach-disk", vm, "/img/other", "xvdb"));
        assertEquals("xen-disk-java: domain " + vm + " already has a xen-disk-java disk xvdb in its live definition"
                + " (xvdb (file /img/a)); choose another target, or detach it first: xen-disk-java detach-disk " + vm
                + " xvdb\n", err());
        assertEquals(1, daemon.requests.size(), "the refused attach never reached the daemon");
    }

    @Test
    void badValuesAreRefusedBeforeAnythingHappens() throws Exception {
        String vm = running("");
        assertEquals(1, run("attach-disk", vm, "/img/a", "sdb"));
        assertEquals("xen-disk-java: cannot attach sdb to " + vm + ": invalid target=\"sdb\" on <disk>; use a Xen disk"
                + " name: xvdb, xvdc, ... (xvd and letters, no partition number)\n", err());
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb", "--driver-type", "qcow9"));
        assertEquals("xen-disk-java: unknown --driver-type 'qcow9': use cow, mmap, file, qcow2, nbd, rbd or discard\n", err());
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb", "--mode", "shareable"));
        assertTrue(err().contains("--mode shareable is not supported"), err());
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb", "--driver", "qemu"));
        assertTrue(err().contains("for driver qemu use virsh attach-disk"), err());
        assertEquals(1, run("attach-disk", vm, "-", "xvdb", "--driver-type", "file"));
        assertEquals("xen-disk-java: engine file needs an image: give its path as the source\n", err());
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb", "--driver-type", "discard"));
        assertEquals("xen-disk-java: engine discard serves no image: give - as the source\n", err());
        assertEquals(List.of(), daemon.requests);
        assertEquals(List.of(), disks(vm, Scope.LIVE));
    }

    @Test
    void aDaemonFailureLeavesTheMetadataAsItWas() throws Exception {
        String vm = running("");
        daemon.answering(r -> ControlResponse.error(ControlResponse.FAILED,
                "xen-disk-java: no running guest named '" + vm + "' (is it started?)\n"));
        assertEquals(1, run("attach-disk", vm, "/img/a", "xvdb"));
        assertEquals("xen-disk-java: the daemon could not attach xvdb to domain " + vm + ": no running guest named '"
                + vm + "' (is it started?)\n", err());
        assertEquals(List.of(), disks(vm, Scope.LIVE));
    }

    @Test
    void detachNamesLibvirtDisksAndUnknownOnes() throws Exception {
        String vm = running("");
        assertEquals(1, run("detach-disk", vm, "xvda"));
        assertEquals("xen-disk-java: xvda of domain " + vm + " is a libvirt disk, not a xen-disk-java one: use virsh"
                + " detach-disk " + vm + " xvda\n", err());
        assertEquals(1, run("detach-disk", vm, "xvdq", "--config"));
        assertEquals("xen-disk-java: domain " + vm + " has no xen-disk-java disk xvdq in its persistent config definition"
                + " (see: xen-disk-java domblklist " + vm + " --inactive)\n", err());
        assertEquals(List.of(), daemon.requests);
    }

    @Test
    void aDiskTheDaemonNoLongerServesIsStillForgotten() throws Exception {
        String vm = running("");
        assertEquals(0, run("attach-disk", vm, "/img/a", "xvdb"), err());
        daemon.answering(r -> r.verb().equals("connect") ? ControlResponse.ok("") : ControlResponse.error(
                ControlResponse.FAILED, "xen-disk-java: no disk xvdb of " + vm + " is served by this daemon (see 'xen-disk-java list')\n"));
        assertEquals(0, run("detach-disk", vm, "xvdb"), err());
        assertTrue(err().contains("note: the daemon was not serving xvdb of " + vm + "; removing it from the metadata"),
                err());
        assertEquals(List.of(), disks(vm, Scope.LIVE));

        // any other failure keeps the disk recorded: it may still be served
        assertEquals(0, run("attach-disk", vm, "/img/a", "xvdb"), err());
        daemon.answering(r -> r.verb().equals("connect") ? ControlResponse.ok("")
                : ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: interrupted\n"));
        assertEquals(1, run("detach-disk", vm, "xvdb"));
        assertEquals("xen-disk-java: the daemon could not detach xvdb from domain " + vm + ": interrupted\n", err());
        assertEquals(1, disks(vm, Scope.LIVE).size());
    }

    @Test
    void unknownDomainAndUnreachableLibvirtAreNamed() throws Exception {
        assertEquals(1, run("domblklist", "no-such-domain"));
        assertEquals("xen-disk-java: no domain 'no-such-domain' at test:///default (list them with: virsh -c"
                + " test:///default list --all)\n", err());
        err.reset();
        CliArgs a = CliArgs.parse(List.of("domblklist", "vm", "--connect", "test:///no/such/node.xml"));
        int rc = new LibvirtVerbs(Map.of(), daemon, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(a.verb(), a.args(), a.options());
        assertEquals(1, rc);
        assertTrue(err().startsWith("xen-disk-java: cannot connect to libvirt at test:///no/such/node.xml: "), err());
        assertTrue(err().contains("--connect URI or LIBVIRT_DEFAULT_URI"), err());
    }

    @Test
    void theUriComesFromConnectThenTheEnvironmentThenXen() {
        assertEquals("test:///a", LibvirtUri.resolve("test:///a", Map.of(LibvirtUri.ENV, "test:///b")));
        assertEquals("test:///b", LibvirtUri.resolve(null, Map.of(LibvirtUri.ENV, "test:///b")));
        assertEquals("xen:///system", LibvirtUri.resolve(null, Map.of()));
    }
}
