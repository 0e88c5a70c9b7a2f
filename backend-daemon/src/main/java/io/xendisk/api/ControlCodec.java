package io.xendisk.api;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The control protocol's wire format. One connection carries one request frame
 * from the CLI and one response frame back.
 *
 * <pre>
 * frame    = length:u32be payload[length]           1 &lt;= length &lt;= MAX_FRAME
 * payload  = "XDJC" version:u8(=1) kind:u8 body     (no bytes after body)
 * request  (kind 1) = verb:str argc:u32 str[argc] optc:u32 (key:str value:str)[optc]
 * response (kind 2) = exitCode:i32 stdout:str stderr:str
 * str      = length:u32be utf8[length]               strict UTF-8
 * </pre>
 *
 * Anything else (oversized, truncated, bad magic, invalid UTF-8, trailing
 * bytes) is a {@link ProtocolException} whose message says what was wrong.
 */
public final class ControlCodec {
    /** Largest accepted payload; far above any real command or status text. */
    public static final int MAX_FRAME = 1 << 20;
    static final byte[] MAGIC = {'X', 'D', 'J', 'C'};
    static final int VERSION = 1;
    static final int KIND_REQUEST = 1;
    static final int KIND_RESPONSE = 2;

    private ControlCodec() {
    }

    /** Encodes a request payload (without the length prefix). */
    public static byte[] encode(ControlRequest request) {
        return build(KIND_REQUEST, out -> {
            putString(out, request.verb());
            out.writeInt(request.args().size());
            for (String arg : request.args()) {
                putString(out, arg);
            }
            out.writeInt(request.options().size());
            for (Map.Entry<String, String> e : request.options().entrySet()) {
                putString(out, e.getKey());
                putString(out, e.getValue());
            }
        });
    }

    /** Encodes a response payload (without the length prefix). */
    public static byte[] encode(ControlResponse response) {
        return build(KIND_RESPONSE, out -> {
            out.writeInt(response.exitCode());
            putString(out, response.stdout());
            putString(out, response.stderr());
        });
    }

    /** Decodes a request payload. */
    public static ControlRequest decodeRequest(byte[] payload) throws ProtocolException {
        ByteBuffer in = open(payload, KIND_REQUEST, "request");
        try {
            String verb = getString(in);
            int argc = getCount(in, "argument");
            List<String> args = new ArrayList<>(argc);
            for (int i = 0; i < argc; i++) {
                args.add(getString(in));
            }
            int optc = getCount(in, "option");
            Map<String, String> options = new LinkedHashMap<>();
            for (int i = 0; i < optc; i++) {
                String key = getString(in);
                if (options.put(key, getString(in)) != null) {
                    throw new ProtocolException("control request repeats option '" + key + "'");
                }
            }
            finish(in, "request");
            return new ControlRequest(verb, args, options);
        } catch (BufferUnderflowException e) {
            throw new ProtocolException("control request truncated (" + payload.length + " bytes)");
        }
    }

    /** Decodes a response payload. */
    public static ControlResponse decodeResponse(byte[] payload) throws ProtocolException {
        ByteBuffer in = open(payload, KIND_RESPONSE, "response");
        try {
            int exitCode = in.getInt();
            String stdout = getString(in);
            String stderr = getString(in);
            finish(in, "response");
            return new ControlResponse(exitCode, stdout, stderr);
        } catch (BufferUnderflowException e) {
            throw new ProtocolException("control response truncated (" + payload.length + " bytes)");
        }
    }

    /** Writes one length-prefixed frame and flushes. */
    public static void writeFrame(OutputStream out, byte[] payload) throws IOException {
        if (payload.length == 0 || payload.length > MAX_FRAME) {
            throw new ProtocolException("control frame of " + payload.length
                    + " bytes is outside 1.." + MAX_FRAME);
        }
        DataOutputStream data = new DataOutputStream(out);
        data.writeInt(payload.length);
        data.write(payload);
        data.flush();
    }

    /**
     * Reads one length-prefixed frame. The length is checked before anything is
     * allocated, so a hostile prefix cannot make the reader allocate gigabytes.
     *
     * @throws EOFException if the stream ends before a whole frame arrived
     */
    public static byte[] readFrame(InputStream in) throws IOException {
        byte[] prefix = in.readNBytes(4);
        if (prefix.length < 4) {
            throw new EOFException(prefix.length == 0
                    ? "connection closed before a control frame"
                    : "connection closed inside a control frame's length prefix");
        }
        long length = ByteBuffer.wrap(prefix).getInt() & 0xffff_ffffL;
        if (length == 0 || length > MAX_FRAME) {
            throw new ProtocolException("control frame of " + length + " bytes is outside 1.." + MAX_FRAME
                    + " (not an xen-disk-java client or server?)");
        }
        byte[] payload = in.readNBytes((int) length);
        if (payload.length < length) {
            throw new EOFException("connection closed after " + payload.length + " of " + length
                    + " bytes of a control frame");
        }
        return payload;
    }

    @FunctionalInterface
    private interface Body {
        void write(DataOutputStream out) throws IOException;
    }

    private static byte[] build(int kind, Body body) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(MAGIC);
            out.writeByte(VERSION);
            out.writeByte(kind);
            body.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return bytes.toByteArray();
    }

    private static void putString(DataOutputStream out, String s) throws IOException {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(utf8.length);
        out.write(utf8);
    }

    private static ByteBuffer open(byte[] payload, int kind, String what) throws ProtocolException {
        if (payload.length < MAGIC.length + 2) {
            throw new ProtocolException("control " + what + " too short (" + payload.length + " bytes)");
        }
        ByteBuffer in = ByteBuffer.wrap(payload);
        for (byte b : MAGIC) {
            if (in.get() != b) {
                throw new ProtocolException("control " + what + " lacks the XDJC magic (not an xen-disk-java peer?)");
            }
        }
        int version = in.get() & 0xff;
        if (version != VERSION) {
            throw new ProtocolException("control protocol version " + version + " is not supported (this side speaks "
                    + VERSION + "; use the CLI and daemon of one installation)");
        }
        int got = in.get() & 0xff;
        if (got != kind) {
            throw new ProtocolException("expected a control " + what + " (kind " + kind + ") but got kind " + got);
        }
        return in;
    }

    private static int getCount(ByteBuffer in, String what) throws ProtocolException {
        int n = in.getInt();
        // each element needs at least its 4-byte length, so a count beyond that is a lie
        if (n < 0 || n > in.remaining() / 4) {
            throw new ProtocolException("control request claims " + Integer.toUnsignedString(n) + " " + what
                    + "s but has only " + in.remaining() + " bytes left");
        }
        return n;
    }

    private static String getString(ByteBuffer in) throws ProtocolException {
        int n = in.getInt();
        if (n < 0 || n > in.remaining()) {
            throw new ProtocolException("control string of " + Integer.toUnsignedString(n)
                    + " bytes overruns the frame (" + in.remaining() + " bytes left)");
        }
        ByteBuffer slice = in.slice(in.position(), n);
        in.position(in.position() + n);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(slice).toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException("control string is not valid UTF-8");
        }
    }

    private static void finish(ByteBuffer in, String what) throws ProtocolException {
        if (in.hasRemaining()) {
            throw new ProtocolException("control " + what + " has " + in.remaining() + " unexpected trailing bytes");
        }
    }
}
