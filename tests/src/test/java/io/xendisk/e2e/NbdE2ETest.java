package io.xendisk.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A guest's disk on an NBD server: nbdkit's file plugin over a Unix socket,
 * in the clear and with TLS, nbd-server, and qemu-nbd over TCP serving a qcow2 image. The guest's writes are checked where
 * the server keeps them (the exported file; qemu-img on the qcow2 image). A
 * server killed and started again under a guest's verify is only a pause.
 */
class NbdE2ETest {
    private static final Path QEMU_NBD = Path.of("/usr/bin/qemu-nbd");
    private static Dist dist;
    private static Dist.Guest guest;
    private Process server;
    private Nbdkit nbdkit;

    @BeforeAll
    static void start() throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        Tools.require(Nbdkit.BIN, "nbdkit");
        Tools.require(QEMU_NBD, "qemu-utils");
        dist = new Dist();
        // as an operator sets it; the restart test below shows the daemon took it
        dist.writeConfig("<nbd-reconnect-seconds>45</nbd-reconnect-seconds>");
        guest = dist.guest("nbd-1");
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

    @AfterEach
    void stopServer() throws Exception {
        if (server != null) {
            server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (nbdkit != null) {
            nbdkit.close();
        }
    }

    @Test
    void nbdkitOverAUnixSocketKeepsTheGuestsWritesInItsFile() throws Exception {
        Path file = Images.sparse(dist.dir.resolve("nbd-file.img"), 64L << 20, "XENDISK-E2E-NBD");
        nbdkit = Nbdkit.serve(dist.dir.resolve("nbdkit.sock"), "file", file.toString());
        connect(nbdkit.uri());
        Dist.Result marker = dist.simRun(guest, "xvdb", "read-at", "0", "1");
        assertTrue(marker.out().contains("|XENDISK-E2E-NBD"), "the export's first sector: " + marker);
        Dist.Result fuzz = dist.simRun(guest, "xvdb", "fuzz", "--requests", "20000", "--valid-percent", "100",
                "--seed", "15");
        assertTrue(fuzz.exit() == 0 && fuzz.out().contains("fuzz PASS requests=20000 "), fuzz.toString());
        Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "40M", "--size", "8M", "--seed", "9");
        assertEquals(0, verify.exit(), verify.toString());
        disconnect();
        Images.assertPattern(file, 40L << 20, 8 << 20, 9);
    }

    /** nbds+unix: the certificates made by tests/tls/make-certs.sh, as an operator would give them. */
    @Test
    void withTlsTheGuestsWritesReachTheFileAndAPlainConnectIsRefusedByName() throws Exception {
        Path certs = dist.dir.resolve("pki");
        Dist.Result made = dist.exec(List.of("bash", Path.of("tls/make-certs.sh").toAbsolutePath().toString(),
                certs.toString()), java.util.Map.of());
        assertEquals(0, made.exit(), made.toString());
        Path file = Images.sparse(dist.dir.resolve("nbd-tls.img"), 32L << 20, "XDJ-NBD-TLS");
        nbdkit = Nbdkit.serve(dist.dir.resolve("nbdkit-tls.sock"), "--tls=require", "--tls-certificates=" + certs,
                "file", file.toString());

        Dist.Result plain = dist.cli("connect", guest.name(), "--vdev", "xvdb", "--path", nbdkit.uri());
        assertEquals(1, plain.exit(), plain.toString());
        assertTrue(plain.err().contains("the server requires TLS") && plain.err().contains("write nbds+unix:///?socket="
                + nbdkit.socket + "&tls-certificates=DIR"), plain.toString());

        connect(nbdkit.uri().replaceFirst("^nbd", "nbds") + "&tls-certificates=" + certs);
        Dist.Result marker = dist.simRun(guest, "xvdb", "read-at", "0", "1");
        assertTrue(marker.out().contains("|XDJ-NBD-TLS"), "the export's first sector: " + marker);
        Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "4M", "--size", "8M", "--seed", "17");
        assertEquals(0, verify.exit(), verify.toString());
        disconnect();
        Images.assertPattern(file, 4L << 20, 8 << 20, 17);
    }

    @Test
    void aServerKilledAndStartedAgainInTheMiddleOfAVerifyIsAPauseForTheGuest() throws Exception {
        Path file = Images.sparse(dist.dir.resolve("nbd-restart.img"), 64L << 20, null);
        Path socket = dist.dir.resolve("nbdkit-restart.sock");
        // slowed so that the verify is surely still writing when the server dies
        nbdkit = Nbdkit.serve(socket, "--filter=delay", "file", file.toString(), "delay-write=20ms", "delay-read=20ms");
        connect(nbdkit.uri());
        CompletableFuture<Dist.Result> verify = CompletableFuture.supplyAsync(() -> {
            try {
                return dist.simRun(guest, "xvdb", "verify", "--offset", "4M", "--size", "48M", "--seed", "21");
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        Thread.sleep(1500);
        assertFalse(verify.isDone(), "the verify ended before the server was killed: " + verify.getNow(null));
        nbdkit.kill();
        Thread.sleep(1000); // the guest waits with no server at all
        assertFalse(verify.isDone(), "the verify ended while no server was there: " + verify.getNow(null));
        nbdkit = Nbdkit.serve(socket, "file", file.toString());
        Dist.Result r = verify.get(3, TimeUnit.MINUTES);
        assertEquals(0, r.exit(), r.toString());
        String log = dist.daemonLog();
        assertTrue(log.contains("making the connection again for up to 45 s"), log);
        assertTrue(log.contains("the connection is made again after"), log);
        disconnect();
        Images.assertPattern(file, 4L << 20, 48 << 20, 21);
    }

    @Test
    void qemuNbdOverTcpServesAQcow2ImageThatQemuImgCallsClean() throws Exception {
        Path img = dist.dir.resolve("nbd-qemu.qcow2");
        assertEquals(0, Tools.qemuImg(dist, "create", "-q", "-f", "qcow2", img.toString(), "64M").exit());
        int port = 10900 + (int) (ProcessHandle.current().pid() % 500);
        server = serve(List.of(QEMU_NBD.toString(), "-f", "qcow2", "-t", "-p", String.valueOf(port),
                "-b", "127.0.0.1", "-x", "disk", img.toString()));
        waitForPort(port);
        connect("nbd://127.0.0.1:" + port + "/disk");
        Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "8M", "--size", "16M", "--seed", "4");
        assertEquals(0, verify.exit(), verify.toString());
        disconnect();
        server.destroy(); // SIGTERM: qemu-nbd writes its qcow2 metadata out as it exits
        server.waitFor(10, TimeUnit.SECONDS);
        assertEquals(0, Tools.qemuImg(dist, "check", img.toString()).exit(), "qemu-img check of the served image");
        Path flat = dist.dir.resolve("nbd-qemu.raw");
        assertEquals(0, Tools.qemuImg(dist, "convert", "-q", "-O", "raw", img.toString(), flat.toString()).exit());
        Images.assertPattern(flat, 8L << 20, 16 << 20, 4);
    }

    /** nbd-server, the reference server, as Debian runs it: daemonized, a child per connection. */
    @Test
    void nbdServerServesTheGuestAndKeepsItsWritesInTheFile() throws Exception {
        Path nbdServer = Path.of("/usr/bin/nbd-server");
        Tools.require(nbdServer, "nbd-server");
        Path file = Images.sparse(dist.dir.resolve("nbd-server.img"), 32L << 20, "XDJ-NBD-SERVER");
        Path socket = dist.dir.resolve("nbd-server.sock");
        Path pid = dist.dir.resolve("nbd-server.pid");
        Path conf = dist.dir.resolve("nbd-server.conf");
        Files.writeString(conf, "[generic]\nunixsock = " + socket + "\n[disk]\nexportname = " + file
                + "\nflush = true\ntrim = true\n");
        Dist.Result start = dist.exec(List.of(nbdServer.toString(), "-C", conf.toString(), "-p", pid.toString()),
                java.util.Map.of());
        assertEquals(0, start.exit(), start.toString());
        try {
            for (int i = 0; i < 100 && !Files.exists(socket); i++) {
                Thread.sleep(100);
            }
            connect("nbd+unix:///disk?socket=" + socket);
            Dist.Result marker = dist.simRun(guest, "xvdb", "read-at", "0", "1");
            assertTrue(marker.out().contains("|XDJ-NBD-SERVER"), "the export's first sector: " + marker);
            Dist.Result verify = dist.simRun(guest, "xvdb", "verify", "--offset", "2M", "--size", "8M", "--seed", "13");
            assertEquals(0, verify.exit(), verify.toString());
            disconnect();
        } finally {
            if (Files.exists(pid)) {
                long p = Long.parseLong(Files.readString(pid).trim());
                ProcessHandle.of(p).ifPresent(ProcessHandle::destroy);
            }
        }
        Images.assertPattern(file, 2L << 20, 8 << 20, 13);
    }

    private static Process serve(List<String> cmd) throws Exception {
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dist.dir.resolve("qemu-nbd.log").toFile()).start();
    }

    private static void waitForPort(int port) throws Exception {
        for (int i = 0; i < 100; i++) {
            try (var s = new java.net.Socket("127.0.0.1", port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("qemu-nbd does not listen on port " + port);
    }

    private static void connect(String uri) throws Exception {
        Dist.Result r = dist.cli("connect", guest.name(), "--vdev", "xvdb", "--path", uri);
        assertEquals(0, r.exit(), r.toString());
        dist.awaitConnected(guest, "xvdb");
    }

    private static void disconnect() throws Exception {
        Dist.Result r = dist.cli("disconnect", guest.name(), "xvdb");
        assertEquals(0, r.exit(), r.toString());
    }
}
