package io.xendisk.api;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ControlCodecTest {

    @Test
    void requestRoundTripsThroughAFrame() throws IOException {
        ControlRequest req = new ControlRequest("sim", List.of("start", "", "ünïcødé ✓"),
                Map.of("platform", "sim", "empty", ""));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ControlCodec.writeFrame(out, ControlCodec.encode(req));
        byte[] frame = ControlCodec.readFrame(new ByteArrayInputStream(out.toByteArray()));
        assertEquals(req, ControlCodec.decodeRequest(frame));
    }

    @Test
    void responseRoundTrips() throws IOException {
        ControlResponse resp = new ControlResponse(3, "line 1\nline 2\n", "wärning\n");
        assertEquals(resp, ControlCodec.decodeResponse(ControlCodec.encode(resp)));
        ControlResponse empty = new ControlResponse(0, "", "");
        assertEquals(empty, ControlCodec.decodeResponse(ControlCodec.encode(empty)));
    }

    @Test
    void oversizedLengthPrefixIsRejectedBeforeReading() {
        byte[] prefix = ByteBuffer.allocate(4).putInt(ControlCodec.MAX_FRAME + 1).array();
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> ControlCodec.readFrame(new ByteArrayInputStream(prefix)));
        assertTrue(e.getMessage().contains("outside 1.." + ControlCodec.MAX_FRAME), e.getMessage());
        byte[] huge = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
        assertThrows(ProtocolException.class, () -> ControlCodec.readFrame(new ByteArrayInputStream(huge)));
        assertThrows(ProtocolException.class, () -> ControlCodec.readFrame(new ByteArrayInputStream(new byte[4])));
    }

    @Test
    void writerRefusesOversizedPayloads() {
        assertThrows(ProtocolException.class,
                () -> ControlCodec.writeFrame(new ByteArrayOutputStream(), new byte[ControlCodec.MAX_FRAME + 1]));
    }

    @Test
    void truncatedFramesAreEof() {
        assertThrows(EOFException.class, () -> ControlCodec.readFrame(new ByteArrayInputStream(new byte[0])));
        assertThrows(EOFException.class, () -> ControlCodec.readFrame(new ByteArrayInputStream(new byte[2])));
        byte[] shortBody = ByteBuffer.allocate(7).putInt(10).put(new byte[3]).array();
        assertThrows(EOFException.class, () -> ControlCodec.readFrame(new ByteArrayInputStream(shortBody)));
    }

    @Test
    void badHeadersAreRejectedWithAReason() {
        byte[] good = ControlCodec.encode(ControlRequest.of("status"));
        byte[] badMagic = good.clone();
        badMagic[0] = 'Y';
        assertMessage("magic", () -> ControlCodec.decodeRequest(badMagic));
        byte[] badVersion = good.clone();
        badVersion[4] = 9;
        assertMessage("version 9", () -> ControlCodec.decodeRequest(badVersion));
        assertMessage("expected a control response",
                () -> ControlCodec.decodeResponse(good));
        assertMessage("too short", () -> ControlCodec.decodeRequest(new byte[]{'X', 'D'}));
    }

    @Test
    void bodiesThatLieAboutLengthsAreRejected() {
        byte[] good = ControlCodec.encode(ControlRequest.of("status"));
        // verb length claims more bytes than the frame has
        byte[] overrun = good.clone();
        ByteBuffer.wrap(overrun).putInt(6, 1000);
        assertMessage("overruns", () -> ControlCodec.decodeRequest(overrun));
        // negative argument count
        byte[] negative = good.clone();
        ByteBuffer.wrap(negative).putInt(6 + 4 + 6, -1);
        assertMessage("claims", () -> ControlCodec.decodeRequest(negative));
        // bytes after the body
        byte[] trailing = Arrays.copyOf(good, good.length + 3);
        assertMessage("trailing", () -> ControlCodec.decodeRequest(trailing));
        // body cut short
        byte[] cut = Arrays.copyOf(good, good.length - 2);
        assertMessage("truncated", () -> ControlCodec.decodeRequest(cut));
    }

    @Test
    void invalidUtf8IsRejected() {
        byte[] req = ControlCodec.encode(ControlRequest.of("abc"));
        req[10] = (byte) 0xc3; // first byte of "abc" becomes a lone UTF-8 lead byte
        req[11] = (byte) 0x28;
        assertMessage("UTF-8", () -> ControlCodec.decodeRequest(req));
    }

    @Test
    void duplicateOptionsAreRejected() {
        byte[] one = ControlCodec.encode(new ControlRequest("s", List.of(), Map.of("k", "v")));
        // append a second "k"="w" pair by re-encoding by hand: count 2, k v, k w
        ByteBuffer b = ByteBuffer.allocate(one.length + 10);
        b.put(one, 0, one.length - 4 - 1 - 4 - 1 - 4); // up to and excluding optc
        b.putInt(2).putInt(1).put((byte) 'k').putInt(1).put((byte) 'v').putInt(1).put((byte) 'k').putInt(1).put((byte) 'w');
        byte[] dup = Arrays.copyOf(b.array(), b.position());
        assertMessage("repeats option", () -> ControlCodec.decodeRequest(dup));
    }

    @FunctionalInterface
    private interface Decode {
        Object run() throws IOException;
    }

    private static void assertMessage(String fragment, Decode decode) {
        ProtocolException e = assertThrows(ProtocolException.class, decode::run);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }

    @Test
    void encodingIsStable() {
        // pins the documented layout: magic, version, kind, verb
        byte[] b = ControlCodec.encode(ControlRequest.of("ls"));
        assertArrayEquals(new byte[]{'X', 'D', 'J', 'C', 1, 1, 0, 0, 0, 2, 'l', 's', 0, 0, 0, 0, 0, 0, 0, 0}, b);
    }
}
