package io.xendisk.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/** Debian's nbdkit as the benchmarks start it: its memory plugin on a Unix socket, gone with this JVM. */
final class Nbdkit {
    private Nbdkit() {
    }

    /** Starts nbdkit serving {@code mib} MiB of memory on {@code socket}; returns once the socket is there. */
    static Process memory(Path socket, long mib, Path log) throws Exception {
        Files.deleteIfExists(socket);
        Process p = new ProcessBuilder("nbdkit", "--exit-with-parent", "-f", "-U", socket.toString(), "memory", mib + "M")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        for (int i = 0; i < 200 && !Files.exists(socket); i++) {
            if (!p.isAlive()) {
                throw new IllegalStateException("nbdkit exited (install Debian's nbdkit): " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return p;
    }
}
