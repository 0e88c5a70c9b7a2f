package io.xendisk.e2e;

import io.xendisk.cli.Main;
import io.xendisk.xml.DomainXml;
import io.xendisk.xml.Engine;
import io.xendisk.xml.MetadataDisk;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.Domain;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * attach-disk/detach-disk --live for real: libvirt's test driver (in this
 * JVM) knows a running domain named like a simulated guest, and the CLI (run
 * in this JVM too, so it shares the test driver's state) reaches the
 * distribution's daemon, which serves the disk to the guest. The guest's I/O
 * and the image's bytes show the disk was really there.
 */
class LibvirtE2ETest {
    private static final String TEST_URI = "test:///default";
    private static Dist dist;
    private static Dist.Guest guest;
    private static Connect libvirt;
    private static Domain domain;

    @BeforeAll
    static void guestAndDomain() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        guest = dist.guest("lvguest");
        // held open for the whole class: test:///default lives while a connection to it does
        libvirt = new Connect(TEST_URI, false);
        domain = libvirt.domainDefineXML("<domain type='xen'><name>lvguest</name><memory unit='KiB'>65536</memory>"
                + "<os><type>xen</type></os><devices/></domain>");
        domain.create();
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (domain != null) {
                domain.destroy();
                domain.undefine();
            }
            if (libvirt != null) {
                libvirt.close();
            }
            if (dist != null) {
                dist.stopAll(List.of(guest));
            }
        } finally {
            if (dist != null) {
                dist.close();
            }
        }
    }

    private record Run(int exit, String out, String err) {
    }

    /** The CLI in this JVM, with the distribution's run and log directories. */
    private static Run cli(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = new Main(Map.of("XEN_DISK_JAVA_RUNDIR", dist.runDir.toString(), "XEN_DISK_JAVA_LOGDIR",
                dist.logDir.toString(), "XEN_DISK_JAVA_CONFIG", dist.noConfig().toString(), "LIBVIRT_DEFAULT_URI", TEST_URI),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(argv);
        return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static List<MetadataDisk> liveDisks() throws Exception {
        return DomainXml.parse(domain.getXMLDesc(0), "live").disks();
    }

    @Test
    void liveAttachServesTheImageToTheGuestAndDetachUnplugsIt() throws Exception {
        Path image = Images.sparse(dist.dir.resolve("live.img"), 16L << 20, null);
        Run attach = cli("attach-disk", "lvguest", image.toString(), "xvdb", "--driver-type", "mmap");
        assertEquals(0, attach.exit(), attach.toString());
        assertTrue(attach.out().contains("to domain " + guest.domid() + " as xvdb (vbd " + guest.vbd("xvdb")), attach.out());
        assertTrue(attach.out().endsWith("Disk attached successfully: xvdb (mmap " + image + ") to domain lvguest (live)\n"),
                attach.out());
        dist.awaitConnected(guest, "xvdb");
        assertEquals(List.of(new MetadataDisk("xvdb", image.toString(), Engine.MMAP, false)), liveDisks());

        Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "1M", "--size", "2M", "--seed", "5");
        assertEquals(0, verify.exit(), verify.toString());
        Run list = cli("domblklist", "lvguest");
        assertEquals(0, list.exit(), list.toString());
        assertTrue(list.out().contains(" xvdb     " + image + "   mmap     readwrite\n"), list.out());

        Run detach = cli("detach-disk", "lvguest", "xvdb");
        assertEquals(0, detach.exit(), detach.toString());
        assertTrue(detach.out().endsWith("Disk detached successfully: xvdb from domain lvguest (live)\n"), detach.out());
        assertNull(dist.listLine(guest.vbd("xvdb")), "the daemon still serves it");
        assertTrue(!dist.xsExists(guest.backend("xvdb")), "backend directory left behind");
        assertEquals(List.of(), liveDisks());
        Images.assertPattern(image, 1 << 20, 2 << 20, 5);
    }

    @Test
    void theDaemonsRefusalReachesTheUserAndNothingIsRecorded() throws Exception {
        Run attach = cli("attach-disk", "lvguest", dist.dir.resolve("missing.img").toString(), "xvdc");
        assertEquals(1, attach.exit(), attach.toString());
        assertTrue(attach.err().startsWith("xen-disk-java: the daemon could not attach xvdc to domain lvguest: "),
                attach.err());
        assertTrue(attach.err().contains("missing.img"), attach.err());
        assertNull(dist.listLine(guest.vbd("xvdc")));
        assertEquals(List.of(), liveDisks());
    }

    @Test
    void persistentAttachRecordsTheDiskForTheNextStartToo() throws Exception {
        Path gold = Images.sparse(dist.dir.resolve("gold.img"), 8L << 20, "GOLD");
        String sha = Images.sha256(gold);
        Run attach = cli("attach-disk", "lvguest", gold.toString(), "xvdd", "--driver-type", "cow", "--persistent");
        assertEquals(0, attach.exit(), attach.toString());
        dist.awaitConnected(guest, "xvdd");
        MetadataDisk disk = new MetadataDisk("xvdd", gold.toString(), Engine.COW, false);
        assertEquals(List.of(disk), liveDisks());
        assertEquals(List.of(disk), DomainXml.parse(domain.getXMLDesc(Domain.XMLFlags.INACTIVE), "config").disks());
        assertNotNull(dist.listLine(guest.vbd("xvdd")));
        Dist.Result write = dist.simRun(guest, "xvdd", "verify", "--size", "1M", "--seed", "9");
        assertEquals(0, write.exit(), write.toString());

        Run detach = cli("detach-disk", "lvguest", "xvdd", "--persistent");
        assertEquals(0, detach.exit(), detach.toString());
        assertNull(dist.listLine(guest.vbd("xvdd")));
        assertEquals(List.of(), DomainXml.parse(domain.getXMLDesc(Domain.XMLFlags.INACTIVE), "config").disks());
        assertEquals(sha, Images.sha256(gold), "cow changed the gold image");
    }

    @Test
    void aQcow2OverlayIsRecordedWithItsEngineAndKeepsTheWrites() throws Exception {
        Path gold = Images.sparse(dist.dir.resolve("lv-gold.img"), 8L << 20, "GOLD");
        String sha = Images.sha256(gold);
        Path overlay = dist.dir.resolve("lv-overlay.qcow2");
        Tools.qemuImg(dist, "create", "-q", "-f", "qcow2", "-b", "lv-gold.img", "-F", "raw", overlay.toString());
        Run attach = cli("attach-disk", "lvguest", overlay.toString(), "xvde", "--driver-type", "qcow2");
        assertEquals(0, attach.exit(), attach.toString());
        dist.awaitConnected(guest, "xvde");
        assertEquals(List.of(new MetadataDisk("xvde", overlay.toString(), Engine.QCOW2, false)), liveDisks());
        Dist.Result write = dist.simRun(guest, "xvde", "verify", "--offset", "1M", "--size", "2M", "--seed", "17");
        assertEquals(0, write.exit(), write.toString());

        Run detach = cli("detach-disk", "lvguest", "xvde");
        assertEquals(0, detach.exit(), detach.toString());
        assertEquals(0, Tools.qemuImg(dist, "check", overlay.toString()).exit(), "qemu-img check calls it clean");
        Path flat = dist.dir.resolve("lv-overlay.raw");
        Tools.qemuImg(dist, "convert", "-q", "-O", "raw", overlay.toString(), flat.toString());
        Images.assertPattern(flat, 1 << 20, 2 << 20, 17);
        assertEquals(sha, Images.sha256(gold), "the overlay's gold image changed");
    }

    @Test
    void anNbdExportIsAttachedByUriAndRecordedWithItsEngine() throws Exception {
        Path file = Images.sparse(dist.dir.resolve("lv-nbd.img"), 8L << 20, null);
        try (Nbdkit server = Nbdkit.serve(dist.dir.resolve("lv-nbd.sock"), "file", file.toString())) {
            Run attach = cli("attach-disk", "lvguest", server.uri(), "xvdf", "--driver-type", "nbd");
            assertEquals(0, attach.exit(), attach.toString());
            dist.awaitConnected(guest, "xvdf");
            assertEquals(List.of(new MetadataDisk("xvdf", server.uri(), Engine.NBD, false)), liveDisks());
            Dist.Result write = dist.simRun(guest, "xvdf", "verify", "--offset", "1M", "--size", "2M", "--seed", "19");
            assertEquals(0, write.exit(), write.toString());
            Run detach = cli("detach-disk", "lvguest", "xvdf");
            assertEquals(0, detach.exit(), detach.toString());
        }
        Images.assertPattern(file, 1 << 20, 2 << 20, 19);

        // the server is gone now: the daemon's refusal reaches the user and nothing is recorded
        Run refused = cli("attach-disk", "lvguest", "nbd+unix:///?socket=" + dist.dir.resolve("lv-nbd.sock"), "xvdf");
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("cannot connect to the NBD server"), refused.err());
        assertEquals(List.of(), liveDisks());
    }

    @Test
    void anRbdImageIsAttachedByItsNameAndRecordedWithItsEngine() throws Exception {
        String name = Ceph.unique("lv");
        String target = Ceph.create(name, 8);
        Run attach = cli("attach-disk", "lvguest", target, "xvdg");
        assertEquals(0, attach.exit(), attach.toString());
        dist.awaitConnected(guest, "xvdg");
        // no --driver-type: the rbd: prefix names the engine, and the metadata records it
        assertEquals(List.of(new MetadataDisk("xvdg", target, Engine.RBD, false)), liveDisks());
        Dist.Result write = dist.simRun(guest, "xvdg", "verify", "--offset", "1M", "--size", "2M", "--seed", "23");
        assertEquals(0, write.exit(), write.toString());
        Run detach = cli("detach-disk", "lvguest", "xvdg");
        assertEquals(0, detach.exit(), detach.toString());
        Images.assertPattern(Ceph.export(name, dist.dir.resolve("lv-rbd.img")), 1 << 20, 2 << 20, 23);

        // an image the cluster does not have: the daemon's refusal reaches the user and nothing is recorded
        Run refused = cli("attach-disk", "lvguest", Ceph.target(Ceph.unique("missing")), "xvdg");
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains(": no such image (rbd ls rbd lists the pool's images"), refused.err());
        assertEquals(List.of(), liveDisks());
    }
}
