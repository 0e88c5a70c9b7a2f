package io.xendisk.xen.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.xendisk.xen.store.XsPacket;
import io.xendisk.xen.store.XsType;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A raw xenstore wire client for tests: sends packets, collects replies and watch
 * events in arrival order. Waits are bounded only to turn a hang into a failure.
 */
final class XsTestClient implements AutoCloseable {
    private static final long WAIT_SECONDS = 10;
    private static final XsPacket EOF = new XsPacket(-1, 0, 0, new byte[0]);

    private final SocketChannel ch;
    private final LinkedBlockingQueue<XsPacket> in = new LinkedBlockingQueue<>();
    private final Deque<XsPacket> events = new ArrayDeque<>();
    private int reqId = 100;

    private XsTestClient(SocketChannel ch) {
        this.ch = ch;
        Thread t = new Thread(this::readLoop, "xs-test-client");
        t.setDaemon(true);
        t.start();
    }

    static XsTestClient connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return new XsTestClient(ch);
    }

    private void readLoop() {
        try {
            while (true) {
                XsPacket p = XsPacket.readFrom(ch, 1 << 20);
                if (p == null) {
                    break;
                }
                in.add(p);
            }
        } catch (IOException e) {
            // closed
        } finally {
            in.add(EOF);
        }
    }

    /** Sends a request and returns its reply; watch events seen meanwhile are kept for {@link #event()}. */
    XsPacket request(XsType type, int txId, byte[] payload) throws IOException {
        int id = ++reqId;
        new XsPacket(type.code, id, txId, payload).writeTo(ch);
        while (true) {
            XsPacket p = take();
            if (p == EOF) {
                fail("the server closed the connection instead of answering " + type);
            }
            if (p.type() == XsType.WATCH_EVENT.code) {
                assertEquals(0, p.reqId(), "watch events carry req_id 0");
                assertEquals(0, p.txId(), "watch events carry tx_id 0");
                events.add(p);
                continue;
            }
            assertEquals(id, p.reqId(), "reply echoes req_id");
            assertEquals(txId, p.txId(), "reply echoes tx_id");
            assertTrue(p.type() == type.code || p.type() == XsType.ERROR.code, "reply type " + p.type());
            return p;
        }
    }

    XsPacket request(XsType type, int txId, String... args) throws IOException {
        return request(type, txId, XsPacket.strings(args));
    }

    /** The payload of a successful reply, as a string. */
    String ok(XsType type, int txId, String... args) throws IOException {
        return ok(request(type, txId, args));
    }

    static String ok(XsPacket reply) {
        assertNotEquals(XsType.ERROR.code, reply.type(), () -> "unexpected error " + reply.payloadString());
        return reply.payloadString();
    }

    /** The errno name of an ERROR reply. */
    String error(XsType type, int txId, String... args) throws IOException {
        return error(request(type, txId, args));
    }

    static String error(XsPacket reply) {
        assertEquals(XsType.ERROR.code, reply.type(), () -> "expected an error, got " + reply.payloadString());
        String s = reply.payloadString();
        assertTrue(s.endsWith("\0"), "errno name is NUL-terminated");
        return s.substring(0, s.length() - 1);
    }

    String write(String path, String value) throws IOException {
        return write(0, path, value);
    }

    String write(int tx, String path, String value) throws IOException {
        byte[] p = (path + "\0" + value).getBytes(StandardCharsets.UTF_8);
        XsPacket r = request(XsType.WRITE, tx, p);
        return r.type() == XsType.ERROR.code ? error(r) : r.payloadString();
    }

    String read(String path) throws IOException {
        return read(0, path);
    }

    /** The value, or "E..." (the errno name) on error. */
    String read(int tx, String path) throws IOException {
        XsPacket r = request(XsType.READ, tx, path);
        return r.type() == XsType.ERROR.code ? error(r) : r.payloadString();
    }

    int startTransaction() throws IOException {
        String id = ok(XsType.TRANSACTION_START, 0, "");
        assertTrue(id.endsWith("\0"));
        return Integer.parseInt(id.substring(0, id.length() - 1));
    }

    /** The next packet that is not a watch event (the reply to something sent raw). */
    XsPacket nextReply() {
        while (true) {
            XsPacket p = take();
            if (p == EOF) {
                fail("the server closed the connection instead of answering");
            }
            if (p.type() != XsType.WATCH_EVENT.code) {
                return p;
            }
            events.add(p);
        }
    }

    /** The next watch event as [path, token]. */
    List<String> event() {
        XsPacket p = events.poll();
        if (p == null) {
            p = take();
            assertEquals(XsType.WATCH_EVENT.code, p.type(), "expected a watch event");
        }
        assertTrue(p.payloadString().endsWith("\0"));
        return XsPacket.split(p.payload());
    }

    /**
     * Asserts no watch event is queued for this client: a round trip is made first,
     * and the server queues events before the replies that follow them.
     */
    void assertNoEvent() throws IOException {
        ok(XsType.GET_DOMAIN_PATH, 0, "0");
        if (!events.isEmpty()) {
            fail("unexpected watch event " + XsPacket.split(events.peek().payload()));
        }
    }

    void sendRaw(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static byte[] header(int type, int reqId, int txId, int len) {
        return ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putInt(type).putInt(reqId).putInt(txId).putInt(len).array();
    }

    /** Asserts the server closed the connection (after any packets still in flight). */
    void assertClosedByServer() {
        while (true) {
            XsPacket p = take();
            if (p == EOF) {
                return;
            }
        }
    }

    private XsPacket take() {
        try {
            XsPacket p = in.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            assertNotNull(p, "no answer from the server");
            if (p == EOF) {
                in.add(EOF); // stays closed for later calls
            }
            return p;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
