package io.xendisk.xen.sim.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.xendisk.xen.sim.SimXenstored;
import io.xendisk.xen.store.XenStoreClient;

/**
 * The reaper against a guest process holding its {@link DomainLock}
 * ({@link SimGuestMain} in mode {@code locked}): a kill -9 is noticed and the
 * domain released as Xen releases a destroyed domain; a clean shutdown is not.
 */
class GuestReaperTest {
    private static final int GUEST = 12;
    private static final long WAIT_S = 60;

    @TempDir
    Path dir;
    private Path simdir;
    private SimXenstored xenstored;
    private XenStoreClient dom0;
    private Process guest;

    @BeforeEach
    void setUp() throws Exception {
        simdir = dir.resolve("sim");
        xenstored = SimXenstored.start(dir.resolve("xs/socket"));
        dom0 = XenStoreClient.connect(xenstored.socketPath());
    }

    @AfterEach
    void tearDown() throws Exception {
        if (guest != null && guest.isAlive()) {
            guest.destroyForcibly().waitFor(WAIT_S, TimeUnit.SECONDS);
        }
        dom0.close();
        xenstored.close();
    }

    /** Starts the guest process, waits for its domain, then introduces it as the toolstack would. */
    private void startGuest() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        guest = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                SimGuestMain.class.getName(), simdir.toString(), Integer.toString(GUEST), "locked", "0"))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(guest.getInputStream(), StandardCharsets.UTF_8));
        String ready = CompletableFuture.supplyAsync(() -> {
            try {
                String l = out.readLine();
                return l == null ? "EOF" : l;
            } catch (java.io.IOException e) {
                return e.toString();
            }
        }).get(WAIT_S, TimeUnit.SECONDS);
        assertTrue(ready.startsWith("READY "), ready);
        dom0.mkdir("/local/domain/" + GUEST);
        dom0.introduce(GUEST, 0, 0);
    }

    @Test
    void aKilledGuestsDomainIsReleasedAndItsFilesRemoved() throws Exception {
        List<Integer> reaped = new CopyOnWriteArrayList<>();
        try (GuestReaper reaper = GuestReaper.start(dom0, simdir, reaped::add)) {
            startGuest();
            await(() -> reaper.watching().contains(GUEST), "the reaper watches the new guest");

            guest.destroyForcibly(); // SIGKILL: the kernel drops the lock, nothing else happens
            assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
            await(() -> reaped.equals(List.of(GUEST)), "the reaper reaps the domain");
            assertFalse(dom0.isDomainIntroduced(GUEST), "released, so @releaseDomain fired");
            assertFalse(dom0.exists("/local/domain/" + GUEST));
            assertFalse(Files.exists(SimPaths.domain(simdir, GUEST)));
            await(() -> reaper.watching().isEmpty(), "the reaper forgets the domain");
        }
    }

    @Test
    void aGuestThatShutsDownIsLeftAlone() throws Exception {
        List<Integer> reaped = new CopyOnWriteArrayList<>();
        try (GuestReaper reaper = GuestReaper.start(dom0, simdir, reaped::add)) {
            startGuest();
            await(() -> reaper.watching().contains(GUEST), "the reaper watches the new guest");

            guest.getOutputStream().close(); // the guest removes its files, then drops the lock
            assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
            assertEquals(0, guest.exitValue());
            await(() -> reaper.watching().isEmpty(), "the reaper lets go");
            assertTrue(reaped.isEmpty(), "nothing to reap: " + reaped);
            assertTrue(dom0.isDomainIntroduced(GUEST), "releasing a domain that shut down is its toolstack's job");
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }
}
