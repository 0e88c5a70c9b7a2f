package io.xendisk.storage.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fixed newstyle handshake against nbdkit, qemu-nbd and nbd-server as
 * Debian 12 ships them: what each says of its export, how each refuses, and
 * (against a scripted server) the cases no real server shows on demand.
 */
// a lost completion or a silent server must fail the test, not hang the build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdHandshakeTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private final List<AutoCloseable> running = new ArrayList<>();

    @AfterEach
    void stopServers() throws Exception {
        for (AutoCloseable c : running) {
            c.close();
        }
    }

    private NbdServer run(NbdServer s) {
        running.add(s);
        return s;
    }

    private ScriptedNbdServer run(ScriptedNbdServer s) {
        running.add(s);
        return s;
    }

    @Test
    void nbdkitOverTcpOffersEverything() throws Exception {
        NbdServer s = run(NbdServer.nbdkit(dir, false, "", List.of(), "memory", "64M"));
        // nbdkit listens on 127.0.0.1 only: "localhost" must fall through ::1 if that comes first
        NbdUri uri = NbdUri.tcp("localhost", s.uri.port(), "");
        try (NbdConnection c = NbdConnection.open(uri)) {
            NbdExport e = c.export();
            assertEquals(64 * MIB, e.size());
            assertTrue(e.negotiatedByGo());
            assertTrue(e.canFlush() && e.canFua() && e.canTrim() && e.canWriteZeroes() && e.canMultiConn(), e.describe());
            assertFalse(e.readOnly());
            // the memory plugin states no block sizes: the protocol's defaults apply
            assertFalse(e.blockSizeSent(), e.describe());
            assertEquals(1, e.minimumBlock());
            assertEquals(NbdProtocol.DEFAULT_MAX_PAYLOAD, e.maximumPayload());
        }
    }

    @Test
    void nbdkitOverUnixSocketReadOnlyWithBlockSizes() throws Exception {
        NbdServer s = run(NbdServer.nbdkit(dir, true, "", List.of("-r", "--filter=blocksize-policy"), "memory", "1M",
                "blocksize-minimum=512", "blocksize-preferred=4096", "blocksize-maximum=65536"));
        try (NbdConnection c = NbdConnection.open(s.uri)) {
            NbdExport e = c.export();
            assertEquals(MIB, e.size());
            assertTrue(e.readOnly(), e.describe());
            assertTrue(e.blockSizeSent(), e.describe());
            assertEquals(512, e.minimumBlock());
            assertEquals(4096, e.preferredBlock());
            assertEquals(65536, e.maximumPayload());
        }
    }

    @Test
    void qemuNbdServesARawFileUnderItsName() throws Exception {
        Path img = sparseFile("disk.img", 8 * MIB);
        NbdServer s = run(NbdServer.qemuNbd(dir, false, "disk", img));
        try (NbdConnection c = NbdConnection.open(s.uri)) {
            NbdExport e = c.export();
            assertEquals(8 * MIB, e.size());
            assertTrue(e.canFlush() && e.canFua() && e.canTrim() && e.canWriteZeroes(), e.describe());
            // qemu-nbd 7.2 serves one client unless -e says more, and so does not offer multi-conn
            assertFalse(e.canMultiConn(), e.describe());
            assertTrue(e.blockSizeSent(), e.describe());
            assertEquals(32 * MIB, e.maximumPayload());
        }
    }

    @Test
    void nbdServerOverTcpWithItsConfiguredFlags() throws Exception {
        Path file = sparseFile("export.img", 4 * MIB);
        NbdServer s = run(NbdServer.nbdServer(dir, false, "disk", file, "flush = true", "fua = true", "trim = true"));
        try (NbdConnection c = NbdConnection.open(s.uri)) {
            NbdExport e = c.export();
            assertEquals(4 * MIB, e.size(), e.describe());
            assertTrue(e.canFlush() && e.canFua() && e.canTrim(), e.describe());
            assertFalse(e.readOnly(), e.describe());
        }
    }

    @Test
    void nbdServerOverAUnixSocketReadOnlyWithoutFlush() throws Exception {
        Path file = sparseFile("export.img", MIB);
        NbdServer s = run(NbdServer.nbdServer(dir, true, "ro", file, "readonly = true"));
        try (NbdConnection c = NbdConnection.open(s.uri)) {
            NbdExport e = c.export();
            assertEquals(MIB, e.size());
            assertTrue(e.readOnly(), e.describe());
            assertFalse(e.canFlush() || e.canFua() || e.canTrim(), e.describe());
        }
    }

    @Test
    void anUnknownExportIsNamedInTheRefusal() throws Exception {
        NbdServer kit = run(NbdServer.nbdkit(dir, true, "disk", List.of("--filter=exportname"), "memory", "1M",
                "exportname=disk", "exportname-strict=true"));
        assertNotFound(NbdUri.unix(kit.uri.socket(), "other"));

        Path img = sparseFile("q.img", MIB);
        NbdServer qemu = run(NbdServer.qemuNbd(dir, true, "disk", img));
        assertNotFound(NbdUri.unix(qemu.uri.socket(), "other"));
        // and the right name still works on the same server
        try (NbdConnection c = NbdConnection.open(qemu.uri)) {
            assertEquals(MIB, c.export().size());
        }
    }

    private static void assertNotFound(NbdUri uri) {
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(uri));
        assertTrue(e.exportNotFound(), e.getMessage());
        assertTrue(e.getMessage().contains("has no export named 'other'"), e.getMessage());
        assertTrue(e.getMessage().contains(uri.socket().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("NBD_REP_ERR_UNKNOWN"), e.getMessage());
    }

    @Test
    void anExportNotAMultipleOf512IsRefused() throws Exception {
        NbdServer s = run(NbdServer.nbdkit(dir, true, "", List.of(), "memory", "1000"));
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(s.uri));
        assertTrue(e.getMessage().contains("is 1000 bytes, not a multiple of 512"), e.getMessage());
    }

    @Test
    void aServerRequiringTlsIsReportedSo() throws Exception {
        // nbdkit will not start --tls=require without credentials; a PSK file is the lightest kind
        Path psk = dir.resolve("keys.psk");
        Files.writeString(psk, "alice:000102030405060708090a0b0c0d0e0f\n");
        Files.setPosixFilePermissions(psk, PosixFilePermissions.fromString("rw-------"));
        NbdServer s = run(NbdServer.nbdkit(dir, true, "", List.of("--tls=require", "--tls-psk=" + psk), "memory",
                "1M"));
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(s.uri));
        assertTrue(e.getMessage().startsWith("the server requires TLS"), e.getMessage());
        assertTrue(e.getMessage().contains("write nbds+unix:///?socket=" + s.uri.socket() + "&tls-certificates=DIR"),
                e.getMessage());
        assertEquals(NbdProtocol.REP_ERR_TLS_REQD, e.reply());
    }

    @Test
    void aSilentServerTimesOut() throws Exception {
        ScriptedNbdServer s = run(ScriptedNbdServer.start(dir, (in, out) -> in.read()));
        SocketTimeoutException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(SocketTimeoutException.class,
                        () -> NbdConnection.open(s.uri(""), Duration.ofMillis(300))));
        assertTrue(e.getMessage().contains("did not send its greeting (NBDMAGIC) within 300 ms"), e.getMessage());
    }

    @Test
    void aServerThatStopsMidwayTimesOut() throws Exception {
        ScriptedNbdServer s = run(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.greet(in, out, NbdProtocol.FLAG_FIXED_NEWSTYLE);
            ScriptedNbdServer.nextOption(in, out, new byte[1][], true);
            in.read();
        }));
        SocketTimeoutException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(SocketTimeoutException.class,
                        () -> NbdConnection.open(s.uri(""), Duration.ofMillis(300))));
        assertTrue(e.getMessage().contains("its reply to NBD_OPT_GO"), e.getMessage());
    }

    @Test
    void withoutNbdOptGoTheClientFallsBackToExportName() throws Exception {
        ScriptedNbdServer s = run(ScriptedNbdServer.start(dir, (in, out) -> {
            // an old server: no NBD_FLAG_NO_ZEROES, so the 124 zeroes follow the export's size and flags
            ScriptedNbdServer.greet(in, out, NbdProtocol.FLAG_FIXED_NEWSTYLE);
            byte[][] data = new byte[1][];
            int go = ScriptedNbdServer.nextOption(in, out, data, false);
            ScriptedNbdServer.optionReply(out, go, NbdProtocol.REP_ERR_UNSUP, new byte[0]);
            int opt = ScriptedNbdServer.readOption(in, data);
            if (opt != NbdProtocol.OPT_EXPORT_NAME || !new String(data[0], StandardCharsets.UTF_8).equals("old")) {
                throw new IOException("expected NBD_OPT_EXPORT_NAME 'old', got " + opt);
            }
            out.writeLong(2 * MIB);
            out.writeShort(NbdProtocol.FLAG_HAS_FLAGS | NbdProtocol.FLAG_SEND_FLUSH);
            out.write(new byte[124]);
            out.flush();
            // and the transmission phase starts right after them
            ScriptedNbdServer.Request flush = ScriptedNbdServer.readRequest(in);
            ScriptedNbdServer.simpleReply(out, NbdProtocol.SIMPLE_REPLY_MAGIC,
                    flush.type() == NbdProtocol.CMD_FLUSH ? 0 : NbdProtocol.EINVAL, flush.handle());
            out.flush();
            ScriptedNbdServer.Request disc = ScriptedNbdServer.readRequest(in);
            if (disc.type() != NbdProtocol.CMD_DISC) {
                throw new IOException("expected NBD_CMD_DISC, got " + disc);
            }
        }));
        NbdConnection c = NbdConnection.open(s.uri("old"));
        NbdExport e = c.export();
        assertFalse(e.negotiatedByGo());
        assertEquals(2 * MIB, e.size());
        assertTrue(e.canFlush());
        assertFalse(e.canFua());
        try (NbdClient client = new NbdClient(c, 4)) {
            Completed f = new Completed();
            client.flush(f);
            f.ok();
        }
        assertNull(s.awaitScript());
    }

    @Test
    void anOldServerHangingUpOnTheNameIsReportedAsNotFound() throws Exception {
        ScriptedNbdServer s = run(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.greet(in, out, NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
            byte[][] data = new byte[1][];
            int go = ScriptedNbdServer.nextOption(in, out, data, false);
            ScriptedNbdServer.optionReply(out, go, NbdProtocol.REP_ERR_UNSUP, new byte[0]);
            ScriptedNbdServer.readOption(in, data);
        }));
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(s.uri("gone")));
        assertTrue(e.exportNotFound(), e.getMessage());
        assertTrue(e.getMessage().contains("closed the connection when asked for export 'gone'"), e.getMessage());
    }

    @Test
    void otherRefusalsGiveTheirCodeAndTheServersText() throws Exception {
        ScriptedNbdServer s = run(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.greet(in, out, NbdProtocol.FLAG_FIXED_NEWSTYLE);
            byte[][] data = new byte[1][];
            int go = ScriptedNbdServer.nextOption(in, out, data, false);
            ScriptedNbdServer.optionReply(out, go, NbdProtocol.REP_ERR_POLICY,
                    "not for you".getBytes(StandardCharsets.UTF_8));
            // the client gives up politely
            int abort = ScriptedNbdServer.readOption(in, data);
            if (abort != NbdProtocol.OPT_ABORT) {
                throw new IOException("expected NBD_OPT_ABORT, got " + abort);
            }
        }));
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(s.uri("x")));
        assertTrue(e.getMessage().contains("refused export 'x' with NBD_REP_ERR_POLICY (0x80000002)"), e.getMessage());
        assertTrue(e.getMessage().contains("the server says: not for you"), e.getMessage());
        assertNull(s.awaitScript());
    }

    @Test
    void aServerWithoutFixedNewstyleIsRefused() throws Exception {
        ScriptedNbdServer s = run(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.greet(in, out, 0);
        }));
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(s.uri("")));
        assertTrue(e.getMessage().contains("does not offer the fixed newstyle negotiation"), e.getMessage());
    }

    @Test
    void noServerIsAConnectError() {
        NbdUri uri = NbdUri.unix(dir.resolve("nobody.sock"), "");
        ConnectException e = assertThrows(ConnectException.class, () -> NbdConnection.open(uri));
        assertTrue(e.getMessage().contains("cannot connect to the NBD server of " + uri), e.getMessage());
        assertInstanceOf(IOException.class, e.getCause());
    }

    private Path sparseFile(String name, long size) throws IOException {
        Path f = dir.resolve(name);
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), size - 1);
        }
        return f;
    }
}
