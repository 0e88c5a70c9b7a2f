package io.xendisk.daemon;

import io.xendisk.api.ControlCodec;
import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ControlServerTest {
    @TempDir
    Path dir;
    private Path socket;
    private ControlServer server;

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("c.sock");
        server = ControlServer.start(socket, new PeerPolicy(0), req -> {
            if (req.verb().equals("boom")) {
                throw new IllegalStateException("handler bug");
            }
            return ControlResponse.ok(req.verb() + " " + String.join(",", req.args()));
        });
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private ControlResponse exchange(byte[] raw) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap(raw));
            return ControlCodec.decodeResponse(ControlCodec.readFrame(Channels.newInputStream(ch)));
        }
    }

    private static byte[] frame(byte[] payload) {
        return ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array();
    }

    @Test
    void answersARequestAndSocketIsPrivate() throws IOException {
        ControlResponse r = exchange(frame(ControlCodec.encode(ControlRequest.of("echo", "a", "b"))));
        assertEquals(new ControlResponse(0, "echo a,b", ""), r);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    }

    @Test
    void badFramesGetAnErrorAndTheServerKeepsServing() throws IOException {
        ControlResponse tooBig = exchange(new byte[]{0x7f, 0, 0, 0});
        assertEquals(ControlResponse.USAGE, tooBig.exitCode());
        assertTrue(tooBig.stderr().contains("bad control request"), tooBig.stderr());

        ControlResponse garbage = exchange(frame("GET / HTTP/1.0\r\n\r\n".getBytes()));
        assertEquals(ControlResponse.USAGE, garbage.exitCode());
        assertTrue(garbage.stderr().contains("magic"), garbage.stderr());

        // a client that hangs up mid-frame costs nothing
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap(new byte[]{0, 0, 1}));
        }

        ControlResponse bug = exchange(frame(ControlCodec.encode(ControlRequest.of("boom"))));
        assertEquals(ControlResponse.FAILED, bug.exitCode());
        assertTrue(bug.stderr().contains("handler bug"), bug.stderr());

        assertEquals("still here", exchange(frame(ControlCodec.encode(ControlRequest.of("still", "here")))).stdout());
    }

    @Test
    void closeRemovesTheSocket() {
        server.close();
        assertFalse(Files.exists(socket));
    }
}
