package io.xendisk.storage.nbd;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An NBD server on a Unix socket that does what a test scripts, for what no
 * real server does on purpose: say nothing, lack NBD_OPT_GO, send replies
 * with bad magic or an unknown handle, or chunks of a structured reply in a
 * chosen order. Each connection runs the next script, one after the other.
 */
final class ScriptedNbdServer implements AutoCloseable {
    /** The server's side of the one connection. */
    interface Script {
        void run(DataInputStream in, DataOutputStream out) throws IOException;
    }

    /** One request as the client sent it. */
    record Request(int magic, int flags, int type, long handle, long offset, int length) {
    }

    private final ServerSocketChannel listener;
    private final Path socket;
    private final Thread thread;
    private final AtomicReference<SocketChannel> accepted = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    private ScriptedNbdServer(Path socket, Script... scripts) throws IOException {
        this.socket = socket;
        this.listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(socket));
        this.thread = new Thread(() -> {
            for (Script script : scripts) {
                try (SocketChannel ch = listener.accept()) {
                    accepted.set(ch);
                    DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
                    DataOutputStream out = new DataOutputStream(Channels.newOutputStream(ch));
                    script.run(in, out);
                    out.flush();
                } catch (IOException e) {
                    failure.set(e);
                    return;
                } catch (RuntimeException | Error e) {
                    failure.set(e);
                    return;
                }
            }
        }, "scripted-nbd-server");
        thread.setDaemon(true);
        thread.start();
    }

    /** A server whose connections run {@code scripts}, one each, in order. */
    static ScriptedNbdServer start(Path dir, Script... scripts) throws IOException {
        return new ScriptedNbdServer(dir.resolve("scripted-" + System.nanoTime() + ".sock"), scripts);
    }

    NbdUri uri(String exportName) {
        return NbdUri.unix(socket, exportName);
    }

    /** What went wrong on the server's side, if anything (a client hanging up is not an error here). */
    Throwable failure() {
        return failure.get();
    }

    /** Waits for the script to end by itself and returns what went wrong in it, if anything. */
    Throwable awaitScript() throws InterruptedException {
        thread.join(60_000);
        if (thread.isAlive()) {
            return new AssertionError("the scripted server is still running after 60 s");
        }
        return failure.get();
    }

    @Override
    public void close() throws Exception {
        listener.close();
        SocketChannel ch = accepted.get();
        if (ch != null) {
            ch.close();
        }
        thread.join(10_000);
    }

    // -- pieces of scripts

    /** The server's greeting with these handshake flags, and the client's flags it reads back. */
    static int greet(DataInputStream in, DataOutputStream out, int handshakeFlags) throws IOException {
        out.writeLong(NbdProtocol.NBDMAGIC);
        out.writeLong(NbdProtocol.IHAVEOPT);
        out.writeShort(handshakeFlags);
        out.flush();
        return in.readInt();
    }

    /** Reads one option: returns its number and stores its data in {@code data[0]}. */
    static int readOption(DataInputStream in, byte[][] data) throws IOException {
        long magic = in.readLong();
        if (magic != NbdProtocol.IHAVEOPT) {
            throw new IOException("option magic 0x" + Long.toHexString(magic));
        }
        int option = in.readInt();
        byte[] d = new byte[in.readInt()];
        in.readFully(d);
        data[0] = d;
        return option;
    }

    static void optionReply(DataOutputStream out, int option, int type, byte[] data) throws IOException {
        out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(type);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** The export name in NBD_OPT_GO's data. */
    static String goExportName(byte[] data) {
        int n = (data[0] & 0xff) << 24 | (data[1] & 0xff) << 16 | (data[2] & 0xff) << 8 | data[3] & 0xff;
        return new String(data, 4, n, StandardCharsets.UTF_8);
    }

    /**
     * Reads options up to the next one that is not NBD_OPT_STRUCTURED_REPLY,
     * answering that one with an ack ({@code structured}) or, as a server that
     * predates it, with NBD_REP_ERR_UNSUP; returns the next option's number
     * (its data in {@code data[0]}).
     */
    static int nextOption(DataInputStream in, DataOutputStream out, byte[][] data, boolean structured)
            throws IOException {
        while (true) {
            int option = readOption(in, data);
            if (option != NbdProtocol.OPT_STRUCTURED_REPLY) {
                return option;
            }
            optionReply(out, option, structured ? NbdProtocol.REP_ACK : NbdProtocol.REP_ERR_UNSUP, new byte[0]);
        }
    }

    /** A complete, successful NBD_OPT_GO exchange for an export of {@code size} bytes, with simple replies. */
    static void handshake(DataInputStream in, DataOutputStream out, long size, int transmissionFlags)
            throws IOException {
        handshake(in, out, size, transmissionFlags, false);
    }

    /** A complete NBD_OPT_GO exchange; {@code structured}: structured replies agreed. */
    static void handshake(DataInputStream in, DataOutputStream out, long size, int transmissionFlags,
                          boolean structured) throws IOException {
        greet(in, out, NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
        byte[][] data = new byte[1][];
        int option = nextOption(in, out, data, structured);
        if (option != NbdProtocol.OPT_GO) {
            throw new IOException("expected NBD_OPT_GO, got option " + option);
        }
        java.nio.ByteBuffer info = java.nio.ByteBuffer.allocate(12);
        info.putShort((short) NbdProtocol.INFO_EXPORT).putLong(size).putShort((short) transmissionFlags);
        optionReply(out, option, NbdProtocol.REP_INFO, info.array());
        optionReply(out, option, NbdProtocol.REP_ACK, new byte[0]);
    }

    static Request readRequest(DataInputStream in) throws IOException {
        Request r = new Request(in.readInt(), in.readUnsignedShort(), in.readUnsignedShort(), in.readLong(),
                in.readLong(), in.readInt());
        if (r.type() == NbdProtocol.CMD_WRITE) {
            in.skipNBytes(r.length());
        }
        return r;
    }

    /** One chunk of a structured reply: header, then {@code payload}. */
    static void chunk(DataOutputStream out, int flags, int type, long handle, byte[] payload) throws IOException {
        out.writeInt(NbdProtocol.STRUCTURED_REPLY_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(handle);
        out.writeInt(payload.length);
        out.write(payload);
    }

    static void simpleReply(DataOutputStream out, int magic, int error, long handle) throws IOException {
        out.writeInt(magic);
        out.writeInt(error);
        out.writeLong(handle);
    }
}
