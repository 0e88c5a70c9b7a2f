package io.xendisk.storage.nbd;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A real NBD server run by a test: nbdkit, qemu-nbd or nbd-server, on a free
 * TCP port of 127.0.0.1 or on a Unix socket in the test's directory. It is
 * ready once the kernel lists its socket as listening (read from /proc/net,
 * so that no probing connection uses up nbd-server's single one). A missing
 * server fails the test and names the Debian package to install.
 */
final class NbdServer implements AutoCloseable {
    private static final long READY_TIMEOUT_MS = 20_000;

    final String name;
    final Process process;
    final NbdUri uri;
    final Path log;

    private NbdServer(String name, Process process, NbdUri uri, Path log) {
        this.name = name;
        this.process = process;
        this.uri = uri;
        this.log = log;
    }

    /**
     * {@code nbdkit [options] plugin args} in the foreground, exiting with us.
     * Arguments before the plugin name (filters, -r, -e, --tls) go in
     * {@code options}; {@code exportName} is the name the URI asks for.
     */
    static NbdServer nbdkit(Path dir, boolean unix, String exportName, List<String> options, String... plugin) {
        return nbdkit(dir, unix ? dir.resolve("nbdkit-" + System.nanoTime() + ".sock") : null, exportName, options,
                plugin);
    }

    /**
     * {@link #nbdkit(Path, boolean, String, List, String...)} on the Unix
     * socket {@code socket} (null: TCP), which a server started again can
     * listen on as the one before it did.
     */
    static NbdServer nbdkit(Path dir, Path socket, String exportName, List<String> options, String... plugin) {
        return start("nbdkit", "nbdkit", dir, socket, exportName, (port, sock) -> {
            List<String> cmd = new ArrayList<>(List.of("--exit-with-parent", "-f", "-v"));
            if (sock != null) {
                cmd.addAll(List.of("-U", sock.toString()));
            } else {
                cmd.addAll(List.of("-i", "127.0.0.1", "-p", Integer.toString(port)));
            }
            cmd.addAll(options);
            cmd.addAll(List.of(plugin));
            return cmd;
        });
    }

    /** {@code qemu-nbd} serving a raw {@code image} under {@code exportName}, persistent. */
    static NbdServer qemuNbd(Path dir, boolean unix, String exportName, Path image, String... options) {
        return start("qemu-nbd", "qemu-utils", dir, socketIn(dir, unix, "qemu-nbd"), exportName, (port, socket) -> {
            List<String> cmd = new ArrayList<>(List.of("-f", "raw", "--persistent", "-x", exportName));
            if (socket != null) {
                cmd.addAll(List.of("-k", socket.toString()));
            } else {
                cmd.addAll(List.of("-b", "127.0.0.1", "-p", Integer.toString(port)));
            }
            cmd.addAll(List.of(options));
            cmd.add(image.toString());
            return cmd;
        });
    }

    /**
     * {@code nbd-server -d} (in the foreground; it then serves one connection)
     * with a config file exporting {@code file} as section {@code exportName};
     * {@code exportLines} go into that section ("flush = true", ...).
     */
    static NbdServer nbdServer(Path dir, boolean unix, String exportName, Path file, String... exportLines) {
        return start("nbd-server", "nbd-server", dir, socketIn(dir, unix, "nbd-server"), exportName, (port, socket) -> {
            StringBuilder conf = new StringBuilder("[generic]\n");
            if (socket != null) {
                conf.append("unixsock = ").append(socket).append('\n');
            } else {
                conf.append("port = ").append(port).append('\n').append("listenaddr = 127.0.0.1\n");
            }
            conf.append('[').append(exportName).append("]\n").append("exportname = ").append(file).append('\n');
            for (String line : exportLines) {
                conf.append(line).append('\n');
            }
            Path confFile = dir.resolve("nbd-server-" + System.nanoTime() + ".conf");
            try {
                Files.writeString(confFile, conf);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            return List.of("-C", confFile.toString(), "-d");
        });
    }

    /** Kills the server at once (SIGKILL), as a crash would. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** What the server wrote, for failure messages. */
    String output() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(" + log + ": " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return name + " at " + uri;
    }

    private interface CommandLine {
        List<String> args(int port, Path socket);
    }

    private static Path socketIn(Path dir, boolean unix, String tool) {
        return unix ? dir.resolve(tool + "-" + System.nanoTime() + ".sock") : null;
    }

    private static NbdServer start(String tool, String debianPackage, Path dir, Path socket, String exportName,
                                   CommandLine line) {
        boolean unix = socket != null;
        Path bin = Path.of("/usr/bin", tool);
        if (!Files.isExecutable(bin)) {
            fail(bin + " is missing: install Debian's " + debianPackage + " (apt-get install " + debianPackage + ")");
        }
        // a port found free may be taken before the server binds it: then try another
        for (int attempt = 1; ; attempt++) {
            int port = unix ? -1 : freePort();
            if (unix) {
                try {
                    // a killed server leaves its socket behind
                    Files.deleteIfExists(socket);
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            }
            List<String> cmd = new ArrayList<>();
            cmd.add(bin.toString());
            cmd.addAll(line.args(port, socket));
            Path log = dir.resolve(tool + "-" + System.nanoTime() + ".log");
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            } catch (IOException e) {
                throw new AssertionError("starting " + cmd, e);
            }
            NbdUri uri = unix ? NbdUri.unix(socket, exportName) : NbdUri.tcp("127.0.0.1", port, exportName);
            NbdServer server = new NbdServer(tool, p, uri, log);
            long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
            while (true) {
                if (unix ? listeningUnix(socket) : listeningTcp(port)) {
                    return server;
                }
                if (!p.isAlive()) {
                    if (!unix && attempt < 3 && server.output().contains("in use")) {
                        break;
                    }
                    fail(String.join(" ", cmd) + " exited " + p.exitValue() + " before listening:\n" + server.output());
                }
                if (System.currentTimeMillis() > deadline) {
                    p.destroyForcibly();
                    fail(String.join(" ", cmd) + " did not listen within " + READY_TIMEOUT_MS + " ms:\n"
                            + server.output());
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    p.destroyForcibly();
                    throw new AssertionError("interrupted waiting for " + tool, e);
                }
            }
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new AssertionError("no free port", e);
        }
    }

    /** A LISTEN (state 0A) entry for the port in /proc/net/tcp or tcp6. */
    private static boolean listeningTcp(int port) {
        String hexPort = ":" + String.format(Locale.ROOT, "%04X", port);
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String row : lines(table)) {
                String[] f = row.trim().split("\\s+");
                if (f.length > 3 && f[1].endsWith(hexPort) && f[3].equals("0A")) {
                    return true;
                }
            }
        }
        return false;
    }

    /** An entry for the path with __SO_ACCEPTCON (00010000) in /proc/net/unix: listen() was called. */
    private static boolean listeningUnix(Path socket) {
        for (String row : lines("/proc/net/unix")) {
            String[] f = row.trim().split("\\s+");
            if (f.length > 7 && f[7].equals(socket.toString()) && f[3].equals("00010000")) {
                return true;
            }
        }
        return false;
    }

    private static List<String> lines(String file) {
        try {
            return Files.readAllLines(Path.of(file), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new AssertionError("reading " + file, e);
        }
    }
}
