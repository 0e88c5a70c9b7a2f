package io.xendisk.e2e;

import io.xendisk.xml.MetadataDisks;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The distribution's hooks/libvirt-hook run as libvirtd runs it (GUEST OP
 * SUBOP -, the domain XML on stdin) against a simulated guest: a domain whose
 * metadata declares a disk hands it to the daemon at "start" (before the domain
 * exists), gets it when the domain is created, and loses it at "stopped";
 * a bad image aborts "prepare" with the message libvirt shows.
 */
class HookE2ETest {
    private static Dist dist;
    private static Dist.Guest guest;

    @BeforeAll
    static void guest() throws Exception {
        Dist.assertBuilt("hooks/libvirt-hook");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        guest = dist.guest("hookvm");
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist == null) {
            return;
        }
        try {
            dist.stopAll(List.of(guest));
        } finally {
            dist.close();
        }
    }

    /** What libvirt's libxl driver passes: the running domain's XML, its id the guest's domain id. */
    private static String domainXml(String name, int id, String disks) {
        return "<domain type='xen' id='" + id + "'>\n  <name>" + name + "</name>\n  <metadata>\n"
                + "    <xdj:disks xmlns:xdj='" + MetadataDisks.NAMESPACE + "'>\n" + disks + "    </xdj:disks>\n"
                + "  </metadata>\n  <devices/>\n</domain>\n";
    }

    /** Runs the hook with {@code launcher} as $XEN_DISK_JAVA. */
    private static Dist.Result hookWith(String launcher, String xml, String op, String subOp) throws Exception {
        return hookAs("hookvm", launcher, xml, op, subOp);
    }

    private static Dist.Result hookAs(String name, String launcher, String xml, String op, String subOp) throws Exception {
        return dist.exec(List.of(Dist.HOME.resolve("hooks/libvirt-hook").toString(), name, op, subOp, "-"),
                Map.of("XEN_DISK_JAVA", launcher), xml);
    }

    private static Dist.Result hook(String xml, String op, String subOp) throws Exception {
        return hookWith(Dist.HOME.resolve("bin/xen-disk-java").toString(), xml, op, subOp);
    }

    /**
     * As libvirt starts a domain: "prepare" and "start" run before the domain
     * exists, so the disk is handed to the daemon then, and connected the
     * moment the domain is created (a PV guest must find it at boot).
     */
    @Test
    void startHandsTheDiskOverItIsConnectedWhenTheDomainIsCreatedAndStoppedDetachesIt() throws Exception {
        Path image = Images.sparse(dist.dir.resolve("hook.img"), 8L << 20, null);
        String disk = "      <xdj:disk target='xvdb' source='" + image + "' engine='file'/>\n";
        String before = domainXml("hookvm2", -1, disk);
        Dist.Result prepare = hookAs("hookvm2", Dist.HOME.resolve("bin/xen-disk-java").toString(), before, "prepare", "begin");
        assertEquals(0, prepare.exit(), prepare.toString());
        Dist.Result start = hookAs("hookvm2", Dist.HOME.resolve("bin/xen-disk-java").toString(), before, "start", "begin");
        assertEquals(0, start.exit(), start.toString());
        assertEquals("", start.out(), "libvirt reads a hook's stdout as XML at some ops: it must stay empty");
        assertTrue(start.err().contains("xvdb will be connected when its domain is created"), start.toString());

        Dist.Guest late = dist.guest("hookvm2");
        try {
            dist.awaitConnected(late, "xvdb");
            assertNotNull(dist.listLine(late.vbd("xvdb")));
            Dist.Result io = dist.simRun(late, "xvdb", "verify", "--size", "1M", "--seed", "4");
            assertEquals(0, io.exit(), io.toString());

            String running = domainXml("hookvm2", late.domid(), disk);
            Dist.Result stopped = hookAs("hookvm2", Dist.HOME.resolve("bin/xen-disk-java").toString(), running, "stopped", "end");
            assertEquals(0, stopped.exit(), stopped.toString());
            assertNull(dist.listLine(late.vbd("xvdb")), "still served after stopped end");
            Images.assertPattern(image, 0, 1 << 20, 4);
            // release end comes after stopped end: nothing is left, which is fine
            Dist.Result release = hookAs("hookvm2", Dist.HOME.resolve("bin/xen-disk-java").toString(), running, "release", "end");
            assertEquals(0, release.exit(), release.toString());
        } finally {
            dist.cli("sim", "destroy", late.name());
        }
    }

    /**
     * libvirt's {@code <iotune>} inside one of our disks, and a CD-ROM drive as libvirt's
     * {@code device='cdrom'}: the daemon serves the disk with those limits and the ISO as a
     * read-only CD-ROM the guest reads.
     */
    @Test
    void iotuneAndACdromInTheMetadataAreServedSoAtStart() throws Exception {
        Path image = Images.sparse(dist.dir.resolve("hook-iotune.img"), 8L << 20, null);
        Path iso = Images.sparse(dist.dir.resolve("hook-tools.iso"), 4L << 20, null);
        Images.writePattern(iso, 0, 4 << 20, 62);
        String disk = "      <xdj:disk target='xvdb' source='" + image + "'><xdj:iotune>"
                + "<xdj:write_iops_sec>300</xdj:write_iops_sec></xdj:iotune></xdj:disk>\n"
                + "      <xdj:disk target='xvdc' source='" + iso + "' device='cdrom'/>\n";
        String launcher = Dist.HOME.resolve("bin/xen-disk-java").toString();
        Dist.Result start = hookAs("hookvm3", launcher, domainXml("hookvm3", -1, disk), "start", "begin");
        assertEquals(0, start.exit(), start.toString());
        Dist.Guest late = dist.guest("hookvm3");
        try {
            dist.awaitConnected(late, "xvdb");
            Dist.Result shown = dist.cli("blkdeviotune", "hookvm3", "xvdb");
            assertTrue(shown.out().contains("write_iops_sec             : 300\n"), shown.toString());
            dist.awaitConnected(late, "xvdc");
            assertEquals("cdrom", dist.xsRead(late.frontend("xvdc") + "/device-type"));
            assertEquals("r", dist.xsRead(late.backend("xvdc") + "/mode"));
            Dist.Result read = dist.simRun(late, "xvdc", "verify", "--read-only", "--size", "4M", "--seed", "62");
            assertEquals(0, read.exit(), read.toString());
            Dist.Result stopped = hookAs("hookvm3", launcher, domainXml("hookvm3", late.domid(), disk), "stopped", "end");
            assertEquals(0, stopped.exit(), stopped.toString());
        } finally {
            dist.cli("sim", "destroy", late.name());
        }
    }

    /** A start that fails after "start": libvirt runs "stopped" and "release", and the disk is not connected later. */
    @Test
    void aStartThatNeverHappensLeavesNothingWaiting() throws Exception {
        Path image = Images.sparse(dist.dir.resolve("never.img"), 8L << 20, null);
        String xml = domainXml("hookvm3", -1, "      <xdj:disk target='xvdb' source='" + image + "'/>\n");
        String launcher = Dist.HOME.resolve("bin/xen-disk-java").toString();
        assertEquals(0, hookAs("hookvm3", launcher, xml, "start", "begin").exit());
        assertEquals(0, hookAs("hookvm3", launcher, xml, "stopped", "end").exit());
        assertEquals(0, hookAs("hookvm3", launcher, xml, "release", "end").exit());
        Dist.Guest g = dist.guest("hookvm3");
        try {
            Thread.sleep(1000);
            assertNull(dist.listLine(g.vbd("xvdb")), "a cancelled start must not connect the disk to a later guest");
            assertTrue(!dist.xsExists(g.frontend("xvdb")));
        } finally {
            dist.cli("sim", "destroy", g.name());
        }
    }

    /** An NBD export in the metadata (no engine: the URI's scheme names it) is attached at start like an image. */
    @Test
    void anNbdExportInTheMetadataIsConnectedAtStartAndAServerDownAbortsTheStart() throws Exception {
        Path file = Images.sparse(dist.dir.resolve("hook-nbd.img"), 8L << 20, null);
        Path socket = dist.dir.resolve("hook-nbd.sock");
        String disk = "      <xdj:disk target='xvde' source='nbd+unix:///?socket=" + socket + "'/>\n";
        String launcher = Dist.HOME.resolve("bin/xen-disk-java").toString();
        String before = domainXml("hookvm6", -1, disk);
        try (Nbdkit server = Nbdkit.serve(socket, "file", file.toString())) {
            assertEquals(0, hookAs("hookvm6", launcher, before, "prepare", "begin").exit());
            Dist.Result start = hookAs("hookvm6", launcher, before, "start", "begin");
            assertEquals(0, start.exit(), start.toString());
            Dist.Guest late = dist.guest("hookvm6");
            try {
                dist.awaitConnected(late, "xvde");
                assertTrue(dist.listLine(late.vbd("xvde")).contains(" nbd:nbd+unix:///?socket=" + socket),
                        dist.listLine(late.vbd("xvde")));
                Dist.Result io = dist.simRun(late, "xvde", "verify", "--size", "1M", "--seed", "6");
                assertEquals(0, io.exit(), io.toString());
                Dist.Result stopped = hookAs("hookvm6", launcher, domainXml("hookvm6", late.domid(), disk), "stopped",
                        "end");
                assertEquals(0, stopped.exit(), stopped.toString());
            } finally {
                dist.cli("sim", "destroy", late.name());
            }
        }
        Images.assertPattern(file, 0, 1 << 20, 6);

        // the server is gone: the start fails naming the domain, the disk and the server
        Dist.Result start = hookAs("hookvm7", launcher, domainXml("hookvm7", -1, disk), "start", "begin");
        assertEquals(1, start.exit(), start.toString());
        assertTrue(start.err().contains("hookvm7") && start.err().contains("xvde")
                && start.err().contains("cannot connect to the NBD server of nbd+unix:///?socket=" + socket),
                start.toString());
    }

    /** An RBD image in the metadata is attached at start; one the cluster lacks aborts the start by name. */
    @Test
    void anRbdImageInTheMetadataIsConnectedAtStartAndAMissingOneAbortsTheStart() throws Exception {
        String name = Ceph.unique("hook");
        String target = Ceph.create(name, 8);
        String disk = "      <xdj:disk target='xvdf' source='" + target + "'/>\n";
        String launcher = Dist.HOME.resolve("bin/xen-disk-java").toString();
        String before = domainXml("hookvm8", -1, disk);
        assertEquals(0, hookAs("hookvm8", launcher, before, "prepare", "begin").exit());
        Dist.Result start = hookAs("hookvm8", launcher, before, "start", "begin");
        assertEquals(0, start.exit(), start.toString());
        Dist.Guest late = dist.guest("hookvm8");
        try {
            dist.awaitConnected(late, "xvdf");
            assertTrue(dist.listLine(late.vbd("xvdf")).contains(" " + target + " "), dist.listLine(late.vbd("xvdf")));
            Dist.Result io = dist.simRun(late, "xvdf", "verify", "--size", "1M", "--seed", "8");
            assertEquals(0, io.exit(), io.toString());
            Dist.Result stopped = hookAs("hookvm8", launcher, domainXml("hookvm8", late.domid(), disk), "stopped", "end");
            assertEquals(0, stopped.exit(), stopped.toString());
        } finally {
            dist.cli("sim", "destroy", late.name());
        }
        Images.assertPattern(Ceph.export(name, dist.dir.resolve("hook-rbd.img")), 0, 1 << 20, 8);

        String missing = Ceph.target(Ceph.unique("missing"));
        String xml = domainXml("hookvm9", -1, "      <xdj:disk target='xvdf' source='" + missing + "'/>\n");
        Dist.Result refused = hookAs("hookvm9", launcher, xml, "start", "begin");
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("hookvm9") && refused.err().contains("xvdf")
                && refused.err().contains(": no such image (rbd ls rbd lists"), refused.toString());
    }

    @Test
    void aMissingImageAbortsTheStartWithTheDomainTheDiskAndTheFix() throws Exception {
        String xml = domainXml("hookvm", guest.domid(), "      <xdj:disk target='xvdc' source='/x/missing.img'/>\n");
        Dist.Result prepare = hook(xml, "prepare", "begin");
        assertEquals(1, prepare.exit(), prepare.toString());
        assertEquals("xen-disk-java: domain hookvm disk xvdc: image /x/missing.img not found (fix the source in the"
                + " domain's metadata: virsh metadata hookvm --uri " + MetadataDisks.NAMESPACE
                + " --config --edit, or virsh edit hookvm)\n", prepare.err());
        assertNull(dist.listLine(guest.vbd("xvdc")));
    }

    @Test
    void domainsWithoutOurDisksNeverNeedTheLauncher() throws Exception {
        String plain = "<domain type='xen' id='9'><name>other</name><devices/></domain>";
        for (String[] op : new String[][] {{"prepare", "begin"}, {"start", "begin"}, {"stopped", "end"}}) {
            Dist.Result r = hookWith("/nonexistent/xen-disk-java", plain, op[0], op[1]);
            assertEquals(0, r.exit(), r.toString());
            assertEquals("", r.out() + r.err());
        }
        String ours = domainXml("hookvm", guest.domid(), "      <xdj:disk target='xvdd' engine='discard'/>\n");
        Dist.Result missing = hookWith("/nonexistent/xen-disk-java", ours, "prepare", "begin");
        assertEquals(1, missing.exit(), missing.toString());
        assertTrue(missing.err().startsWith("xen-disk-java: domain hookvm declares xen-disk-java disks, but the launcher"
                + " /nonexistent/xen-disk-java is missing"), missing.err());
    }
}
