package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Guests' disks on Ceph RBD images of a one-node cluster: the guest's writes
 * are checked in what {@code rbd export} gives; an image moves between two
 * hosts (two daemons, each with its own run directory and simulated Xen), and
 * while one host writes it the other's connect is refused naming the holder.
 */
class RbdE2ETest {
    private static Dist dist;
    private static Dist.Guest guest;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        Ceph.conf();
        dist = new Dist();
        guest = dist.guest("rbd-1");
    }

    @AfterAll
    static void stop() throws Exception {
        if (dist != null) {
            try {
                dist.stopAll(List.of(guest));
            } finally {
                dist.close();
            }
        }
    }

    @Test
    void aGuestsWritesAreInTheImageAsRbdExportsIt() throws Exception {
        String name = Ceph.unique("e2e");
        String target = Ceph.create(name, 64);
        connect(dist, guest, "xvdb", target);
        assertTrue(dist.listLine(guest.vbd("xvdb")).contains(" Connected " + target + " "),
                dist.listLine(guest.vbd("xvdb")));
        Dist.Result fuzz = dist.simRun(guest, "xvdb", "fuzz", "--requests", "10000", "--valid-percent", "100",
                "--seed", "16");
        assertTrue(fuzz.exit() == 0 && fuzz.out().contains("fuzz PASS requests=10000 "), fuzz.toString());
        Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "24M", "--size", "16M", "--qd", "32",
                "--seed", "3");
        assertEquals(0, verify.exit(), verify.toString());
        disconnect(dist, guest, "xvdb");
        Images.assertPattern(Ceph.export(name, dist.dir.resolve("e2e.img")), 24L << 20, 16 << 20, 3);
    }

    @Test
    void anImageMovesToAnotherHostAndIsNeverWrittenByTwo() throws Exception {
        String name = Ceph.unique("move");
        String target = Ceph.create(name, 32);
        try (Dist hostB = new Dist()) {
            Dist.Guest guestB = hostB.guest("rbd-b");
            try {
                connect(dist, guest, "xvdc", target);
                Dist.Result written = dist.simRun(guest, "xvdc", "verify", "--offset", "4M", "--size", "8M",
                        "--seed", "31");
                assertEquals(0, written.exit(), written.toString());

                Dist.Result refused = hostB.cli("connect", guestB.name(), "--vdev", "xvdb", "--path", target);
                assertNotEquals(0, refused.exit(), refused.toString());
                assertTrue(refused.err().contains("RBD image rbd:rbd/" + name + ": the image is in use: its exclusive"
                        + " lock is held by the client at "), refused.toString());
                assertTrue(dist.simRun(guest, "xvdc", "read-at", "8192", "1").exit() == 0,
                        "host A's guest still reads its disk");

                disconnect(dist, guest, "xvdc");
                connect(hostB, guestB, "xvdb", target);
                Dist.Result read = hostB.simRun(guestB, "xvdb", "verify", "--offset", "4M", "--size", "8M",
                        "--seed", "31", "--read-only");
                assertEquals(0, read.exit(), "host B's guest reads what host A's wrote: " + read);
                disconnect(hostB, guestB, "xvdb");
            } finally {
                hostB.stopAll(List.of(guestB));
            }
        }
    }

    @Test
    void anImageThatIsNotThereIsRefusedByName() throws Exception {
        Dist.Result r = dist.cli("connect", guest.name(), "--vdev", "xvdd", "--path",
                "rbd:rbd/no-such-image:conf=" + Ceph.conf());
        assertNotEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("RBD image rbd:rbd/no-such-image: no such image (rbd ls rbd lists the pool's"
                + " images; rbd create makes one)"), r.toString());
    }

    private static void connect(Dist d, Dist.Guest g, String vdev, String target) throws Exception {
        Dist.Result r = d.cli("connect", g.name(), "--vdev", vdev, "--path", target);
        assertEquals(0, r.exit(), r.toString());
        d.awaitConnected(g, vdev);
    }

    private static void disconnect(Dist d, Dist.Guest g, String vdev) throws Exception {
        Dist.Result r = d.cli("disconnect", g.name(), vdev);
        assertEquals(0, r.exit(), r.toString());
    }
}
