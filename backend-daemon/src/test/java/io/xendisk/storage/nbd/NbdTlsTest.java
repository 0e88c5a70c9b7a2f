package io.xendisk.storage.nbd;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * nbds:// against nbdkit and qemu-nbd serving with X.509 certificates (made
 * here by openssl): data both ways over TCP and a Unix socket, a client
 * certificate for a server that asks for one, a reconnect that does TLS
 * again, and every way it is refused: no TLS where it is required, TLS where
 * the server has none, a server whose certificate another CA signed or that
 * is for another name, and pre-shared keys.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdTlsTest {
    private static final int MIB = 1 << 20;

    @TempDir
    static Path shared;
    private static Path certs;
    private static Path otherCa;

    @TempDir
    Path dir;

    @AutoClose
    private final Kept kept = new Kept();

    @BeforeAll
    static void certificates() throws Exception {
        certs = TestCertificates.make(shared.resolve("pki"));
        // a client that trusts only another CA
        Path other = TestCertificates.make(shared.resolve("other"));
        otherCa = Files.createDirectory(shared.resolve("other-ca-only"));
        Files.copy(other.resolve("ca-cert.pem"), otherCa.resolve("ca-cert.pem"));
    }

    private NbdServer nbdkitTls(boolean unix, String... options) {
        List<String> opts = new java.util.ArrayList<>(List.of("--tls=require", "--tls-certificates=" + certs));
        opts.addAll(List.of(options));
        return kept.keep(NbdServer.nbdkit(dir, unix, "", opts, "memory", "16M"));
    }

    /** The server's URI as nbds, with {@code query} after '?'. */
    private static NbdUri nbds(NbdServer s, String query) {
        String plain = s.uri.toString();
        String tls = plain.replaceFirst("^nbd", "nbds").replace("://127.0.0.1:", "://localhost:");
        return NbdUri.parse(tls + (tls.contains("?") ? "&" : "?") + query);
    }

    @Test
    void nbdkitOverTcpAndUnixSocketCarriesDataEncrypted() throws Exception {
        for (boolean unix : new boolean[] {false, true}) {
            NbdServer s = nbdkitTls(unix);
            NbdUri uri = nbds(s, "tls-certificates=" + certs);
            try (NbdConnection c = NbdConnection.open(uri)) {
                assertTrue(c.encrypted(), uri.toString());
            }
            roundTrip(kept.keep(NbdClient.open(uri, 16)), 7);
        }
    }

    @Test
    void qemuNbdWithX509Credentials() throws Exception {
        Path image = Files.write(dir.resolve("disk.img"), new byte[4 * MIB]);
        NbdServer s = kept.keep(NbdServer.qemuNbd(dir, false, "disk", image, "--object",
                "tls-creds-x509,id=tls0,dir=" + certs + ",endpoint=server", "--tls-creds", "tls0"));
        NbdClient c = kept.keep(NbdClient.open(nbds(s, "tls-certificates=" + certs), 16));
        byte[] written = roundTrip(c, 8);
        c.close();
        byte[] file = Files.readAllBytes(image);
        assertArrayEquals(written, java.util.Arrays.copyOf(file, written.length), "the image qemu-nbd serves");
    }

    @Test
    void aServerThatAsksForAClientCertificateGetsOne() throws Exception {
        NbdServer s = nbdkitTls(true, "--tls-verify-peer");
        // the directory holds client-cert.pem and a PKCS#1 client-key.pem
        roundTrip(kept.keep(NbdClient.open(nbds(s, "tls-certificates=" + certs), 4)), 3);

        Path caOnly = Files.createDirectory(dir.resolve("ca-only"));
        Files.copy(certs.resolve("ca-cert.pem"), caOnly.resolve("ca-cert.pem"));
        NbdException e = assertThrows(NbdException.class,
                () -> NbdConnection.open(nbds(s, "tls-certificates=" + caOnly)));
        // TLS 1.3: the server refuses the missing certificate after the client's side of the handshake
        assertTrue(e.getMessage().contains("dropped the connection right after the TLS handshake")
                && e.getMessage().contains("put one signed by its CA in " + caOnly + "/client-cert.pem"), e.getMessage());
    }

    @Test
    void aReconnectDoesTlsAgain() throws Exception {
        Path socket = dir.resolve("tls.sock");
        List<String> opts = List.of("--tls=require", "--tls-certificates=" + certs);
        NbdServer first = NbdServer.nbdkit(dir, socket, "", opts, "memory", "16M");
        NbdUri uri = nbds(first, "tls-certificates=" + certs);
        NbdClient c = kept.keep(NbdClient.open(uri, 8, Duration.ofMinutes(1)));
        first.kill();
        kept.keep(NbdServer.nbdkit(dir, socket, "", opts, "memory", "16M"));
        // the memory plugin starts empty: what matters is that the write and read go through
        roundTrip(c, 11);
        assertEquals(null, c.failure());
    }

    @Test
    void withoutTlsAServerThatRequiresItSaysSo() {
        NbdServer s = nbdkitTls(false);
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(s.uri));
        assertTrue(e.getMessage().contains("requires TLS") && e.getMessage().contains("NBD_REP_ERR_TLS_REQD")
                && e.getMessage().contains("write nbds://127.0.0.1:" + s.uri.port() + "/?tls-certificates=DIR"),
                e.getMessage());
    }

    @Test
    void withTlsAServerWithoutItIsRefusedByName() {
        NbdServer s = kept.keep(NbdServer.nbdkit(dir, false, "", List.of("--tls=off"), "memory", "1M"));
        NbdException e = assertThrows(NbdException.class, () -> NbdConnection.open(nbds(s, "tls-certificates="
                + certs)));
        assertTrue(e.getMessage().contains("does not offer TLS: it answered NBD_OPT_STARTTLS with"), e.getMessage());
        assertTrue(e.getMessage().contains("or write nbd://localhost:" + s.uri.port()), e.getMessage());
    }

    @Test
    void aCertificateOfAnotherCaOrForAnotherNameFailsTheHandshake() throws Exception {
        NbdServer s = nbdkitTls(false);
        NbdException ca = assertThrows(NbdException.class,
                () -> NbdConnection.open(nbds(s, "tls-certificates=" + otherCa)));
        assertTrue(ca.getMessage().contains("the TLS handshake with the NBD server at localhost:" + s.uri.port()
                + " failed") && ca.getMessage().contains(otherCa + "/ca-cert.pem is the CA that signed"), ca.getMessage());
        NbdException name = assertThrows(NbdException.class,
                () -> NbdConnection.open(nbds(s, "tls-certificates=" + certs + "&tls-hostname=disks.example")));
        assertTrue(name.getMessage().contains("the TLS handshake") && name.getMessage().contains("disks.example"),
                name.getMessage());
        // not checking the server at all still encrypts
        try (NbdConnection c = NbdConnection.open(nbds(s, "tls-certificates=" + otherCa + "&tls-verify-peer=false"))) {
            assertTrue(c.encrypted());
        }
    }

    @Test
    void preSharedKeysAreRefusedNamingTheAlternative() {
        NbdUri uri = NbdUri.parse("nbds://localhost/?tls-psk-file=/etc/keys.psk");
        NbdException e = assertThrows(NbdException.class, () -> NbdTls.engine(uri));
        assertTrue(e.getMessage().contains("Java's TLS has no PSK cipher suites; serve the export with X.509"
                + " certificates"), e.getMessage());
    }

    /** Random writes, a flush, then every block read back; returns what was written from offset 0. */
    private static byte[] roundTrip(NbdClient c, int seed) throws Exception {
        byte[] data = new byte[MIB];
        new Random(seed).nextBytes(data);
        Completed w = new Completed();
        c.write(0, ByteBuffer.wrap(data), false, w);
        w.ok();
        Completed f = new Completed();
        c.flush(f);
        f.ok();
        ByteBuffer back = ByteBuffer.allocateDirect(MIB);
        Completed r = new Completed();
        c.read(0, back, r);
        r.ok();
        byte[] got = new byte[MIB];
        back.get(0, got);
        assertArrayEquals(data, got);
        return data;
    }
}
