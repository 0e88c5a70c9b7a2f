package io.xendisk.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's nbdkit serving a test's disk on a Unix socket, exiting with the
 * test's JVM. Ready once the socket exists; a server that exits first fails
 * the test with what it printed.
 */
final class Nbdkit implements AutoCloseable {
    static final Path BIN = Path.of("/usr/bin/nbdkit");

    final Path socket;
    private final Process process;
    private final Path log;

    private Nbdkit(Path socket, Process process, Path log) {
        this.socket = socket;
        this.process = process;
        this.log = log;
    }

    /** {@code nbdkit -U socket [args]}, args being filters, the plugin and its parameters. */
    static Nbdkit serve(Path socket, String... args) throws Exception {
        Tools.require(BIN, "nbdkit");
        // a server killed before leaves its socket behind, which would look ready
        Files.deleteIfExists(socket);
        List<String> cmd = new ArrayList<>(List.of(BIN.toString(), "--exit-with-parent", "-f", "-U", socket.toString()));
        cmd.addAll(List.of(args));
        Path log = socket.resolveSibling(socket.getFileName() + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        for (int i = 0; i < 200 && !Files.exists(socket); i++) {
            if (!p.isAlive()) {
                throw new AssertionError(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        if (!Files.exists(socket)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " made no socket in 10 s: " + Files.readString(log));
        }
        return new Nbdkit(socket, p, log);
    }

    /** The export's URI as libnbd and QEMU write it. */
    String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    /** SIGKILL, as a crash. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    String output() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
