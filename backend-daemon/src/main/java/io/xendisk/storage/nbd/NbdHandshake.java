package io.xendisk.storage.nbd;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import tlschannel.ClientTlsChannel;
import tlschannel.NeedsReadException;
import tlschannel.NeedsWriteException;
import tlschannel.TlsChannel;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

import static io.xendisk.storage.nbd.NbdProtocol.*;

/**
 * The fixed newstyle negotiation on a freshly connected, non-blocking channel:
 * NBDMAGIC, IHAVEOPT and the handshake flags from the server, our client
 * flags, for an {@code nbds} URI NBD_OPT_STARTTLS and the TLS handshake (all
 * that follows is encrypted), then NBD_OPT_STRUCTURED_REPLY (a server that does not know it keeps
 * to simple replies), then NBD_OPT_GO for the export with an
 * NBD_INFO_BLOCK_SIZE request, falling back to NBD_OPT_EXPORT_NAME for servers
 * that answer NBD_OPT_GO with NBD_REP_ERR_UNSUP.
 *
 * <p>Every wait goes through one selector against one deadline, so a server
 * that stops talking at any step fails the handshake with a
 * {@link SocketTimeoutException} instead of holding the caller.
 */
final class NbdHandshake {
    private static final Logger LOG = LogManager.getLogger(NbdHandshake.class);
    /** Option replies we take: NBD_REP_INFO is tiny, error texts are strings of at most 4096 bytes. */
    private static final int MAX_OPTION_REPLY = 64 << 10;
    private static final int ZEROES = 124;

    private final SocketChannel ch;
    /** The bytes: the socket, then TLS over it after NBD_OPT_STARTTLS. */
    private NbdTransport io;
    private final NbdUri uri;
    private final long deadline;
    private final long timeoutMillis;
    private final Selector selector;
    private final SelectionKey key;
    private boolean noZeroes;
    private boolean structured;

    private NbdHandshake(SocketChannel ch, NbdUri uri, long deadline, long timeoutMillis) throws IOException {
        this.ch = ch;
        this.io = NbdTransport.plain(ch);
        this.uri = uri;
        this.deadline = deadline;
        this.timeoutMillis = timeoutMillis;
        this.selector = Selector.open();
        this.key = ch.register(selector, 0);
    }

    /** What the handshake ends with: the export, and the bytes of the transmission phase. */
    record Negotiated(NbdExport export, NbdTransport transport) {
    }

    /**
     * Negotiates {@code uri}'s export on {@code ch} (connected, non-blocking)
     * before {@code deadline} (System.nanoTime). On success the channel is in
     * the transmission phase, and may block again; on failure the caller
     * closes it.
     */
    static Negotiated negotiate(SocketChannel ch, NbdUri uri, long deadline, long timeoutMillis) throws IOException {
        NbdHandshake h = new NbdHandshake(ch, uri, deadline, timeoutMillis);
        try {
            NbdExport export = h.run();
            return new Negotiated(export, h.io);
        } catch (IOException e) {
            boolean broken = e instanceof ClosedByServer || !(e instanceof NbdException || e instanceof SocketTimeoutException);
            if (!h.io.encrypted() || !broken) {
                throw e;
            }
            // with TLS 1.3 the server checks our certificate after our side of the handshake is done
            String dir = uri.parameters().get("tls-certificates");
            throw new NbdException("the NBD server at " + uri.server() + " dropped the connection right after the"
                    + " TLS handshake (" + e.getMessage() + "); if it asks for a client certificate (nbdkit"
                    + " --tls-verify-peer, qemu-nbd verify-peer=on), put one signed by its CA in "
                    + (dir == null ? "DIR" : dir) + "/" + NbdTls.CLIENT_CERT + " and its key in "
                    + (dir == null ? "DIR" : dir) + "/" + NbdTls.CLIENT_KEY
                    + (dir == null ? " and give tls-certificates=DIR" : ""), e);
        } finally {
            // closing the selector deregisters the channel, which may then block again
            h.selector.close();
        }
    }

    private NbdExport run() throws IOException {
        ByteBuffer greeting = ByteBuffer.allocate(18);
        readFully(greeting, "its greeting (NBDMAGIC)");
        long magic = greeting.getLong(0);
        if (magic != NBDMAGIC) {
            throw new NbdException(uri.server() + " is not an NBD server: it greeted with 0x" + Long.toHexString(magic)
                    + " instead of NBDMAGIC (check the host and port in " + uri + ")");
        }
        long style = greeting.getLong(8);
        if (style == CLISERV_MAGIC) {
            throw new NbdException("the NBD server at " + uri.server() + " speaks the oldstyle negotiation, which this"
                    + " client does not (configure it for newstyle: nbd-server since 3.10 only does newstyle;"
                    + " nbdkit without -o/--oldstyle)");
        }
        if (style != IHAVEOPT) {
            throw new NbdException("protocol error from the NBD server at " + uri.server() + ": 0x"
                    + Long.toHexString(style) + " follows NBDMAGIC instead of IHAVEOPT");
        }
        int handshakeFlags = greeting.getShort(16) & 0xffff;
        if ((handshakeFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            throw new NbdException("the NBD server at " + uri.server() + " does not offer the fixed newstyle"
                    + " negotiation (NBD_FLAG_FIXED_NEWSTYLE), which this client needs; upgrade the server");
        }
        noZeroes = (handshakeFlags & FLAG_NO_ZEROES) != 0;
        int clientFlags = FLAG_C_FIXED_NEWSTYLE | (noZeroes ? FLAG_C_NO_ZEROES : 0);
        writeFully(ByteBuffer.allocate(4).putInt(0, clientFlags), "our client flags");
        if (uri.tls()) {
            startTls();
        }
        structured = structuredReplies();

        byte[] name = uri.exportName().getBytes(StandardCharsets.UTF_8);
        ByteBuffer go = option(OPT_GO, 4 + name.length + 2 + 2);
        go.putInt(name.length).put(name).putShort((short) 1).putShort((short) INFO_BLOCK_SIZE).flip();
        writeFully(go, "NBD_OPT_GO");

        long size = -1;
        int flags = 0;
        int minimum = 1;
        int preferred = 4096;
        long maximum = DEFAULT_MAX_PAYLOAD;
        boolean blockSizeSent = false;
        while (true) {
            OptionReply reply = optionReply(OPT_GO, "NBD_OPT_GO");
            int type = reply.type();
            ByteBuffer data = reply.data();
            long length = data.remaining();
            if (type == REP_INFO) {
                if (length < 2) {
                    throw protocol("NBD_REP_INFO of " + length + " bytes has no information type");
                }
                int info = data.getShort(0) & 0xffff;
                if (info == INFO_EXPORT) {
                    if (length != 12) {
                        throw protocol("NBD_INFO_EXPORT is " + length + " bytes, not 12");
                    }
                    size = data.getLong(2);
                    flags = data.getShort(10) & 0xffff;
                } else if (info == INFO_BLOCK_SIZE) {
                    if (length != 14) {
                        throw protocol("NBD_INFO_BLOCK_SIZE is " + length + " bytes, not 14");
                    }
                    minimum = data.getInt(2);
                    preferred = data.getInt(6);
                    maximum = data.getInt(10) & 0xffffffffL;
                    blockSizeSent = true;
                }
                // other information types are for clients that asked for them
            } else if (type == REP_ACK) {
                if (size < 0) {
                    throw protocol("it acknowledged NBD_OPT_GO without sending NBD_INFO_EXPORT");
                }
                return export(size, flags, minimum, preferred, maximum, blockSizeSent, true);
            } else if (type == REP_ERR_UNSUP) {
                LOG.debug("NBD server {} does not know NBD_OPT_GO; falling back to NBD_OPT_EXPORT_NAME", uri.server());
                return exportName(name);
            } else if ((type & REP_FLAG_ERROR) != 0) {
                throw refusal(type, new String(data.array(), StandardCharsets.UTF_8));
            } else {
                throw protocol("it answered NBD_OPT_GO with " + replyName(type));
            }
        }
    }

    /**
     * Asks for structured replies; true when the server agreed. Any refusal
     * (NBD_REP_ERR_UNSUP from a server that predates them, a policy) leaves
     * simple replies, which every server speaks.
     */
    private boolean structuredReplies() throws IOException {
        writeFully(option(OPT_STRUCTURED_REPLY, 0).flip(), "NBD_OPT_STRUCTURED_REPLY");
        int type = optionReply(OPT_STRUCTURED_REPLY, "NBD_OPT_STRUCTURED_REPLY").type();
        if (type == REP_ACK) {
            return true;
        }
        if ((type & REP_FLAG_ERROR) == 0) {
            throw protocol("it answered NBD_OPT_STRUCTURED_REPLY with " + replyName(type));
        }
        LOG.debug("NBD server {} keeps to simple replies: {}", uri.server(), replyName(type));
        return false;
    }

    /**
     * NBD_OPT_STARTTLS, then the TLS handshake over the same socket; every
     * byte after it is encrypted. A server without TLS, or whose certificate
     * does not check out, fails the handshake by name.
     */
    private void startTls() throws IOException {
        writeFully(option(OPT_STARTTLS, 0).flip(), "NBD_OPT_STARTTLS");
        OptionReply reply = optionReply(OPT_STARTTLS, "NBD_OPT_STARTTLS");
        if (reply.type() != REP_ACK) {
            String text = new String(reply.data().array(), StandardCharsets.UTF_8);
            abort();
            throw new NbdException("the NBD server at " + uri.server() + " does not offer TLS: it answered"
                    + " NBD_OPT_STARTTLS with " + replyName(reply.type()) + (text.isEmpty() ? "" : " (the server says: "
                    + text + ")") + "; serve the export with TLS (nbdkit --tls=require --tls-certificates=DIR,"
                    + " qemu-nbd --tls-creds) or write " + uri.toString().replaceFirst("^nbds", "nbd")
                    + " for a connection without it", reply.type(), null);
        }
        TlsChannel tls = ClientTlsChannel.newBuilder(ch, NbdTls.engine(uri)).build();
        io = NbdTransport.tls(ch, tls);
        while (true) {
            try {
                tls.handshake();
                return;
            } catch (NeedsReadException e) {
                await(SelectionKey.OP_READ, "complete the TLS handshake");
            } catch (NeedsWriteException e) {
                await(SelectionKey.OP_WRITE, "take the TLS handshake");
            } catch (SSLException e) {
                throw new NbdException("the TLS handshake with the NBD server at " + uri.server() + " failed: "
                        + e.getMessage() + "; check that " + (uri.parameters().get("tls-certificates") == null
                        ? "the server's certificate is signed by a CA this host trusts, or give"
                        + " tls-certificates=DIR with the CA in DIR/" + NbdTls.CA
                        : uri.parameters().get("tls-certificates") + "/" + NbdTls.CA + " is the CA that signed the"
                        + " server's certificate") + ", and that the certificate names the host (tls-hostname=NAME"
                        + " names another)");
            }
        }
    }

    /** An option's reply: its type and data (flipped). */
    private record OptionReply(int type, ByteBuffer data) {
    }

    /** Reads one reply to option {@code sent} ({@code name}, for messages). */
    private OptionReply optionReply(int sent, String name) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(20);
        readFully(header, "its reply to " + name);
        if (header.getLong(0) != OPTION_REPLY_MAGIC) {
            throw protocol("option reply magic 0x" + Long.toHexString(header.getLong(0)) + " is not 0x"
                    + Long.toHexString(OPTION_REPLY_MAGIC));
        }
        int option = header.getInt(8);
        if (option != sent) {
            throw protocol("it answered option " + option + " when we sent " + name + " (" + sent + ")");
        }
        long length = header.getInt(16) & 0xffffffffL;
        if (length > MAX_OPTION_REPLY) {
            throw protocol("its reply to " + name + " announces " + length + " bytes of data");
        }
        ByteBuffer data = ByteBuffer.allocate((int) length);
        readFully(data, "the data of its reply to " + name);
        return new OptionReply(header.getInt(12), data.flip());
    }

    /** The old way in: no errors, no block sizes; a server that dislikes the name just hangs up. */
    private NbdExport exportName(byte[] name) throws IOException {
        ByteBuffer opt = option(OPT_EXPORT_NAME, name.length);
        opt.put(name).flip();
        writeFully(opt, "NBD_OPT_EXPORT_NAME");
        ByteBuffer reply = ByteBuffer.allocate(10 + (noZeroes ? 0 : ZEROES));
        try {
            readFully(reply, "its reply to NBD_OPT_EXPORT_NAME");
        } catch (ClosedByServer e) {
            throw new NbdException("the NBD server at " + uri.server() + " closed the connection when asked for"
                    + " export '" + uri.exportName() + "' (NBD_OPT_EXPORT_NAME; this server is too old to say why):"
                    + " it probably has no such export; check the export name in " + uri, REP_ERR_UNKNOWN, e);
        }
        return export(reply.getLong(0), reply.getShort(8) & 0xffff, 1, 4096, DEFAULT_MAX_PAYLOAD, false, false);
    }

    private NbdExport export(long size, int flags, int minimum, int preferred, long maximum, boolean blockSizeSent,
                             boolean byGo) throws NbdException {
        String name = uri.exportName();
        if ((flags & FLAG_HAS_FLAGS) == 0) {
            throw protocol("the transmission flags 0x" + Integer.toHexString(flags) + " of export '" + name
                    + "' lack NBD_FLAG_HAS_FLAGS");
        }
        if (size < 0 || size % 512 != 0) {
            disconnect();
            throw new NbdException("export '" + name + "' on the NBD server at " + uri.server() + " is "
                    + Long.toUnsignedString(size) + " bytes, not a multiple of 512, and cannot be a disk"
                    + " (resize what it serves to a multiple of 512: truncate -s, qemu-img resize)");
        }
        if (Integer.bitCount(minimum) != 1 || minimum > 65536 || maximum < minimum) {
            throw protocol("its block sizes for export '" + name + "' are invalid: minimum " + minimum
                    + ", preferred " + preferred + ", maximum " + maximum);
        }
        NbdExport export = new NbdExport(name, size, flags, minimum, preferred, maximum, blockSizeSent, byGo,
                structured);
        LOG.debug("NBD server {} export '{}': {}", uri.server(), name, export.describe());
        return export;
    }

    private NbdException refusal(int type, String text) {
        String why = text.isEmpty() ? "" : " (the server says: " + text + ")";
        String export = "'" + uri.exportName() + "'";
        abort();
        return switch (type) {
            case REP_ERR_UNKNOWN -> new NbdException("the NBD server at " + uri.server() + " has no export named "
                    + export + why + " (NBD_REP_ERR_UNKNOWN); check the export name in " + uri, type, null);
            case REP_ERR_TLS_REQD -> new NbdException("the server requires TLS for export " + export + " at "
                    + uri.server() + why + " (NBD_REP_ERR_TLS_REQD); write " + uri.toString().replaceFirst("^nbd",
                    "nbds") + (uri.toString().contains("?") ? "&" : "?") + "tls-certificates=DIR, DIR holding the CA"
                    + " that signed the server's certificate as " + NbdTls.CA, type, null);
            case REP_ERR_SHUTDOWN -> new NbdException("the NBD server at " + uri.server() + " is shutting down"
                    + why + " (NBD_REP_ERR_SHUTDOWN); try again once it is back", type, null);
            default -> new NbdException("the NBD server at " + uri.server() + " refused export " + export + " with "
                    + replyName(type) + why, type, null);
        };
    }

    /** The soft disconnect the protocol asks for when we give up; whether it gets through does not matter. */
    private void abort() {
        try {
            io.write(option(OPT_ABORT, 0).flip());
        } catch (IOException | RuntimeException e) {
            LOG.trace("NBD_OPT_ABORT to {} not sent: {}", uri.server(), e.toString());
        }
    }

    /** After NBD_OPT_GO's ack or NBD_OPT_EXPORT_NAME we are in the transmission phase, left by NBD_CMD_DISC. */
    private void disconnect() {
        ByteBuffer disc = ByteBuffer.allocate(REQUEST_HEADER_SIZE).putInt(REQUEST_MAGIC).putShort((short) 0)
                .putShort(CMD_DISC).putLong(0).putLong(0).putInt(0).flip();
        try {
            io.write(disc);
        } catch (IOException | RuntimeException e) {
            LOG.trace("NBD_CMD_DISC to {} not sent: {}", uri.server(), e.toString());
        }
    }

    private NbdException protocol(String problem) {
        return new NbdException("protocol error from the NBD server at " + uri.server() + " during the handshake: "
                + problem);
    }

    private static ByteBuffer option(int option, int length) {
        return ByteBuffer.allocate(16 + length).putLong(IHAVEOPT).putInt(option).putInt(length);
    }

    private void readFully(ByteBuffer b, String what) throws IOException {
        while (b.hasRemaining()) {
            int n;
            try {
                n = io.read(b);
            } catch (NeedsReadException e) {
                n = 0;
            } catch (NeedsWriteException e) {
                await(SelectionKey.OP_WRITE, "send " + what);
                continue;
            }
            if (n < 0) {
                throw new ClosedByServer("the NBD server at " + uri.server() + " closed the connection before"
                        + " sending " + what);
            }
            if (n == 0) {
                await(SelectionKey.OP_READ, "send " + what);
            }
        }
    }

    private void writeFully(ByteBuffer b, String what) throws IOException {
        while (b.hasRemaining()) {
            int n;
            try {
                n = io.write(b);
            } catch (NeedsWriteException e) {
                n = 0;
            } catch (NeedsReadException e) {
                await(SelectionKey.OP_READ, "take " + what);
                continue;
            }
            if (n == 0) {
                await(SelectionKey.OP_WRITE, "take " + what);
            }
        }
    }

    private void await(int op, String what) throws IOException {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new SocketTimeoutException("the NBD server at " + uri.server() + " did not " + what + " within "
                    + timeoutMillis + " ms of connecting; is it overloaded or not an NBD server?");
        }
        key.interestOps(op);
        selector.select(Math.max(1, left / 1_000_000));
        selector.selectedKeys().clear();
    }

    /** The server hung up during the handshake. */
    static final class ClosedByServer extends NbdException {
        private static final long serialVersionUID = 1L;

        ClosedByServer(String message) {
            super(message);
        }
    }
}
