package io.xendisk.cli.hook;

import io.xendisk.api.ControlResponse;
import io.xendisk.cli.FakeDaemon;
import io.xendisk.xml.MetadataDisks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The libvirt hook given a domain XML on stdin, as libvirtd runs it: exit status, stderr, daemon requests. */
class LibvirtHookTest {
    private static final String NS = MetadataDisks.NAMESPACE;

    @TempDir
    Path dir;
    private final FakeDaemon daemon = new FakeDaemon();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    /** A libxl domain XML as a hook receives it; {@code id} -1 leaves the attribute out. */
    private static String domain(int id, String disks) {
        return "<domain type='xen'" + (id >= 0 ? " id='" + id + "'" : "") + ">\n"   // 1
                + "  <name>vm1</name>\n"                                              // 2
                + "  <metadata>\n"                                                    // 3
                + "    <xdj:disks xmlns:xdj='" + NS + "'>\n"                          // 4
                + disks                                                               // 5..
                + "    </xdj:disks>\n"
                + "  </metadata>\n"
                + "  <devices>\n"
                + "    <disk type='file' device='disk'><source file='/r.img'/><target dev='xvda' bus='xen'/></disk>\n"
                + "  </devices>\n"
                + "</domain>\n";
    }

    private int hook(String op, String subOp, String xml) {
        err.reset();
        return new LibvirtHook(daemon, new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(List.of("vm1", op, subOp, "-"), new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private Path image(String name) throws Exception {
        return Files.write(dir.resolve(name), new byte[4096]);
    }

    @Test
    void prepareWithAMissingImageAbortsTheStartNamingDomainDiskAndFix() throws Exception {
        Path good = image("good.img");
        String xml = domain(-1, "      <xdj:disk target='xvdb' source='" + good + "' engine='cow'/>\n"
                + "      <xdj:disk target='xvdc' source='/x/missing.img'/>\n");
        assertEquals(1, hook("prepare", "begin", xml));
        assertEquals("xen-disk-java: domain vm1 disk xvdc: image /x/missing.img not found (fix the source in the"
                + " domain's metadata: virsh metadata vm1 --uri " + NS + " --config --edit, or virsh edit vm1)\n", err());
        assertEquals(List.of(), daemon.requests, "prepare never needs the daemon");
    }

    @Test
    void prepareAcceptsUsableImagesSilently() throws Exception {
        String xml = domain(-1, "      <xdj:disk target='xvdb' source='" + image("a.img") + "' engine='mmap'/>\n"
                + "      <xdj:disk target='xvdc' engine='discard'/>\n");
        assertEquals(0, hook("prepare", "begin", xml));
        assertEquals("", err());
        assertEquals(List.of(), daemon.requests);
    }

    @Test
    void aDirectoryOrALibvirtTargetIsRefused() throws Exception {
        String xml = domain(-1, "      <xdj:disk target='xvda' source='" + image("a.img") + "'/>\n"
                + "      <xdj:disk target='xvdc' source='" + dir + "'/>\n");
        assertEquals(1, hook("prepare", "begin", xml));
        assertTrue(err().contains("xen-disk-java: domain vm1 disk xvda: the domain also has a libvirt <disk> xvda"), err());
        assertTrue(err().contains("xen-disk-java: domain vm1 disk xvdc: image " + dir + " is a directory"), err());
    }

    @Test
    void invalidMetadataAbortsTheStartWithTheLineInTheDomainXml() {
        String xml = domain(-1, "      <xdj:disk target='xvdb' source='/a' engine='qcow9'/>\n");
        assertEquals(1, hook("prepare", "begin", xml));
        assertTrue(err().startsWith("xen-disk-java: domain vm1: invalid xen-disk-java metadata (fix it: virsh edit vm1):\n"
                + "domain vm1 XML:5:"), err());
        assertTrue(err().contains("invalid engine=\"qcow9\" on <disk>"), err());
        // at stop there is nothing to abort: the same XML is reported but not an error
        assertEquals(0, hook("stopped", "end", xml));
    }

    @Test
    void startHandsEveryDiskToTheDaemonToConnectWhenTheDomainIsCreated() throws Exception {
        Path a = image("a.img");
        String xml = domain(7, "      <xdj:disk target='xvdb' source='" + a + "' engine='cow' readonly='true'/>\n"
                + "      <xdj:disk target='xvdc' engine='discard'/>\n");
        assertEquals(0, hook("start", "begin", xml));
        assertEquals(List.of("connect vm1 at-start=600 no-wait=true path=" + a + " readonly=true storage=cow vdev=xvdb",
                "connect vm1 at-start=600 no-wait=true storage=discard vdev=xvdc"), daemon.summary());
    }

    @Test
    void aFailedAttachUndoesTheDisksAttachedBeforeItAndAbortsTheStart() throws Exception {
        Path a = image("a.img");
        Path b = image("b.img");
        daemon.answering(r -> r.verb().equals("connect") && r.options().get("vdev").equals("xvdc")
                ? ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: vbd 7/51744: image is locked\n")
                : ControlResponse.ok(""));
        String xml = domain(7, "      <xdj:disk target='xvdb' source='" + a + "'/>\n"
                + "      <xdj:disk target='xvdc' source='" + b + "'/>\n");
        assertEquals(1, hook("start", "begin", xml));
        assertEquals("xen-disk-java: domain vm1 disk xvdc: cannot attach it: vbd 7/51744: image is locked\n", err());
        assertEquals(List.of("connect vm1 at-start=600 no-wait=true path=" + a + " storage=file vdev=xvdb",
                "connect vm1 at-start=600 no-wait=true path=" + b + " storage=file vdev=xvdc",
                "disconnect vm1 xvdb"), daemon.summary());
    }

    @Test
    void startChecksFirstAndAttachesNothingOnAProblem() {
        String xml = domain(7, "      <xdj:disk target='xvdb' source='/x/missing.img'/>\n");
        assertEquals(1, hook("start", "begin", xml));
        assertTrue(err().contains("image /x/missing.img not found"), err());
        assertEquals(List.of(), daemon.requests);
    }

    @Test
    void stoppedDetachesByDomainIdAndToleratesWhatIsAlreadyGone() {
        daemon.answering(r -> r.args().get(1).equals("xvdb")
                ? ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: no disk xvdb of 7 is served by this daemon\n")
                : ControlResponse.error(ControlResponse.FAILED, "xen-disk-java: interrupted\n"));
        String xml = domain(7, "      <xdj:disk target='xvdb' source='/a'/>\n      <xdj:disk target='xvdc' source='/b'/>\n");
        assertEquals(0, hook("stopped", "end", xml));
        assertEquals(List.of("disconnect 7 xvdb", "disconnect 7 xvdc"), daemon.summary());
        assertEquals("xen-disk-java: domain 7 disk xvdc: interrupted\n", err(), "only the real failure is reported");
    }

    @Test
    void releaseWithoutAnIdDetachesByNameAndNeedsNoDaemon() {
        String xml = domain(-1, "      <xdj:disk target='xvdb' source='/a'/>\n");
        assertEquals(0, hook("release", "end", xml));
        assertEquals(List.of("disconnect vm1 xvdb"), daemon.summary());
        FakeDaemon none = new FakeDaemon().notRunning();
        int rc = new LibvirtHook(none, new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(List.of("vm1", "release", "end", "-"), new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
        assertEquals(0, rc);
        assertEquals(List.of(), none.requests, "no daemon is started just to detach");
    }

    @Test
    void otherOpsAndDomainsWithoutOurDisksDoNothing() throws Exception {
        String xml = domain(7, "      <xdj:disk target='xvdb' source='/x/missing.img'/>\n");
        for (String[] op : new String[][] {{"started", "begin"}, {"migrate", "begin"}, {"reconnect", "begin"},
                {"prepare", "end"}}) {
            assertEquals(0, hook(op[0], op[1], xml), op[0] + " " + op[1]);
        }
        String plain = "<domain type='xen' id='3'><name>vm1</name><devices/></domain>";
        assertEquals(0, hook("prepare", "begin", plain));
        assertEquals(0, hook("start", "begin", plain));
        assertEquals(List.of(), daemon.requests);
        assertEquals("", err());
    }
}
