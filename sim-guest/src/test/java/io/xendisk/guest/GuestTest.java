package io.xendisk.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.blkif.Abi;
import io.xendisk.blkif.BackRing;
import io.xendisk.blkif.Blkif;
import io.xendisk.blkif.XenbusState;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import io.xendisk.xen.EventChannel;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.sim.domain.DomainLock;
import io.xendisk.xen.sim.domain.GuestControl;

/** The guest as a whole, in this JVM: domids, control socket, shutdown, and frontends facing a scripted backend. */
class GuestTest {
    private static final int XVDB = 51728;

    private SimBackend platform;
    private final List<Guest> guests = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        platform = new SimBackend();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Guest g : guests) {
            g.close();
        }
        platform.close();
    }

    private Guest guest(String name) throws Exception {
        Guest g = Guest.start(new Guest.Config(name, platform.socket(), platform.simdir, 8, Abi.X86_64, null));
        guests.add(g);
        return g;
    }

    private String fe(Guest g, String node) {
        return platform.read("/local/domain/" + g.domid() + "/device/vbd/" + XVDB + "/" + node);
    }

    private String bePath(Guest g) {
        return "/local/domain/0/backend/vbd/" + g.domid() + "/" + XVDB;
    }

    @Test
    void guestsGetTheLowestFreeDomidsAndUniqueNames() throws Exception {
        Guest a = guest("vm-a");
        Guest b = guest("vm-b");
        assertEquals(1, a.domid());
        assertEquals(2, b.domid());
        assertEquals("vm-a", platform.read("/local/domain/1/name"));
        assertTrue(platform.dom0.isDomainIntroduced(1));
        assertTrue(Files.exists(Guest.domainDir(platform.simdir, 1).resolve(DomainLock.FILE)));
        IllegalStateException dup = assertThrows(IllegalStateException.class, () -> guest("vm-a"));
        assertTrue(dup.getMessage().contains("already exists (domain 1)"), dup.getMessage());
        a.close();
        assertEquals(1, guest("vm-c").domid(), "a freed domid is reused");
    }

    @Test
    void controlSocketAnswersStatusDisksAndRuns() throws Exception {
        Guest g = guest("vm-ctl");
        platform.addDisk(g.domid(), XVDB, Storages.open(StorageSpec.discard(8L << 20)), false);
        assertNotNull(g.awaitConnected(XVDB, 20, TimeUnit.SECONDS));
        assertEquals(g.controlSocket(), GuestControl.socket(platform.simdir, "vm-ctl"));
        assertEquals(g.controlSocket(), GuestControl.socket(platform.simdir, Integer.toString(g.domid())));

        GuestControl.Reply status = GuestControl.send(g.controlSocket(), "status");
        assertTrue(status.ok(), status.error());
        assertTrue(status.lines().get(0).startsWith("guest vm-ctl domid " + g.domid() + " abi=x86_64-abi"),
                status.text());
        GuestControl.Reply disks = GuestControl.send(g.controlSocket(), "disks");
        assertEquals(List.of("xvdb devid=51728 state=4 sectors=16384 sector-size=512 mode=rw flush=1 abi=x86_64-abi"
                + " backend=" + bePath(g)), disks.lines());

        List<String> progress = new CopyOnWriteArrayList<>();
        GuestControl.Reply run = GuestControl.send(g.controlSocket(), "run xvdb rand-read --qd 4 --ops 500", progress::add);
        assertTrue(run.ok(), run.error());
        assertEquals(run.lines(), progress);
        assertTrue(run.lines().get(0).startsWith("rand-read bs=4096 qd=4 seed=1 requests=500 bytes=2048000 "), run.text());

        GuestControl.Reply byNumber = GuestControl.send(g.controlSocket(), "run 51728 hostile unknown-op");
        assertTrue(byNumber.ok(), byNumber.error());

        GuestControl.Reply noDisk = GuestControl.send(g.controlSocket(), "run xvdc verify");
        assertFalse(noDisk.ok());
        assertTrue(noDisk.error().contains("has no disk xvdc (device 51744)"), noDisk.error());
        GuestControl.Reply badWorkload = GuestControl.send(g.controlSocket(), "run xvdb fly");
        assertTrue(badWorkload.error().startsWith("unknown workload 'fly'"), badWorkload.error());
        GuestControl.Reply badArg = GuestControl.send(g.controlSocket(), "run xvdb rand-read --qd 99");
        assertTrue(badArg.error().contains("--qd 99 must be 1..32"), badArg.error());
        assertTrue(GuestControl.send(g.controlSocket(), "launch").error().startsWith("unknown command 'launch'"));
    }

    @Test
    void shutdownClosesTheDisksThenReleasesTheDomain() throws Exception {
        Guest g = guest("vm-down");
        int domid = g.domid();
        SimBackend.Disk disk = platform.addDisk(domid, XVDB, Storages.open(StorageSpec.discard(1L << 20)), false);
        Blkfront fe = g.awaitConnected(XVDB, 20, TimeUnit.SECONDS);
        List<String> released = new CopyOnWriteArrayList<>();
        platform.dom0.watch("@releaseDomain", "t-release", (p, t) -> released.add(p));
        SimBackend.await(() -> released.size() == 1, "initial watch event");

        g.close();
        assertTrue(fe.isFinished());
        assertEquals(XenbusState.CLOSED, fe.state());
        SimBackend.await(() -> released.size() == 2, "@releaseDomain fired");
        assertFalse(platform.dom0.isDomainIntroduced(domid));
        assertFalse(platform.dom0.exists("/local/domain/" + domid));
        assertFalse(Files.exists(Guest.domainDir(platform.simdir, domid)));
        SimBackend.await(() -> !disk.teardowns.isEmpty(), "backend tears the device down");
        assertFalse(disk.connector.serving());
    }

    /** A backend scripted by the test: goes InitWait, then Connected with only the nodes given. */
    private void scriptedBackendUpTo(Guest g, boolean withSectors) {
        platform.layout(g.domid(), XVDB, false);
        String be = bePath(g);
        platform.dom0.write(be + "/feature-flush-cache", "1");
        platform.dom0.write(be + "/state", "2");
        SimBackend.await(() -> "3".equals(fe(g, "state")), "frontend Initialised");
        platform.dom0.transaction(t -> {
            if (withSectors) {
                t.write(be + "/sectors", "2048");
            }
            t.write(be + "/info", "0");
            t.write(be + "/sector-size", "512");
            t.write(be + "/state", "4");
            return null;
        });
    }

    @Test
    void missingSectorsIsFatalAndTheFrontendCloses() throws Exception {
        Guest g = guest("vm-fatal");
        scriptedBackendUpTo(g, false);
        SimBackend.await(() -> "5".equals(fe(g, "state")), "frontend Closing after the fatal error");
        String err = platform.read("/local/domain/" + g.domid() + "/error/device/vbd/" + XVDB + "/error");
        assertNotNull(err);
        assertTrue(err.contains("sectors is missing"), err);
        Blkfront fe = g.frontend(XVDB);
        assertTrue(fe.error().contains("sectors is missing"), fe.error());
        platform.dom0.write(bePath(g) + "/state", "5");
        SimBackend.await(() -> "6".equals(fe(g, "state")), "frontend Closed once the backend closes");
        assertTrue(fe.awaitFinished(10, TimeUnit.SECONDS));
    }

    @Test
    void aResponseWithAnIdNotOutstandingDisablesTheDisk() throws Exception {
        Guest g = guest("vm-badrsp");
        scriptedBackendUpTo(g, true);
        Blkfront fe = g.awaitConnected(XVDB, 20, TimeUnit.SECONDS);
        assertNotNull(fe);
        assertEquals("x86_64-abi", fe(g, "protocol"));
        int ringRef = Integer.parseInt(fe(g, "ring-ref"));
        int port = Integer.parseInt(fe(g, "event-channel"));
        try (GrantMapping ring = platform.grants.map(g.domid(), new int[] {ringRef}, true);
             EventChannel evtchn = platform.channels.bindInterdomain(g.domid(), port)) {
            BackRing back = new BackRing(ring.buffer(), Abi.X86_64, 1);
            CompletableFuture<Boolean> workload = CompletableFuture.supplyAsync(() -> {
                try {
                    return Workloads.run(fe, "rand-read", List.of("--ops", "1"), l -> { });
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            SimBackend.await(() -> back.unconsumed() == 1, "the frontend's request");
            byte[] slot = new byte[Abi.X86_64.stride];
            back.takeRequest(slot);
            long id = java.nio.ByteBuffer.wrap(slot).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(Abi.X86_64.idOffset);
            back.putResponse(id + 7, Blkif.OP_READ, Blkif.RSP_OKAY);
            if (back.pushResponses()) {
                evtchn.notifyRemote();
            }
            Exception e = assertThrows(Exception.class, workload::join);
            assertTrue(e.getMessage().contains("backend sent bad response: response id " + (id + 7)
                    + " is not an outstanding request"), e.getMessage());
        }
        assertTrue(fe.error().startsWith("backend sent bad response"), fe.error());
        BlkfrontException again = assertThrows(BlkfrontException.class,
                () -> Workloads.run(fe, "verify", List.of(), l -> { }));
        assertTrue(again.getMessage().contains("backend sent bad response"), again.getMessage());
        assertNotEquals("6", fe(g, "state"), "hardened blkfront disables the disk without a xenbus change");
    }
}
