package io.xendisk.xen.sim.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.xendisk.xen.EventChannelException;
import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantException;
import io.xendisk.xen.XenPage;

/** The backend (this JVM) against a simulated guest in a second JVM ({@link SimGuestMain}). */
class SimPlatformProcessTest {
    private static final int GUEST = 11;
    private static final int ROUNDS = 1000;
    private static final long WAIT_S = 60;
    private static final long WAIT = TimeUnit.SECONDS.toNanos(WAIT_S);

    @TempDir
    Path simdir;
    private Process guest;
    private BufferedReader guestOut;

    @AfterEach
    void killGuest() throws Exception {
        if (guest != null && guest.isAlive()) {
            guest.destroyForcibly().waitFor(WAIT_S, TimeUnit.SECONDS);
        }
    }

    /** Starts the guest and returns its READY line's fields: port, refs, writable ref. */
    private String[] startGuest(String mode, int rounds) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        guest = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                SimGuestMain.class.getName(), simdir.toString(), Integer.toString(GUEST), mode,
                Integer.toString(rounds)))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        guestOut = new BufferedReader(new InputStreamReader(guest.getInputStream(), StandardCharsets.UTF_8));
        String ready = line("READY");
        return ready.split(" ");
    }

    /** The guest's next output line starting with {@code prefix} (others, e.g. logging, are skipped). */
    private String line(String prefix) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            try {
                for (String l; (l = guestOut.readLine()) != null;) {
                    if (l.startsWith(prefix) || l.startsWith("NO-") || l.startsWith("MISMATCH")) {
                        return l;
                    }
                }
                return "EOF";
            } catch (IOException e) {
                return "IOException " + e.getMessage();
            }
        }).get(WAIT_S, TimeUnit.SECONDS);
    }

    private static int[] refs(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    @Test
    void pingPongAndGrantCopiesBetweenProcesses() throws Exception {
        String[] ready = startGuest("pingpong", ROUNDS);
        int port = Integer.parseInt(ready[1]);
        int[] dataRefs = refs(ready[2]);
        int rwRef = Integer.parseInt(ready[3]);
        SimGrantTable grants = new SimGrantTable(simdir);
        SimEventChannel ch = new SimEventChannels(simdir).bindInterdomain(GUEST, port);
        assertTrue(ch.await(0), "binding raises our port once");

        ByteBuffer local = ByteBuffer.allocateDirect(SimGuestMain.DATA_PAGES * XenPage.SIZE);
        GrantCopyBatch batch = new GrantCopyBatch(8);
        for (int k = 0; k < dataRefs.length; k++) {
            batch.add(GUEST, dataRefs[k], 0, XenPage.SIZE, false, local, k * XenPage.SIZE);
        }
        assertEquals(0, grants.copy(batch));
        for (int k = 0; k < dataRefs.length; k++) {
            for (int i = 0; i < XenPage.SIZE; i++) {
                if (local.get(k * XenPage.SIZE + i) != SimGuestMain.pattern(k, i)) {
                    throw new AssertionError("page " + k + " byte " + i + " differs from the guest's pattern");
                }
            }
        }
        batch.clear();
        batch.add(GUEST, dataRefs[0], 0, 16, true, local, 0);
        assertEquals(1, grants.copy(batch), "the data grants are read-only");

        for (int r = 0; r < ROUNDS; r++) {
            ch.notifyRemote();
            assertTrue(ch.await(WAIT), "pong " + r);
        }

        ByteBuffer out = ByteBuffer.allocateDirect(XenPage.SIZE);
        for (int i = 0; i < XenPage.SIZE; i++) {
            out.put(i, SimGuestMain.backendPattern(i));
        }
        batch.clear();
        batch.add(GUEST, rwRef, 0, XenPage.SIZE, true, out, 0);
        assertEquals(0, grants.copy(batch));
        ch.notifyRemote();
        assertEquals("VERIFIED", line("VERIFIED"));

        guest.getOutputStream().close();
        assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
        assertEquals(0, guest.exitValue());
        assertFalse(Files.exists(SimPaths.domain(simdir, GUEST)), "the guest removed its domain");
        assertFalse(ch.isBound(), "the guest's close unbound our port");
        ch.close();
        grants.close();
    }

    @Test
    void killedGuestLeavesTheBackendWaitingOutItsTimeoutAndStaleDomainsAreNamed() throws Exception {
        String[] ready = startGuest("idle", 0);
        int port = Integer.parseInt(ready[1]);
        int[] dataRefs = refs(ready[2]);
        SimGrantTable grants = new SimGrantTable(simdir);
        SimEventChannels channels = new SimEventChannels(simdir);
        SimEventChannel ch = channels.bindInterdomain(GUEST, port);
        assertTrue(ch.await(0));
        ByteBuffer local = ByteBuffer.allocateDirect(XenPage.SIZE);
        GrantCopyBatch batch = new GrantCopyBatch(1);
        batch.add(GUEST, dataRefs[0], 0, 64, false, local, 0);
        assertEquals(0, grants.copy(batch));

        CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return ch.await(TimeUnit.SECONDS.toNanos(2));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        guest.destroyForcibly(); // SIGKILL
        assertTrue(guest.waitFor(WAIT_S, TimeUnit.SECONDS));
        assertFalse(waiting.get(WAIT_S, TimeUnit.SECONDS), "the await timed out, no event, no hang");
        ch.notifyRemote(); // into a dead guest: no error, no block
        for (int i = 0; i < 100; i++) {
            ch.notifyRemote();
        }
        assertFalse(ch.await(TimeUnit.MILLISECONDS.toNanos(50)));

        grants.forget(GUEST);
        assertEquals(1, grants.copy(batch));
        assertEquals(GrantCopyBatch.GNTST_BAD_DOMAIN, batch.status(0));
        GrantException stale = assertThrows(GrantException.class, () -> grants.map(GUEST, dataRefs, false));
        assertEquals("domain 11: its guest process " + guest.pid() + " has exited; " + SimPaths.domain(simdir, GUEST)
                + " is stale (remove it, or restart the guest)", stale.getMessage());
        EventChannelException staleBind = assertThrows(EventChannelException.class,
                () -> channels.bindInterdomain(GUEST, port));
        assertTrue(staleBind.getMessage().contains("has exited"), staleBind.getMessage());

        ch.close(); // unlinks the dead guest's port: must not fail either
        deleteTree(SimPaths.domain(simdir, GUEST));
        GrantException gone = assertThrows(GrantException.class, () -> grants.map(GUEST, dataRefs, false));
        assertEquals("domain 11: no simulated domain at " + SimPaths.domain(simdir, GUEST) + " (is the guest running?)",
                gone.getMessage());
        grants.close();
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }
}
