package io.xendisk.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import io.xendisk.xen.sim.domain.GuestControl;
import io.xendisk.xen.sim.domain.GuestReaper;

/**
 * GuestMain in its own JVM, the xenstored and the backend in this one: the
 * guest is driven through its control socket, stopped with SIGTERM, and
 * killed with SIGKILL for the {@link GuestReaper} to clean up after.
 */
class GuestProcessTest {
    private static final int XVDB = 51728;
    private static final long WAIT_S = 60;

    private SimBackend platform;
    private Process guest;
    private final List<String> stderr = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        platform = new SimBackend();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (guest != null && guest.isAlive()) {
            guest.destroyForcibly().waitFor(WAIT_S, TimeUnit.SECONDS);
        }
        platform.close();
    }

    /** Starts GuestMain and returns its domid from the ready line. */
    private int startGuest(String name, String... extra) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                GuestMain.class.getName(), "--name", name, "--xenstore", platform.socket().toString(),
                "--simdir", platform.simdir.toString(), "--memory-mib", "16"));
        cmd.addAll(List.of(extra));
        guest = new ProcessBuilder(cmd).start();
        Thread errPump = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(guest.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null;) {
                    stderr.add(l);
                }
            } catch (IOException e) {
                // process gone
            }
        });
        errPump.setDaemon(true);
        errPump.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(guest.getInputStream(), StandardCharsets.UTF_8));
        String ready = CompletableFuture.supplyAsync(() -> {
            try {
                for (String l; (l = out.readLine()) != null;) {
                    if (l.startsWith("guest ")) {
                        return l;
                    }
                }
                return "EOF";
            } catch (IOException e) {
                return e.toString();
            }
        }).get(WAIT_S, TimeUnit.SECONDS);
        String[] w = ready.split(" ");
        assertTrue(ready.startsWith("guest " + name + " domid ") && ready.endsWith(" ready"), ready + "\n" + stderr);
        return Integer.parseInt(w[3]);
    }

    @Test
    void workloadsThroughTheControlSocketThenSigtermShutsDownCleanly() throws Exception {
        int domid = startGuest("proc-vm", "--abi", "x86_32");
        Path image = platform.dir.resolve("disk.img");
        Files.write(image, new byte[8 << 20]);
        SimBackend.Disk disk = platform.addDisk(domid, XVDB, Storages.open(StorageSpec.of("file", image, false)), false);
        SimBackend.await(() -> "4".equals(platform.read(disk.fe + "/state")), "guest's frontend Connected");
        assertEquals("x86_32-abi", platform.read(disk.fe + "/protocol"));

        Path sock = GuestControl.socket(platform.simdir, "proc-vm");
        GuestControl.Reply verify = GuestControl.send(sock, "run xvdb verify --size 2M --seed 5");
        assertTrue(verify.ok(), verify.error() + "\n" + stderr);
        assertTrue(verify.lines().get(0).endsWith(" OK"), verify.text());
        java.nio.ByteBuffer img = java.nio.ByteBuffer.wrap(Files.readAllBytes(image)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(img, 0, 0, 4096, 5), "the image holds what the guest wrote");

        GuestControl.Reply rand = GuestControl.send(sock, "run xvdb rand-read --qd 16 --ops 5000");
        assertTrue(rand.ok(), rand.error());
        assertTrue(rand.lines().get(0).contains(" requests=5000 bytes=20480000 "), rand.text());
        GuestControl.Reply hostile = GuestControl.send(sock, "run xvdb hostile all --count 10000");
        assertTrue(hostile.ok(), hostile.text() + "\n" + hostile.error());
        assertTrue(disk.connector.serving());

        List<String> released = new CopyOnWriteArrayList<>();
        platform.dom0.watch("@releaseDomain", "t-rel", (p, t) -> released.add(p));
        SimBackend.await(() -> released.size() == 1, "initial watch event");
        guest.destroy(); // SIGTERM
        assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
        assertEquals(0, guest.exitValue(), String.join("\n", stderr));
        SimBackend.await(() -> released.size() == 2, "@releaseDomain after shutdown");
        assertFalse(platform.dom0.exists("/local/domain/" + domid));
        assertFalse(Files.exists(Guest.domainDir(platform.simdir, domid)));
        SimBackend.await(() -> !disk.teardowns.isEmpty(), "backend tears the device down");
    }

    @Test
    void killMinus9IsNoticedByTheReaperWhichReleasesTheDomain() throws Exception {
        List<Integer> reaped = new CopyOnWriteArrayList<>();
        try (GuestReaper reaper = GuestReaper.start(platform.dom0, platform.simdir, reaped::add)) {
            int domid = startGuest("doomed");
            SimBackend.await(() -> reaper.watching().contains(domid), "reaper watches the new guest");
            SimBackend.Disk disk = platform.addDisk(domid, XVDB, Storages.open(StorageSpec.discard(1 << 20)), false);
            SimBackend.await(() -> "4".equals(platform.read(disk.fe + "/state")), "guest's frontend Connected");
            List<String> released = new CopyOnWriteArrayList<>();
            platform.dom0.watch("@releaseDomain", "t-rel9", (p, t) -> released.add(p));
            SimBackend.await(() -> released.size() == 1, "initial watch event");

            guest.destroyForcibly(); // SIGKILL: no shutdown code runs in the guest
            assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
            SimBackend.await(() -> released.size() == 2, "@releaseDomain after kill -9");
            // the reaper reports the domain after releasing it: its report may follow the watch event
            SimBackend.await(() -> !reaped.isEmpty(), "the reaper reports the dead guest");
            assertEquals(List.of(domid), reaped);
            assertFalse(platform.dom0.isDomainIntroduced(domid));
            assertFalse(platform.dom0.exists("/local/domain/" + domid));
            assertFalse(Files.exists(Guest.domainDir(platform.simdir, domid)));
            SimBackend.await(() -> !disk.teardowns.isEmpty(), "backend tears the device down");
            SimBackend.await(() -> reaper.watching().isEmpty(), "reaper forgets the domain");
        }
    }

    @Test
    void aCleanExitIsNotReaped() throws Exception {
        List<Integer> reaped = new CopyOnWriteArrayList<>();
        try (GuestReaper reaper = GuestReaper.start(platform.dom0, platform.simdir, reaped::add)) {
            int domid = startGuest("tidy");
            SimBackend.await(() -> reaper.watching().contains(domid), "reaper watches the new guest");
            guest.destroy();
            assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
            assertEquals(0, guest.exitValue());
            SimBackend.await(() -> reaper.watching().isEmpty(), "reaper lets go");
            assertTrue(reaped.isEmpty(), "nothing to reap: " + reaped);
        }
    }
}
