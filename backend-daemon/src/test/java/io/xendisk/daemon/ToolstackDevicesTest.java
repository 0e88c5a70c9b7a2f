package io.xendisk.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.RingJournals;
import io.xendisk.backend.Vbd;
import io.xendisk.backend.VbdNodes;
import io.xendisk.xen.KernelBackends;
import io.xendisk.xen.sim.SimXenstored;
import io.xendisk.xen.sim.domain.SimEventChannels;
import io.xendisk.xen.sim.domain.SimGrantTable;
import io.xendisk.xen.store.XenStoreClient;

/**
 * Devices already in xenstore, taken on by one path: xl's ({@code backend/vbd},
 * fresh or served by a previous daemon) and our own kind left by a previous
 * daemon, against our xenstored and the simulated grant table.
 */
class ToolstackDevicesTest {
    private static final int DOMID = 5;
    private static final int DEVID = 51728; // xvdb
    private static final String XL_BE = "/local/domain/0/backend/vbd/" + DOMID + "/" + DEVID;
    private static final String OWN_BE = VbdNodes.backendPath(0, DOMID, DEVID);
    private static final String FE = VbdNodes.frontendPath(DOMID, DEVID);

    private Path dir;
    private SimXenstored xenstored;
    private XenStoreClient xs;
    private final List<XenStoreClient> closeAfter = new CopyOnWriteArrayList<>();
    private SimGrantTable grants;
    private VbdRegistry registry;
    private VbdTable table;
    private final List<String> released = new CopyOnWriteArrayList<>();
    private volatile RuntimeException kernelRefuses;
    private ToolstackDevices devices;
    private Path image;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "xdjtake");
        xenstored = SimXenstored.start(dir.resolve("socket"));
        xs = XenStoreClient.connect(dir.resolve("socket"));
        xs.write("/local/domain/" + DOMID + "/name", "vm1");
        image = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        grants = new SimGrantTable(dir.resolve("sim"));
        registry = new VbdRegistry();
        table = new VbdTable(xs, grants, new SimEventChannels(dir.resolve("sim")), BlkifFeatures.DEFAULT,
                RingJournals.NONE, registry);
        KernelBackends kernel = (domid, devid, waitMillis) -> {
            released.add(domid + "/" + devid);
            if (kernelRefuses != null) {
                throw kernelRefuses;
            }
            return null;
        };
        devices = new ToolstackDevices(xs, table, new DomainNames(xs), kernel);
    }

    @AfterEach
    void tearDown() throws Exception {
        table.served().forEach(v -> v.destroy("test over"));
        table.refused().forEach(RefusedVbd::close);
        closeAfter.forEach(XenStoreClient::close);
        xs.close();
        xenstored.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** What libxl writes for a disk with our script (the nodes the daemon reads). */
    private void xlDevice(String params, String state) {
        xs.transaction(t -> {
            t.write(FE + "/backend", XL_BE);
            t.write(FE + "/backend-id", "0");
            t.write(FE + "/state", "1");
            t.write(XL_BE + "/frontend", FE);
            t.write(XL_BE + "/frontend-id", Integer.toString(DOMID));
            t.write(XL_BE + "/params", params);
            t.write(XL_BE + "/script", "/etc/xen/scripts/xen-disk-java");
            t.write(XL_BE + "/mode", "w");
            t.write(XL_BE + "/dev", "xvdb");
            t.write(XL_BE + "/online", "1");
            t.write(XL_BE + "/state", state);
            return null;
        });
    }

    private String read(String path) {
        return xs.tryRead(path).orElse(null);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        for (int i = 0; i < 200 && !condition.getAsBoolean(); i++) {
            Thread.sleep(10);
        }
        assertTrue(condition.getAsBoolean(), what);
    }

    @Test
    void aNewXlDiskIsTakenFromTheKernelServedAndReported() throws Exception {
        xlDevice("file:" + image, "1");
        devices.adopt(DOMID, DEVID);
        Vbd vbd = table.served(DOMID, DEVID);
        assertNotNull(vbd);
        assertFalse(vbd.ownsNodes());
        assertEquals("file:" + image, vbd.storageName());
        assertEquals(List.of(DOMID + "/" + DEVID), released);
        assertEquals("ready", read(XL_BE + "/" + ToolstackDevices.READY_NODE));
        await(() -> "2".equals(read(XL_BE + "/state")), "backend in InitWait");
        assertEquals(1, registry.size());

        devices.adopt(DOMID, DEVID); // a watch firing again, or a restart scan: nothing new
        assertEquals(1, registry.size());
        assertEquals(1, released.size());
    }

    @Test
    void aMissingImageIsRefusedWithTheReasonForTheHotplugScript() {
        xlDevice("cow:" + dir.resolve("gone.img"), "1");
        devices.adopt(DOMID, DEVID);
        assertNull(table.served(DOMID, DEVID));
        assertEquals("error", read(XL_BE + "/hotplug-status"));
        String why = read(XL_BE + "/hotplug-error");
        assertTrue(why.startsWith("vbd 5/51728 (xvdb): "), why);
        assertTrue(why.contains(dir.resolve("gone.img").toString()), why);
        assertTrue(registry.list().get(0).state().startsWith("refused ("), registry.list().toString());
        assertNull(read(XL_BE + "/" + ToolstackDevices.READY_NODE));
    }

    @Test
    void aDeviceTheKernelWillNotReleaseIsRefused() {
        kernelRefuses = new IllegalStateException("vbd-5-51728 is still bound to xen-blkback; blacklist it");
        xlDevice("file:" + image, "1");
        devices.adopt(DOMID, DEVID);
        assertNull(table.served(DOMID, DEVID));
        assertEquals("vbd 5/51728 (xvdb): vbd-5-51728 is still bound to xen-blkback; blacklist it",
                read(XL_BE + "/hotplug-error"));
    }

    @Test
    void aHalfWrittenXlDeviceIsLeftForLater() {
        xs.write(XL_BE + "/frontend", FE);
        devices.adopt(DOMID, DEVID);
        assertFalse(table.has(DOMID, DEVID));
        assertEquals(0, registry.size());
    }

    @Test
    void aConnectedXlCopyOnWriteDiskLostItsChangesWithThePreviousDaemon() {
        xlDevice("cow:" + image, "4");
        devices.adopt(DOMID, DEVID);
        assertNull(table.served(DOMID, DEVID));
        String why = read(XL_BE + "/hotplug-error");
        assertTrue(why.contains("changes were lost with the old process; it is closed rather than shown to the guest"
                + " changed (detach it and attach it again)"), why);
    }

    @Test
    void aConnectedXlFileDiskResumesAfterARestart() {
        xlDevice("file:" + image, "4");
        devices.adopt(DOMID, DEVID);
        assertNotNull(table.served(DOMID, DEVID));
    }

    @Test
    void ourOwnDiskOfAPreviousDaemonIsServedAgainWithoutTheKernel() {
        VbdNodes.create(xs, 0, DOMID, DEVID, "xvdb", false, "mmap:" + image);
        devices.recover();
        Vbd vbd = table.served(DOMID, DEVID);
        assertNotNull(vbd);
        assertTrue(vbd.ownsNodes());
        assertEquals("mmap:" + image, vbd.storageName());
        assertTrue(released.isEmpty(), "our own kind is no kernel's: " + released);
        assertNull(read(OWN_BE + "/" + ToolstackDevices.READY_NODE));
    }

    @Test
    void ourOwnCopyOnWriteDiskIsUnpluggedAfterARestart() throws Exception {
        VbdNodes.create(xs, 0, DOMID, DEVID, "xvdb", false, "cow:" + image);
        List<String> said = hotplugErrors();
        devices.recover();
        assertNull(table.served(DOMID, DEVID));
        await(() -> !said.isEmpty(), "a hotplug-error");
        String why = said.get(0);
        assertTrue(why.contains("it is unplugged rather than shown to the guest changed (connect it again)"), why);
        await(() -> !xs.exists(OWN_BE), "the unplugged disk's nodes removed");
    }

    /**
     * Every hotplug-error written for our own disk, read as it is written:
     * a refused disk of ours is unplugged at once, and its nodes go with it.
     */
    private List<String> hotplugErrors() throws Exception {
        List<String> said = new CopyOnWriteArrayList<>();
        XenStoreClient observer = XenStoreClient.connect(dir.resolve("socket"));
        closeAfter.add(observer);
        observer.watch(OWN_BE + "/hotplug-error", "t", (path, token) ->
                xs.tryRead(OWN_BE + "/hotplug-error").filter(v -> !v.isEmpty()).ifPresent(said::add));
        return said;
    }

    @Test
    void ourOwnDiskWithAMissingImageIsRefusedNamingTheRestart() throws Exception {
        VbdNodes.create(xs, 0, DOMID, DEVID, "xvdb", false, "file:" + dir.resolve("gone.img"));
        List<String> said = hotplugErrors();
        devices.recover();
        await(() -> !said.isEmpty(), "a hotplug-error");
        String why = said.get(0);
        assertTrue(why.startsWith("vbd 5/51728 (xvdb): cannot be served again after a restart: "), why);
    }

    @Test
    void theNodesOfAGuestThatIsGoneAreRemoved() {
        VbdNodes.create(xs, 0, 8, DEVID, "xvdb", false, "file:" + image);
        xs.rm("/local/domain/8"); // the toolstack destroyed the guest while no daemon ran
        devices.recover();
        assertFalse(xs.exists(VbdNodes.backendPath(0, 8, DEVID)));
        assertFalse(xs.exists("/local/domain/0/backend/" + VbdNodes.KIND + "/8"));
        assertFalse(table.has(8, DEVID));
    }
}
