package io.xendisk.guest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.xen.sim.domain.GuestControl;

/**
 * The guest's control socket: a unix socket where each line a client sends
 * is one command; the reply is any number of text lines, then a last line
 * {@code OK} or {@code ERROR <message>}. One thread per client, so a long
 * workload on one disk does not block {@code status} or another disk.
 */
final class ControlServer implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(ControlServer.class);

    /** Runs one command, writing its lines; returns normally for OK, throws for ERROR (the message is sent). */
    @FunctionalInterface
    interface Handler {
        void handle(String line, Consumer<String> out) throws Exception;
    }

    private final Path path;
    private final ServerSocketChannel server;
    private final Handler handler;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private ControlServer(Path path, ServerSocketChannel server, Handler handler) {
        this.path = path;
        this.server = server;
        this.handler = handler;
        this.acceptor = new Thread(this::acceptLoop, "control " + path);
        this.acceptor.setDaemon(true);
    }

    /** Binds {@code path} (replacing a stale socket file) and starts accepting. */
    static ControlServer start(Path path, Handler handler) throws IOException {
        Files.createDirectories(path.toAbsolutePath().getParent());
        Files.deleteIfExists(path);
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            s.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot listen on control socket " + path + ": " + e.getMessage()
                    + " (unix socket paths are limited to 107 bytes; pick a shorter --control path)", e);
        }
        ControlServer c = new ControlServer(path, s, handler);
        c.acceptor.start();
        return c;
    }

    Path path() {
        return path;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel c = server.accept();
                clients.add(c);
                Thread t = new Thread(() -> serve(c), "control client");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("control socket {}: accept failed: {}", path, e.getMessage());
                }
                return;
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8));
            OutputStream out = Channels.newOutputStream(c);
            Consumer<String> sink = line -> send(out, line);
            for (String line; (line = in.readLine()) != null;) {
                if (line.isBlank()) {
                    continue;
                }
                try {
                    handler.handle(line.trim(), sink);
                    send(out, GuestControl.OK);
                } catch (Exception e) {
                    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
                    if (!(e instanceof IllegalArgumentException || e instanceof BlkfrontException)) {
                        LOG.warn("control command '{}' failed", line, e);
                    }
                    send(out, GuestControl.ERROR + " " + msg.replace('\n', ' '));
                }
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            LOG.debug("control client gone: {}", e.getMessage());
        } finally {
            clients.remove(c);
        }
    }

    private static void send(OutputStream out, String line) {
        try {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Stops accepting, disconnects clients and removes the socket file. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            LOG.debug("closing control socket {}: {}", path, e.getMessage());
        }
        for (SocketChannel c : clients) {
            try {
                c.close();
            } catch (IOException e) {
                // already gone
            }
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.debug("removing control socket {}: {}", path, e.getMessage());
        }
    }
}
