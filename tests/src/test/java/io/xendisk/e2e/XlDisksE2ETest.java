package io.xendisk.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.xendisk.blkif.Vdev;
import io.xendisk.xen.sim.domain.GrantEntries;
import io.xendisk.xen.sim.domain.GuestControl;
import io.xendisk.xen.sim.domain.SimPaths;
import io.xendisk.xen.store.XenStoreClient;
import io.xendisk.xen.store.XsPerm;

/**
 * Disks that xl hands to us ({@code script=xen-disk-java}), on the simulated
 * platform: this test plays libxl (it writes the {@code backend/vbd} and
 * frontend directories as libxl__device_generic_add does, waits for InitWait,
 * runs the real hotplug script with libxl's environment and Debian's
 * xenstore tools, detaches with online=0 + Closing and waits for Closed);
 * the daemon adopts the disk, a simulated guest uses it. Also what a
 * restarted daemon does with the disks it served.
 */
class XlDisksE2ETest {
    private static final Path SCRIPT = Dist.HOME.resolve("hooks/xen-disk-java");
    private static Dist dist;
    private static Dist.Guest guest;
    private static XenStoreClient xs;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("hooks/xen-disk-java");
        Tools.requireXenstoreUtils();
        dist = new Dist();
        guest = dist.guest("xlguest", "--memory-mib", "48");
        xs = XenStoreClient.connect(dist.runDir.resolve("sim/socket"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist == null) {
            return;
        }
        try {
            if (xs != null) {
                xs.close();
            }
            dist.stopAll(List.of(guest));
        } finally {
            dist.close();
        }
    }

    private static String be(String vdev) {
        return "/local/domain/0/backend/vbd/" + guest.domid() + "/" + Vdev.devid(vdev);
    }

    /** libxl__device_generic_add for a disk with our script: both directories, permissioned, in one transaction. */
    private static void libxlAdd(String vdev, String target, boolean readOnly) {
        libxlAdd(vdev, target, readOnly, "disk");
    }

    /** The same with xl's devtype (disk or cdrom), which libxl writes as device-type at both ends. */
    private static void libxlAdd(String vdev, String target, boolean readOnly, String deviceType) {
        String be = be(vdev);
        String fe = guest.frontend(vdev);
        int d = guest.domid();
        xs.transaction(t -> {
            t.mkdir(fe);
            t.setPermissions(fe, List.of(new XsPerm(d, XsPerm.Access.NONE), new XsPerm(0, XsPerm.Access.READ)));
            t.write(fe + "/backend", be);
            t.write(fe + "/backend-id", "0");
            t.write(fe + "/virtual-device", Integer.toString(Vdev.devid(vdev)));
            t.write(fe + "/device-type", deviceType);
            t.write(fe + "/state", "1");
            t.mkdir(be);
            t.setPermissions(be, List.of(new XsPerm(0, XsPerm.Access.NONE), new XsPerm(d, XsPerm.Access.READ)));
            Map<String, String> nodes = Map.ofEntries(Map.entry("frontend", fe), Map.entry("frontend-id", Integer.toString(d)),
                    Map.entry("online", "1"), Map.entry("state", "1"), Map.entry("params", target),
                    Map.entry("script", "/etc/xen/scripts/xen-disk-java"), Map.entry("mode", readOnly ? "r" : "w"),
                    Map.entry("type", "phy"), Map.entry("removable", "0"), Map.entry("bootable", "1"),
                    Map.entry("dev", vdev), Map.entry("device-type", deviceType), Map.entry("discard-enable", "1"),
                    Map.entry("specification", "xen"));
            nodes.forEach((k, v) -> t.write(be + "/" + k, v));
            return null;
        });
    }

    /** What libxl does after writing the nodes: wait (10 s) for InitWait, then run the script with "add". */
    private static Dist.Result libxlHotplug(String vdev, String action) throws Exception {
        if (action.equals("add")) {
            try {
                pollState(be(vdev), "2");
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; daemon log:\n" + dist.daemonLog(), e);
            }
        }
        return dist.exec(List.of(SCRIPT.toString(), action), Map.of(
                "XENBUS_PATH", "backend/vbd/" + guest.domid() + "/" + Vdev.devid(vdev),
                "XENBUS_TYPE", "vbd", "XENBUS_BASE_PATH", "backend", "script", "/etc/xen/scripts/xen-disk-java",
                "XENSTORED_PATH", dist.runDir.resolve("sim/socket").toString(),
                "XEN_DISK_JAVA", Dist.HOME.resolve("bin/xen-disk-java").toString()));
    }

    /** libxl__initiate_device_generic_remove: online=0 and Closing, wait for Closed, script remove, rm both. */
    private static void libxlRemove(String vdev) throws Exception {
        String be = be(vdev);
        xs.transaction(t -> {
            t.write(be + "/online", "0");
            t.write(be + "/state", "5");
            return null;
        });
        try {
            pollState(be, "6");
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; daemon log:\n" + dist.daemonLog(), e);
        }
        Dist.Result r = libxlHotplug(vdev, "remove");
        assertEquals(0, r.exit(), r.toString());
        xs.transaction(t -> {
            t.rm(guest.frontend(vdev));
            t.rm(be);
            return null;
        });
    }

    private static void pollState(String dir, String state) throws Exception {
        Dist.poll(() -> state.equals(xs.tryRead(dir + "/state").orElse("")), dir + "/state = " + state);
    }

    @Test
    void xlDiskIsServedUsedAndDetached() throws Exception {
        Path img = Images.sparse(dist.dir.resolve("xl-mmap.img"), 16L << 20, "XL-MARKER");
        libxlAdd("xvdb", "mmap:" + img, false);
        pollState(be("xvdb"), "2");
        pollState(guest.frontend("xvdb"), "3");
        Thread.sleep(500);
        assertEquals("2", xs.read(be("xvdb") + "/state"),
                "as with kernel blkback, no Connected before the hotplug script ran (libxl runs it on InitWait)");
        Dist.Result add = libxlHotplug("xvdb", "add");
        assertEquals(0, add.exit(), add + dist.daemonLog());
        assertEquals("connected", xs.read(be("xvdb") + "/hotplug-status"), "the script says the device is set up");
        assertEquals("ready", xs.read(be("xvdb") + "/xen-disk-java-status"));
        Dist.poll(() -> "4".equals(xs.tryRead(be("xvdb") + "/state").orElse(""))
                && "4".equals(xs.tryRead(guest.frontend("xvdb") + "/state").orElse("")), "xvdb connected");
        assertEquals("256", xs.read(be("xvdb") + "/feature-max-indirect-segments"));
        String line = dist.listLine(guest.vbd("xvdb"));
        assertNotNull(line, "list shows the xl disk");
        assertTrue(line.contains(" Connected mmap:" + img), line);

        Dist.Result v = dist.simRun(guest, "xvdb", "verify", "--offset", "1M", "--size", "8M", "--seed", "41");
        assertEquals(0, v.exit(), v.toString());
        Dist.Result m = dist.simRun(guest, "xvdb", "read-at", "0", "1");
        assertTrue(m.out().contains("XL-MARKER"), m.toString());
        Images.assertPattern(img, 1 << 20, 8 << 20, 41);

        libxlRemove("xvdb");
        Dist.poll(() -> dist.listLine(guest.vbd("xvdb")) == null, "the detached disk leaves the list");
        Images.assertPattern(img, 1 << 20, 8 << 20, 41);
    }

    @Test
    void anXlCdromIsAReadOnlyCdromDrive() throws Exception {
        Path iso = Images.sparse(dist.dir.resolve("xl.iso"), 4L << 20, null);
        Images.writePattern(iso, 0, 4 << 20, 44);
        String sum = Images.sha256(iso);
        libxlAdd("xvdg", iso.toString(), true, "cdrom");
        Dist.Result add = libxlHotplug("xvdg", "add");
        assertEquals(0, add.exit(), add + dist.daemonLog());
        Dist.poll(() -> "4".equals(xs.tryRead(guest.frontend("xvdg") + "/state").orElse("")), "xvdg connected");
        assertEquals("7", xs.read(be("xvdg") + "/info"), "VDISK_CDROM | VDISK_REMOVABLE | VDISK_READONLY");
        Dist.Result v = dist.simRun(guest, "xvdg", "verify", "--read-only", "--size", "4M", "--seed", "44");
        assertEquals(0, v.exit(), v.toString());
        libxlRemove("xvdg");
        Dist.poll(() -> dist.listLine(guest.vbd("xvdg")) == null, "the detached disk leaves the list");
        assertEquals(sum, Images.sha256(iso));
    }

    @Test
    void anXlQcow2OverlayIsServedAndStaysClean() throws Exception {
        Path gold = Images.sparse(dist.dir.resolve("xl-gold.img"), 16L << 20, "XL-GOLD");
        String goldSum = Images.sha256(gold);
        Path overlay = dist.dir.resolve("xl-overlay.qcow2");
        Tools.qemuImg(dist, "create", "-q", "-f", "qcow2", "-b", gold.toString(), "-F", "raw", overlay.toString());
        libxlAdd("xvdf", "qcow2:" + overlay, false);
        Dist.Result add = libxlHotplug("xvdf", "add");
        assertEquals(0, add.exit(), add + dist.daemonLog());
        Dist.poll(() -> "4".equals(xs.tryRead(guest.frontend("xvdf") + "/state").orElse("")), "xvdf connected");
        assertTrue(dist.listLine(guest.vbd("xvdf")).contains(" Connected qcow2:" + overlay));
        assertTrue(dist.simRun(guest, "xvdf", "read-at", "0", "1").out().contains("XL-GOLD"));
        Dist.Result v = dist.simRun(guest, "xvdf", "verify", "--offset", "2M", "--size", "4M", "--seed", "43");
        assertEquals(0, v.exit(), v.toString());
        libxlRemove("xvdf");
        Dist.poll(() -> dist.listLine(guest.vbd("xvdf")) == null, "the detached disk leaves the list");
        Dist.Result check = Tools.qemuImg(dist, "check", overlay.toString());
        assertEquals(0, check.exit(), check.toString());
        Path flat = dist.dir.resolve("xl-overlay.raw");
        Tools.qemuImg(dist, "convert", "-q", "-O", "raw", overlay.toString(), flat.toString());
        Images.assertPattern(flat, 2 << 20, 4 << 20, 43);
        assertEquals(goldSum, Images.sha256(gold), "the gold image is byte-identical");
    }

    @Test
    void anXlTargetNbdUriIsServedFromTheServer() throws Exception {
        Path file = Images.sparse(dist.dir.resolve("xl-nbd.img"), 16L << 20, "XL-NBD");
        try (Nbdkit server = Nbdkit.serve(dist.dir.resolve("xl-nbd.sock"), "file", file.toString())) {
            // xl takes the rest of the disk spec after target= as it is, '?' and '=' included
            libxlAdd("xvdh", server.uri(), false);
            Dist.Result add = libxlHotplug("xvdh", "add");
            assertEquals(0, add.exit(), add + dist.daemonLog());
            Dist.poll(() -> "4".equals(xs.tryRead(guest.frontend("xvdh") + "/state").orElse("")), "xvdh connected");
            assertTrue(dist.listLine(guest.vbd("xvdh")).contains(" Connected nbd:" + server.uri()),
                    dist.listLine(guest.vbd("xvdh")));
            assertTrue(dist.simRun(guest, "xvdh", "read-at", "0", "1").out().contains("XL-NBD"));
            Dist.Result v = dist.simRun(guest, "xvdh", "verify", "--offset", "1M", "--size", "4M", "--seed", "47");
            assertEquals(0, v.exit(), v.toString());
            libxlRemove("xvdh");
            Dist.poll(() -> dist.listLine(guest.vbd("xvdh")) == null, "the detached disk leaves the list");
        }
        Images.assertPattern(file, 1 << 20, 4 << 20, 47);

        // no server: the script fails with the reason, as xl prints it
        Path none = dist.dir.resolve("no-server.sock");
        libxlAdd("xvdi", "nbd+unix:///?socket=" + none, false);
        Dist.Result refused = libxlHotplug("xvdi", "add");
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("cannot connect to the NBD server of nbd+unix:///?socket=" + none),
                refused.toString());
        assertTrue(xs.read(be("xvdi") + "/hotplug-error").contains("is the server running and listening there?"));
        libxlRemove("xvdi");
    }

    @Test
    void anXlTargetRbdImageIsServedFromTheCluster() throws Exception {
        String name = Ceph.unique("xl");
        String target = Ceph.create(name, 16);
        // as QEMU's rbd: form, options after ':' (xl passes ':' and '=' through)
        libxlAdd("xvdj", target, false);
        Dist.Result add = libxlHotplug("xvdj", "add");
        assertEquals(0, add.exit(), add + dist.daemonLog());
        Dist.poll(() -> "4".equals(xs.tryRead(guest.frontend("xvdj") + "/state").orElse("")), "xvdj connected");
        assertTrue(dist.listLine(guest.vbd("xvdj")).contains(" Connected " + target + " "),
                dist.listLine(guest.vbd("xvdj")));
        Dist.Result v = dist.simRun(guest, "xvdj", "verify", "--offset", "2M", "--size", "4M", "--seed", "53");
        assertEquals(0, v.exit(), v.toString());
        libxlRemove("xvdj");
        Dist.poll(() -> dist.listLine(guest.vbd("xvdj")) == null, "the detached disk leaves the list");
        Images.assertPattern(Ceph.export(name, dist.dir.resolve("xl-rbd.img")), 2 << 20, 4 << 20, 53);

        // an image the cluster does not have: the script fails with the reason, as xl prints it
        libxlAdd("xvdk", Ceph.target(Ceph.unique("missing")), false);
        Dist.Result refused = libxlHotplug("xvdk", "add");
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains(": no such image (rbd ls rbd lists the pool's images"), refused.toString());
        libxlRemove("xvdk");
    }

    /** I/O limits before the target, where xl passes them on untouched; live changes kept for a restarted daemon. */
    @Test
    void limitsInAnXlTargetApplyAndBadOnesFailTheHotplug() throws Exception {
        Path img = Images.sparse(dist.dir.resolve("xl-limited.img"), 16L << 20, null);
        libxlAdd("xvdm", "[read_iops_sec=100,write_bytes_sec=2097152]file:" + img, false);
        Dist.Result add = libxlHotplug("xvdm", "add");
        assertEquals(0, add.exit(), add + dist.daemonLog());
        Dist.poll(() -> "4".equals(xs.tryRead(be("xvdm") + "/state").orElse("")), "xvdm connected");
        String line = dist.listLine(guest.vbd("xvdm"));
        assertTrue(line != null && line.contains(" Connected file:" + img + " "), String.valueOf(line));
        Dist.Result shown = dist.cli("blkdeviotune", guest.name(), "xvdm");
        assertTrue(shown.out().contains("read_iops_sec              : 100\n")
                && shown.out().contains("write_bytes_sec            : 2097152\n"), shown.toString());
        assertEquals("write_bytes_sec=2097152,read_iops_sec=100", xs.read(be("xvdm") + "/xen-disk-java-iotune"));
        Dist.Result changed = dist.cli("blkdeviotune", guest.name(), "xvdm", "--read-iops-sec", "50");
        assertEquals(0, changed.exit(), changed.toString());
        assertEquals("write_bytes_sec=2097152,read_iops_sec=50", xs.read(be("xvdm") + "/xen-disk-java-iotune"),
                "what a restarted daemon finds");
        Dist.Result v = dist.simRun(guest, "xvdm", "verify", "--size", "1M", "--seed", "43");
        assertEquals(0, v.exit(), v.toString());
        libxlRemove("xvdm");
        Images.assertPattern(img, 0, 1 << 20, 43);

        libxlAdd("xvdn", "[read_iops=100]file:" + img, false);
        Dist.Result bad = libxlHotplug("xvdn", "add");
        assertEquals(1, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("unknown I/O limit 'read_iops'"), bad.toString());
        libxlRemove("xvdn");
    }

    @Test
    void badTargetsFailTheHotplugScriptWithTheReason() throws Exception {
        libxlAdd("xvdc", "qcow9:/images/x.img", false);
        Dist.Result engine = libxlHotplug("xvdc", "add");
        assertEquals(1, engine.exit(), engine.toString());
        assertTrue(engine.err().contains("unknown storage engine 'qcow9'"), engine.toString());
        assertTrue(xs.read(be("xvdc") + "/hotplug-error").contains("unknown storage engine 'qcow9'"));
        assertEquals("error", xs.read(be("xvdc") + "/hotplug-status"));
        String refusedLine = dist.listLine(guest.vbd("xvdc"));
        assertTrue(refusedLine != null && refusedLine.contains("refused"), String.valueOf(refusedLine));
        libxlRemove("xvdc"); // what libxl does when the script failed: the handshake still closes

        Path missing = dist.dir.resolve("no-such.img");
        libxlAdd("xvdd", "cow:" + missing, false);
        Dist.Result image = libxlHotplug("xvdd", "add");
        assertEquals(1, image.exit(), image.toString());
        assertTrue(image.err().contains(missing.toString()), image.toString());
        libxlRemove("xvdd");
        Dist.poll(() -> dist.listLine(guest.vbd("xvdd")) == null, "refused disks leave the list once removed");

        // a qcow2 image served raw would be ruined by the first write: refused, naming the engine to use
        Path qcow2 = dist.dir.resolve("xl-raw-by-mistake.qcow2");
        Tools.qemuImg(dist, "create", "-q", "-f", "qcow2", qcow2.toString(), "16M");
        libxlAdd("xvdg", qcow2.toString(), false);
        Dist.Result raw = libxlHotplug("xvdg", "add");
        assertEquals(1, raw.exit(), raw.toString());
        assertTrue(raw.err().contains("is a qcow2 image") && raw.err().contains("target=qcow2:"), raw.toString());
        libxlRemove("xvdg");
    }

    /**
     * kill -9 of the daemon while the guest writes: a restarted daemon takes
     * back the xl disk and our own connected disk where their rings stand,
     * the guest's workload completes (it saw a pause), and everything it was
     * told is written is in the images; a copy-on-write disk, whose changes
     * died with the old daemon, is closed instead.
     */
    @Test
    void aRestartedDaemonResumesPersistentDisksAndClosesCopyOnWriteOnes() throws Exception {
        Path xlImg = Images.sparse(dist.dir.resolve("xl-file.img"), 32L << 20, null);
        libxlAdd("xvde", "file:" + xlImg, false);
        assertEquals(0, libxlHotplug("xvde", "add").exit());
        Path own = Images.sparse(dist.dir.resolve("own.img"), 16L << 20, null);
        assertEquals(0, dist.cli("connect", guest.name(), "--vdev", "xvdf", "--storage", "mmap", "--path", own.toString()).exit());
        Path gold = Images.sparse(dist.dir.resolve("gold.img"), 8L << 20, "GOLD");
        assertEquals(0, dist.cli("connect", guest.name(), "--vdev", "xvdg", "--storage", "cow", "--path", gold.toString()).exit());
        dist.awaitConnected(guest, "xvdf");
        dist.awaitConnected(guest, "xvdg");
        pollState(be("xvde"), "4");

        // a long verify on the xl disk, in flight while the daemon dies; asked of the guest directly,
        // since `sim run` goes through the daemon
        Path control = GuestControl.socket(dist.runDir.resolve("sim"), guest.domid());
        CompletableFuture<GuestControl.Reply> verify = CompletableFuture.supplyAsync(() -> {
            try {
                return GuestControl.send(control, "run xvde verify --size 32M --seed 51");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Dist.poll(() -> Dist.counters(String.valueOf(dist.listLine(guest.vbd("xvde")))).getOrDefault("writes", 0L) > 20,
                "the verify is writing");
        long old = dist.daemonPid();
        ProcessHandle h = ProcessHandle.of(old).orElseThrow();
        assertTrue(h.destroyForcibly());
        Dist.awaitExit(h);

        Dist.Result status = dist.cli("status"); // starts a fresh daemon, which takes its disks back
        assertEquals(0, status.exit(), status.toString());
        assertNotEquals(old, dist.daemonPid());
        GuestControl.Reply said = verify.get(120, TimeUnit.SECONDS);
        assertTrue(said.ok(), said + dist.daemonLog());
        assertTrue(said.text().strip().endsWith(" OK"), said.text());
        Images.assertPattern(xlImg, 0, 32 << 20, 51);

        String xlLine = dist.listLine(guest.vbd("xvde"));
        assertTrue(xlLine != null && xlLine.contains(" Connected file:" + xlImg), String.valueOf(xlLine));
        Dist.Result ownVerify = dist.simRun(guest, "xvdf", "verify", "--size", "4M", "--seed", "52");
        assertEquals(0, ownVerify.exit(), "our own mmap disk resumed:\n" + ownVerify + dist.daemonLog());
        Images.assertPattern(own, 0, 4 << 20, 52);

        // the cow disk: closed, and (ours) its nodes removed once the guest let go
        Dist.poll(() -> !dist.xsExists(guest.backend("xvdg")), "the cow disk is unplugged after the restart");
        assertTrue(dist.daemonLog().contains("copy-on-write disk, whose changes were lost"), dist.daemonLog());
        assertNull(dist.listLine(guest.vbd("xvdg")));
        assertEquals("GOLD", new String(Files.readAllBytes(gold), 0, 4));

        libxlRemove("xvde");
        assertEquals(0, dist.cli("disconnect", guest.name(), "xvdf").exit());

        // what the killed daemon had mapped (rings, persistent grants) was released by the new one,
        // as Xen's gntdev does for a dead process: once nothing is served, the guest can revoke
        // every page it ever granted
        assertTrue(dist.daemonLog().contains("grant pins a previous daemon left behind"), dist.daemonLog());
        Path table = SimPaths.grantTable(dist.runDir.resolve("sim"), guest.domid());
        Dist.poll(() -> pinnedEntries(table).isEmpty(), "no grant of the guest pinned by domain 0");
    }

    /** Refs of the guest's grant table (grant_entry_v1) granted to domain 0 with GTF_reading/GTF_writing set. */
    private static List<Integer> pinnedEntries(Path table) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(table)).order(ByteOrder.LITTLE_ENDIAN);
        List<Integer> pinned = new ArrayList<>();
        for (int ref = 0; ref < b.capacity() / GrantEntries.ENTRY_SIZE; ref++) {
            int flags = Short.toUnsignedInt(b.getShort(ref * GrantEntries.ENTRY_SIZE + GrantEntries.FLAGS));
            int domid = Short.toUnsignedInt(b.getShort(ref * GrantEntries.ENTRY_SIZE + GrantEntries.DOMID));
            if (domid == 0 && (flags & (GrantEntries.GTF_READING | GrantEntries.GTF_WRITING)) != 0) {
                pinned.add(ref);
            }
        }
        return pinned;
    }
}
