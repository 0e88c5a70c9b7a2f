package io.xendisk.xen.store;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One xenstore message: the 16-byte little-endian header {type, req_id, tx_id, len}
 * (struct xsd_sockmsg) and up to {@link #MAX_PAYLOAD} payload bytes.
 */
public record XsPacket(int type, int reqId, int txId, byte[] payload) {
    public static final int HEADER_SIZE = 16;
    /** XENSTORE_PAYLOAD_MAX. */
    public static final int MAX_PAYLOAD = 4096;

    public static XsPacket of(XsType type, int reqId, int txId, byte[] payload) {
        return new XsPacket(type.code, reqId, txId, payload);
    }

    public static XsPacket of(XsType type, int reqId, int txId, String... nulTerminated) {
        return of(type, reqId, txId, strings(nulTerminated));
    }

    /** The type, or null when the peer sent a code we do not know. */
    public XsType xsType() {
        return XsType.of(type);
    }

    /** Encodes each string followed by a NUL byte. */
    public static byte[] strings(String... parts) {
        int n = 0;
        byte[][] enc = new byte[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            enc[i] = parts[i].getBytes(StandardCharsets.UTF_8);
            n += enc[i].length + 1;
        }
        byte[] out = new byte[n];
        int p = 0;
        for (byte[] e : enc) {
            System.arraycopy(e, 0, out, p, e.length);
            p += e.length + 1;
        }
        return out;
    }

    /** Splits a payload at NUL bytes; a trailing part without NUL is returned too. */
    public static List<String> split(byte[] payload) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < payload.length; i++) {
            if (payload[i] == 0) {
                out.add(new String(payload, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < payload.length) {
            out.add(new String(payload, start, payload.length - start, StandardCharsets.UTF_8));
        }
        return out;
    }

    public String payloadString() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    /** Writes header and payload in one gathering write. */
    public void writeTo(WritableByteChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(type).putInt(reqId).putInt(txId).putInt(payload.length).put(payload).flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /**
     * Reads one message. Returns null on a clean end of stream before a header.
     * @throws XsProtocolException when the header announces more than {@code maxPayload} bytes
     */
    public static XsPacket readFrom(ReadableByteChannel ch, int maxPayload) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        if (!readFully(ch, h, true)) {
            return null;
        }
        h.flip();
        int type = h.getInt();
        int reqId = h.getInt();
        int txId = h.getInt();
        int len = h.getInt();
        if (len < 0 || len > maxPayload) {
            throw new XsProtocolException("payload length " + Integer.toUnsignedString(len)
                    + " exceeds " + maxPayload + " (message type " + type + ")");
        }
        ByteBuffer p = ByteBuffer.allocate(len);
        readFully(ch, p, false);
        return new XsPacket(type, reqId, txId, p.array());
    }

    private static boolean readFully(ReadableByteChannel ch, ByteBuffer b, boolean eofOk) throws IOException {
        boolean any = false;
        while (b.hasRemaining()) {
            int n = ch.read(b);
            if (n < 0) {
                if (eofOk && !any) {
                    return false;
                }
                throw new EOFException("connection closed in the middle of a xenstore message");
            }
            any |= n > 0;
        }
        return true;
    }

    /** The peer broke the framing; the connection cannot be resynchronised. */
    public static final class XsProtocolException extends IOException {
        public XsProtocolException(String message) {
            super(message);
        }
    }
}
