package io.xendisk.storage.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A certificate directory as nbdkit, qemu-nbd and the client read one, made by
 * tests/tls/make-certs.sh (Debian's openssl): {@code ca-cert.pem}, {@code
 * server-cert.pem} and {@code server-key.pem} for localhost and 127.0.0.1,
 * {@code client-cert.pem} and a PKCS#1 {@code client-key.pem}.
 */
final class TestCertificates {
    private TestCertificates() {
    }

    /** Makes {@code dir} with a CA of its own and certificates signed by it. */
    static Path make(Path dir) throws IOException, InterruptedException {
        Path script = null;
        for (Path d = Path.of("").toAbsolutePath(); d != null && script == null; d = d.getParent()) {
            Path s = d.resolve("tests/tls/make-certs.sh");
            script = Files.isRegularFile(s) ? s : null;
        }
        if (script == null) {
            fail("tests/tls/make-certs.sh not found above " + Path.of("").toAbsolutePath());
        }
        Path log = Files.createTempFile("make-certs", ".log");
        Process p = new ProcessBuilder("bash", script.toString(), dir.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            fail(script + " " + dir + " failed: " + Files.readString(log) + " (see " + dir + "/openssl.log)");
        }
        Files.delete(log);
        return dir;
    }
}
