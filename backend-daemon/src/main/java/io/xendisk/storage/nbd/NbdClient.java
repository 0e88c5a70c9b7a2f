package io.xendisk.storage.nbd;

import io.xendisk.storage.Zeros;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import static io.xendisk.storage.nbd.NbdProtocol.*;

/**
 * The transmission phase on one NBD connection, with many requests in flight.
 *
 * <p><b>Requests.</b> {@link #read}, {@link #write}, {@link #flush}, {@link #trim}
 * and {@link #writeZeroes} send their request from the calling thread (any
 * number of threads may call; a lock keeps each header and its payload
 * together on the socket) and return; the {@link Completion} runs once the
 * server has answered. At most {@link #maxInFlight()} requests are in flight:
 * a caller beyond that waits for a free slot. Reads and writes larger than
 * {@link #maxRequest()} (the server's maximum payload, at most 32 MiB, 32 MiB
 * when it states none) are split into several NBD requests, and complete once
 * all of them have. Offsets and lengths must be multiples of the export's
 * minimum block size and stay within the export: anything else, and commands
 * the export does not offer (flush, FUA, trim, write zeroes, writes to a
 * read-only export), throw at the call, as they are the caller's mistakes.
 *
 * <p><b>Buffers.</b> A read fills {@code dst} from its position to its limit, a
 * write sends {@code src} from its position to its limit. The buffer belongs to
 * the client until the completion runs; on success its position is then at its
 * limit, like after a channel read or write, and the limit is unchanged.
 *
 * <p><b>Completions and errors.</b> {@link Completion#done(int, IOException)}
 * gets 0 on success, else an NBD error value: the server's own (NBD_EIO,
 * NBD_ENOSPC, NBD_EPERM, ... passed on as sent) with a null {@code failure},
 * or NBD_EIO with the {@link IOException} saying why the client has no
 * answer: the connection broke, the server broke the protocol (a reply with
 * bad magic or an unknown handle; the client then closes the connection), or
 * the client was closed. Once the client has failed, every request in
 * flight completes that way and so does every later one, at once. A request completes once its reply has been read and
 * the call that sent it is done with it, whichever comes last; so a
 * completion runs on the reply reader thread, or on the calling thread before
 * the call returns (when the reply overtakes the call's own return, and always
 * when the client refuses the request at once: closed, failed, or nothing to
 * do), or on the thread that found the connection broken. Completions must be
 * short and must not wait for this client (a request submitted from a
 * completion can wait for a slot that only the reader thread can free).
 *
 * <p><b>Batches.</b> Requests are written as they are submitted, or, by a
 * client made {@code batched}, held (headers and write payloads up to 64
 * KiB, copied) until {@link #unplug()}, a caller waiting for a slot, or a
 * full buffer, so that a ring's batch costs one write. A larger payload goes
 * out from its own buffer, with what is held before it.
 *
 * <p><b>A dropped connection</b> (the server closed or reset it, or a read or
 * a send on it failed) is made again, as long as the client allows
 * ({@code reconnectFor}): the requests in flight wait, are sent again on the
 * new connection, whose export must still take them ({@link NbdExport#lostIn}),
 * and complete as the new server answers; so a caller sees a pause, never an
 * error for a request the server may not have seen. Writes are sent again
 * whole, reads fill their buffer again from its start. A write the old
 * server answered is as durable as that server made it: only a FLUSH
 * promises more, here as anywhere in NBD. Past {@code reconnectFor}, when
 * the export changed, or with {@link Duration#ZERO}, the client fails.
 * A protocol error is not a dropped connection: it fails the client at once.
 *
 * <p><b>Timeouts.</b> The handshake is bounded by {@link NbdConnection#open}.
 * In the transmission phase a request has no time limit of its own (a slow
 * store is not a dead one); {@link #close(Duration)} bounds how long it waits
 * for the requests in flight before failing them.
 *
 * <p><b>On the wire.</b> Simple replies, and structured replies where the
 * server agreed to them: a read's data then comes in chunks, in any order,
 * holes as a length the client fills with zeroes, errors with a message
 * (logged at debug). Each request takes one of the preallocated slots; its 64-bit
 * handle is the slot's index in the low bits and the slot's use count above,
 * so a handle is never reused on a connection and the reader finds the request
 * from the handle without a map. Headers are written from and read into
 * buffers allocated once; a request that is not split allocates nothing.
 */
public final class NbdClient implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(NbdClient.class);
    /** How long {@link #close()} waits for requests in flight. */
    public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(30);
    /** A bound on requests in flight that keeps a disk's queue busy without flooding a server. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 64;
    /** Long enough for a server to be restarted by hand or by systemd, short of a guest's hung-task alarm. */
    public static final Duration DEFAULT_RECONNECT_FOR = Duration.ofMinutes(2);
    /** Attempts to connect again start this far apart and double up to {@link #RECONNECT_DELAY_MAX}. */
    private static final long RECONNECT_DELAY_MIN = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long RECONNECT_DELAY_MAX = TimeUnit.SECONDS.toNanos(2);
    private static final int MAX_SLOTS = 1 << 16;
    /**
     * Heap buffers are copied through a per-thread temporary direct buffer the
     * size of each channel read or write, which the JDK keeps; moving them in
     * pieces keeps that at 1 MiB rather than the largest request.
     */
    private static final int HEAP_CHUNK = 1 << 20;
    /** An error chunk: error, message length, a message of at most 4096 bytes, and an offset. */
    private static final int MAX_ERROR_CHUNK = 6 + 4096 + 8;
    /** Trims are not limited by the payload size; QEMU sends up to INT_MAX, aligned. */
    private static final long MAX_TRIM = Integer.MAX_VALUE;
    /** Room for a ring's batch of requests; write payloads up to {@link #COPY_MAX} are copied into it. */
    private static final int OUT_BUFFER = 256 << 10;
    /** A ring request's largest payload without indirect segments (11 pages) fits, with room to spare. */
    private static final int COPY_MAX = 64 << 10;

    /** No request in flight in the slot. */
    private static final long FREE = 0;
    /** The reader thread is taking the slot's reply. */
    private static final long ANSWERING = -1;
    /** The connection failed under the request. */
    private static final long FAILED = -2;

    /** How a request ends; see the class comment. */
    @FunctionalInterface
    public interface Completion {
        /**
         * @param error   0 on success, else an NBD error value ({@link NbdProtocol#EIO}, ...)
         * @param failure null when the server answered; else why there is no answer (then error is NBD_EIO)
         */
        void done(int error, IOException failure);
    }

    private final NbdUri uri;
    /** The export as first opened: what requests are checked against, whatever the server says later. */
    private final NbdExport export;
    private final Duration reconnectFor;
    /** The connection now; replaced by the reader thread under the send lock when one is made again. */
    private volatile NbdConnection connection;
    /** {@link #connection}'s bytes; senders write them under the send lock. */
    private NbdTransport channel;
    /** Counts the connections, under the send lock: a slot records on which one it was sent. */
    private long generation;
    /** Set under the send lock from a dropped connection until the next one is made: senders leave their requests to be sent again. */
    private volatile boolean reconnecting;
    /** Why a send found the connection broken; the reader, whose read the close interrupts, tells that cause. */
    private final AtomicReference<IOException> sendLost = new AtomicReference<>();
    private final Slot[] slots;
    private final ArrayBlockingQueue<Slot> free;
    private final int indexBits;
    private final int maxRequest;
    private final int maxZeroes;
    private final long maxTrim;

    private final ReentrantLock sendLock = new ReentrantLock();
    /** Requests not written yet, headers and small write payloads; under the send lock. */
    private final ByteBuffer out = ByteBuffer.allocateDirect(OUT_BUFFER);
    private final boolean batched;
    private final ByteBuffer[] gather = new ByteBuffer[2];
    /** What the reader thread reads replies from. */
    private final ReplyInput input;
    private final Thread reader;

    private final AtomicReference<IOException> failure = new AtomicReference<>();
    private volatile boolean closing;
    /** Set under the send lock once NBD_CMD_DISC is out: nothing may follow it. */
    private volatile boolean disconnected;
    private final Object closeLock = new Object();

    /** One request in flight, reused; {@link #inflight} publishes the other fields. */
    private static final class Slot {
        final int index;
        /** The request's handle while in flight, else FREE, ANSWERING or FAILED. */
        final AtomicLong inflight = new AtomicLong(FREE);
        /** The sender and the reply each arrive once; the last one completes the request. */
        final AtomicInteger pending = new AtomicInteger();
        long uses;
        long handle;
        /** The buffer's position when taken: a request sent again starts there again. */
        int start;
        /** The reader is reading the reply (its data, or chunks of a structured reply); the reader's own. */
        boolean answering;
        /** Bytes of a read that a structured reply's chunks covered so far; the reader's own. */
        long received;
        /** What was last sent from the slot and on which connection, under the send lock. */
        long sentHandle;
        long sentGeneration;
        short type;
        short flags;
        long offset;
        int length;
        ByteBuffer buffer;
        Completion completion;
        int error;
        IOException failure;

        Slot(int index) {
            this.index = index;
        }
    }

    /**
     * {@link #NbdClient(NbdConnection, int, Duration)} making a dropped
     * connection again for {@link #DEFAULT_RECONNECT_FOR}.
     */
    public NbdClient(NbdConnection connection, int maxInFlight) {
        this(connection, maxInFlight, DEFAULT_RECONNECT_FOR);
    }

    /**
     * Takes over {@code connection} (closing it when this client closes) with
     * at most {@code maxInFlight} requests in flight at once, and starts its
     * reply reader thread. A dropped connection is made again to the same URI
     * for up to {@code reconnectFor} ({@link Duration#ZERO}: never).
     */
    public NbdClient(NbdConnection connection, int maxInFlight, Duration reconnectFor) {
        this(connection, maxInFlight, reconnectFor, false);
    }

    /**
     * As {@link #NbdClient(NbdConnection, int, Duration)}; with {@code batched}
     * a request is held until {@link #unplug()} (or until a caller must wait
     * for a slot, or the held requests fill a buffer), so that a batch goes
     * out in one write.
     */
    public NbdClient(NbdConnection connection, int maxInFlight, Duration reconnectFor, boolean batched) {
        if (maxInFlight < 1 || maxInFlight > MAX_SLOTS) {
            throw new IllegalArgumentException("maxInFlight " + maxInFlight + " is not from 1 to " + MAX_SLOTS);
        }
        if (reconnectFor.isNegative()) {
            throw new IllegalArgumentException("reconnectFor " + reconnectFor + " is negative");
        }
        this.reconnectFor = reconnectFor;
        this.batched = batched;
        this.connection = connection;
        this.uri = connection.uri();
        this.export = connection.export();
        this.channel = connection.transport();
        this.indexBits = 32 - Integer.numberOfLeadingZeros(Math.max(1, maxInFlight - 1));
        this.slots = new Slot[maxInFlight];
        this.free = new ArrayBlockingQueue<>(maxInFlight);
        for (int i = 0; i < maxInFlight; i++) {
            slots[i] = new Slot(i);
            free.add(slots[i]);
        }
        // lengths stay multiples of the minimum block, and of 512 where the server allows that much
        int align = Math.max(export.minimumBlock(), 512);
        long payload = Math.min(export.maximumPayload(), DEFAULT_MAX_PAYLOAD);
        int unit = payload >= align ? align : export.minimumBlock();
        this.maxRequest = (int) (payload / unit * unit);
        this.maxZeroes = maxRequest;
        this.maxTrim = MAX_TRIM / unit * unit;
        this.input = new ReplyInput(uri.server());
        this.reader = new Thread(this::readReplies, "nbd-reader " + uri.server());
        reader.setDaemon(true);
        reader.start();
    }

    /** Opens {@code uri} ({@link NbdConnection#open(NbdUri)}) and a client on it. */
    public static NbdClient open(NbdUri uri, int maxInFlight) throws IOException {
        return open(uri, maxInFlight, DEFAULT_RECONNECT_FOR);
    }

    /** Opens {@code uri} ({@link NbdConnection#open(NbdUri)}) and a client on it. */
    public static NbdClient open(NbdUri uri, int maxInFlight, Duration reconnectFor) throws IOException {
        return open(uri, maxInFlight, reconnectFor, false);
    }

    /** Opens {@code uri} and a client on it, {@code batched} as {@link #NbdClient(NbdConnection, int, Duration, boolean)} says. */
    public static NbdClient open(NbdUri uri, int maxInFlight, Duration reconnectFor, boolean batched)
            throws IOException {
        NbdConnection c = NbdConnection.open(uri);
        try {
            return new NbdClient(c, maxInFlight, reconnectFor, batched);
        } catch (RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    /** The URI of the server. */
    public NbdUri uri() {
        return uri;
    }

    /** What the server said of the export. */
    public NbdExport export() {
        return export;
    }

    /** The export's size in bytes, a multiple of 512. */
    public long size() {
        return export.size();
    }

    /** @see NbdExport#canFlush() */
    public boolean canFlush() {
        return export.canFlush();
    }

    /** @see NbdExport#canFua() */
    public boolean canFua() {
        return export.canFua();
    }

    /** @see NbdExport#canTrim() */
    public boolean canTrim() {
        return export.canTrim();
    }

    /** @see NbdExport#canWriteZeroes() */
    public boolean canWriteZeroes() {
        return export.canWriteZeroes();
    }

    /** @see NbdExport#canMultiConn() */
    public boolean canMultiConn() {
        return export.canMultiConn();
    }

    /** @see NbdExport#readOnly() */
    public boolean readOnly() {
        return export.readOnly();
    }

    /** The largest read or write sent as one NBD request; larger ones are split. */
    public int maxRequest() {
        return maxRequest;
    }

    /** The bound on requests in flight. */
    public int maxInFlight() {
        return slots.length;
    }

    /** Requests taken and not yet completed, now. */
    public int inFlight() {
        return slots.length - free.size();
    }

    /** Whether a dropped connection is being made again, now (requests wait for it). */
    public boolean reconnecting() {
        return reconnecting;
    }

    /** Why the client failed, or null while it works (and after a clean close). */
    public IOException failure() {
        return failure.get();
    }

    /**
     * Reads {@code dst.remaining()} bytes of the export from {@code offset}
     * into {@code dst} (see the class comment for the buffer and the completion).
     */
    public void read(long offset, ByteBuffer dst, Completion c) {
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("cannot read into a read-only buffer");
        }
        int length = dst.remaining();
        checkRange("read", offset, length);
        transfer(CMD_READ, (short) 0, offset, dst, c);
    }

    /**
     * Writes {@code src.remaining()} bytes from {@code src} to the export at
     * {@code offset}; with {@code fua} the server answers only once they are
     * on stable storage (needs {@link #canFua()}).
     */
    public void write(long offset, ByteBuffer src, boolean fua, Completion c) {
        checkWritable("write");
        if (fua && !canFua()) {
            throw unsupported("FUA writes", "NBD_FLAG_SEND_FUA");
        }
        checkRange("write", offset, src.remaining());
        transfer(CMD_WRITE, fua ? CMD_FLAG_FUA : 0, offset, src, c);
    }

    /** Asks the server to make every write it has answered durable (needs {@link #canFlush()}). */
    public void flush(Completion c) {
        if (!canFlush()) {
            throw unsupported("NBD_CMD_FLUSH", "NBD_FLAG_SEND_FLUSH");
        }
        submit(CMD_FLUSH, (short) 0, 0, 0, null, c);
    }

    /**
     * Tells the server that {@code length} bytes from {@code offset} are no
     * longer needed; their contents are undefined until written again (needs
     * {@link #canTrim()}).
     */
    public void trim(long offset, long length, Completion c) {
        checkWritable("trim");
        if (!canTrim()) {
            throw unsupported("NBD_CMD_TRIM", "NBD_FLAG_SEND_TRIM");
        }
        checkRange("trim", offset, length);
        effect(CMD_TRIM, (short) 0, offset, length, maxTrim, c);
    }

    /**
     * Makes {@code length} bytes from {@code offset} read as zeroes; with
     * {@code noHole} the server must allocate them rather than punch a hole
     * (NBD_CMD_FLAG_NO_HOLE), with {@code fua} it answers once they are durable
     * (needs {@link #canWriteZeroes()}, and {@link #canFua()} for fua).
     */
    public void writeZeroes(long offset, long length, boolean noHole, boolean fua, Completion c) {
        checkWritable("write zeroes");
        if (!canWriteZeroes()) {
            throw unsupported("NBD_CMD_WRITE_ZEROES", "NBD_FLAG_SEND_WRITE_ZEROES");
        }
        if (fua && !canFua()) {
            throw unsupported("FUA writes", "NBD_FLAG_SEND_FUA");
        }
        checkRange("write zeroes", offset, length);
        short flags = (short) ((noHole ? CMD_FLAG_NO_HOLE : 0) | (fua ? CMD_FLAG_FUA : 0));
        effect(CMD_WRITE_ZEROES, flags, offset, length, maxZeroes, c);
    }

    /** {@link #close(Duration)} with {@link #DEFAULT_CLOSE_TIMEOUT}. */
    @Override
    public void close() {
        close(DEFAULT_CLOSE_TIMEOUT);
    }

    /**
     * Refuses new requests, waits up to {@code timeout} for those in flight
     * (failing what is left then), sends NBD_CMD_DISC, closes the socket and
     * joins the reader thread. Requests that were waiting for a slot complete
     * with an error. Safe to call more than once and from several threads, but
     * not from a completion (it would wait for replies its own thread reads).
     */
    public void close(Duration timeout) {
        synchronized (closeLock) {
            if (closing) {
                joinReader(timeout);
                return;
            }
            closing = true;
        }
        LockSupport.unpark(reader);
        long deadline = System.nanoTime() + timeout.toNanos();
        // owning every slot means nothing is in flight and nothing more can start
        Slot[] held = new Slot[slots.length];
        int count = 0;
        try {
            while (count < slots.length) {
                long left = deadline - System.nanoTime();
                Slot s = free.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
                if (s == null) {
                    break;
                }
                held[count++] = s;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (count < slots.length) {
            fail(new IOException("the NBD client for " + uri + " was closed with " + (slots.length - count)
                    + " requests unanswered after " + timeout.toMillis() + " ms"));
        } else {
            disconnect();
        }
        // callers still waiting for a slot get one, see the client closed and complete with that
        for (int i = 0; i < count; i++) {
            free.add(held[i]);
        }
        long left = deadline - System.nanoTime();
        // a server that got NBD_CMD_DISC hangs up itself; give it a moment before hanging up on it
        joinReader(Duration.ofNanos(Math.max(Math.min(left, TimeUnit.SECONDS.toNanos(5)), 1_000_000)));
        connection.close();
        joinReader(Duration.ofSeconds(5));
    }

    // -- submission

    private void transfer(short type, short flags, long offset, ByteBuffer buf, Completion c) {
        int length = buf.remaining();
        if (length == 0) {
            c.done(OK, null);
            return;
        }
        if (length <= maxRequest) {
            submit(type, flags, offset, length, buf, c);
            return;
        }
        int parts = (length + maxRequest - 1) / maxRequest;
        Split split = new Split(parts, buf, c);
        int start = buf.position();
        for (int i = 0; i < parts; i++) {
            int len = Math.min(maxRequest, length - i * maxRequest);
            submit(type, flags, offset + (long) i * maxRequest, len, buf.slice(start + i * maxRequest, len), split);
        }
    }

    private void effect(short type, short flags, long offset, long length, long partMax, Completion c) {
        if (length == 0) {
            c.done(OK, null);
            return;
        }
        if (length <= partMax) {
            submit(type, flags, offset, (int) length, null, c);
            return;
        }
        int parts = (int) ((length + partMax - 1) / partMax);
        Split split = new Split(parts, null, c);
        for (int i = 0; i < parts; i++) {
            long done = i * partMax;
            submit(type, flags, offset + done, (int) Math.min(partMax, length - done), null, split);
        }
    }

    /** One NBD request: waits for a slot, publishes it, sends it. */
    private void submit(short type, short flags, long offset, int length, ByteBuffer buf, Completion c) {
        IOException refused = refusal();
        if (refused != null) {
            c.done(EIO, refused);
            return;
        }
        Slot s = free.poll();
        try {
            if (s == null) {
                // what is held may be what frees a slot
                unplug();
                s = free.take();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c.done(EIO, new InterruptedIOException("interrupted while waiting for one of the " + slots.length
                    + " request slots of the NBD client for " + uri));
            return;
        }
        refused = refusal();
        if (refused != null) {
            free.add(s);
            c.done(EIO, refused);
            return;
        }
        s.uses++;
        s.handle = s.uses << indexBits | s.index;
        s.type = type;
        s.flags = flags;
        s.offset = offset;
        s.length = length;
        s.buffer = buf;
        s.start = buf == null ? 0 : buf.position();
        s.completion = c;
        s.error = OK;
        s.failure = null;
        s.pending.set(2);
        s.inflight.set(s.handle);
        sendLock.lock();
        try {
            IOException f = failure.get();
            if (f != null || disconnected) {
                // fail() may have looked at the slots before this one was published: answer it here
                answerFailed(s, s.handle, f != null ? f : refusalClosed());
            } else if (!reconnecting && !sentNow(s)) {
                // while reconnecting, or already sent again by the reader: the new connection carries it
                send(s);
                if (!batched) {
                    flushOut();
                }
            }
        } catch (IOException e) {
            lost(e);
        } finally {
            sendLock.unlock();
            arrive(s);
        }
    }

    /** Whether {@code s}'s request went out on the connection now; under the send lock. */
    private boolean sentNow(Slot s) {
        return s.sentHandle == s.handle && s.sentGeneration == generation;
    }

    /** Sends {@code s}'s request on the connection now; under the send lock. */
    private void send(Slot s) throws IOException {
        s.sentHandle = s.handle;
        s.sentGeneration = generation;
        int payload = s.type == CMD_WRITE ? s.length : 0;
        boolean copied = payload <= COPY_MAX;
        if (out.remaining() < REQUEST_HEADER_SIZE + (copied ? payload : 0)) {
            flushOut();
        }
        out.putInt(REQUEST_MAGIC).putShort(s.flags).putShort(s.type).putLong(s.handle).putLong(s.offset)
                .putInt(s.length);
        if (payload == 0) {
            return;
        }
        ByteBuffer p = s.buffer;
        if (copied) {
            out.put(out.position(), p, p.position(), payload);
            out.position(out.position() + payload);
            p.position(p.position() + payload);
            return;
        }
        // a large payload goes out from its own buffer, behind what is held
        int end = p.position() + payload;
        out.flip();
        gather[0] = out;
        gather[1] = p;
        try {
            while (out.hasRemaining() || p.position() < end) {
                if (!p.isDirect()) {
                    p.limit(Math.min(end, p.position() + HEAP_CHUNK));
                }
                channel.write(gather);
            }
        } finally {
            p.limit(end);
            gather[1] = null;
            out.clear();
        }
    }

    /** Writes out what {@link #send} held; under the send lock. */
    private void flushOut() throws IOException {
        out.flip();
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } finally {
            out.clear();
        }
    }

    /**
     * Sends the requests held since the last call (a client made with
     * {@code batched} holds them so that a batch goes out in one write; see
     * the class comment). Call it once a batch is submitted.
     */
    public void unplug() {
        sendLock.lock();
        try {
            if (out.position() > 0 && !reconnecting && failure.get() == null) {
                flushOut();
            }
        } catch (IOException e) {
            lost(e);
        } finally {
            sendLock.unlock();
        }
    }

    private void disconnect() {
        sendLock.lock();
        try {
            if (failure.get() == null && !disconnected && !reconnecting) {
                disconnected = true;
                out.putInt(REQUEST_MAGIC).putShort((short) 0).putShort(CMD_DISC).putLong(0).putLong(0).putInt(0);
                flushOut();
                channel.shutdownOutput();
            }
        } catch (IOException e) {
            LOG.debug("NBD {}: NBD_CMD_DISC not sent: {}", uri, e.toString());
        } finally {
            sendLock.unlock();
        }
    }

    private IOException refusal() {
        IOException f = failure.get();
        if (f != null) {
            return f;
        }
        return closing ? refusalClosed() : null;
    }

    private IOException refusalClosed() {
        return new IOException("the NBD client for " + uri + " is closed");
    }

    /**
     * A send failed; under the send lock. An interrupted sender is our
     * caller's mistake and fails the client; anything else drops the
     * connection: closing it wakes the reader, which makes it again, and the
     * request stays in flight to be sent again.
     */
    private void lost(IOException e) {
        if (e instanceof ClosedByInterruptException) {
            fail(new IOException("a thread sending a request to the NBD server at " + uri.server() + " was"
                    + " interrupted, which closes the connection (threads submitting NBD requests must not be"
                    + " interrupted)", e));
            return;
        }
        if (failure.get() != null) {
            return;
        }
        sendLost.compareAndSet(null, new IOException("sending a request to the NBD server at " + uri.server()
                + " failed: " + e.getMessage(), e));
        reconnecting = true;
        connection.close();
    }

    // -- replies

    private void readReplies() {
        try {
            NbdTransport ch = channel;
            while (ch != null) {
                IOException dropped = readUntilDropped(ch);
                ch = dropped == null ? null : reconnect(dropped);
            }
        } catch (RuntimeException | Error e) {
            LOG.error("NBD {}: the reply reader failed", uri, e);
            fail(new IOException("the reply reader of the NBD client for " + uri + " failed: " + e, e));
        }
    }

    /**
     * Answers requests from the replies on {@code ch} until the connection
     * drops (then says why) or ends: after NBD_CMD_DISC, or failed (then null).
     * A request whose reply was under way when the connection dropped goes
     * back in flight, to be sent and answered again whole on the next one.
     */
    private IOException readUntilDropped(NbdTransport ch) {
        ReplyInput in = input;
        in.reset(ch);
        boolean structured = connection.export().structuredReplies();
        try {
            while (true) {
                if (!in.begin(SIMPLE_REPLY_SIZE)) {
                    return ended() ? null : dropped(new EOFException("the NBD server at " + uri.server()
                            + " closed the connection with " + unanswered() + " requests unanswered"));
                }
                int magic = in.getInt();
                boolean more;
                if (magic == SIMPLE_REPLY_MAGIC) {
                    int error = in.getInt();
                    more = simpleReply(in, error, in.getLong());
                } else if (magic == STRUCTURED_REPLY_MAGIC && structured) {
                    in.need(STRUCTURED_REPLY_SIZE - 4);
                    int flags = in.getUnsignedShort();
                    int type = in.getUnsignedShort();
                    long handle = in.getLong();
                    more = chunk(in, flags, type, handle, in.getInt() & 0xffffffffL);
                } else {
                    fail(protocolError(magic == STRUCTURED_REPLY_MAGIC
                            ? "a structured reply (magic 0x668e33ef), which was not negotiated"
                            : "a reply with magic 0x" + Integer.toHexString(magic) + " instead of 0x67446698"));
                    more = false;
                }
                if (!more) {
                    return null;
                }
            }
        } catch (IOException e) {
            return ended() ? null : dropped(e);
        } finally {
            requeueAnswering();
        }
    }

    /** A simple reply: the error, and a successful read's data. False when the client failed. */
    private boolean simpleReply(ReplyInput in, int error, long handle) throws IOException {
        Slot s = claim(handle);
        if (s == null) {
            return unknownHandle(handle);
        }
        if (s.type == CMD_READ && error == OK) {
            s.answering = true;
            in.readInto(s.buffer);
            s.answering = false;
        }
        s.error = error;
        arrive(s);
        return true;
    }

    /**
     * One chunk of a structured reply (proto.md, "Structured reply chunk
     * message types"): a read's data at an offset, a hole of zeroes, an error,
     * or nothing; the chunk flagged NBD_REPLY_FLAG_DONE ends the request. A
     * read's chunks may come in any order and between other requests' chunks;
     * each must lie within the request, and together they must cover it.
     * False when the client failed.
     */
    private boolean chunk(ReplyInput in, int flags, int type, long handle, long length) throws IOException {
        Slot s = claimChunk(handle);
        if (s == null) {
            return unknownHandle(handle);
        }
        String problem = null;
        switch (type) {
            case REPLY_TYPE_NONE -> {
                if (length != 0 || (flags & REPLY_FLAG_DONE) == 0) {
                    problem = "an NBD_REPLY_TYPE_NONE chunk of " + length + " bytes" + ((flags & REPLY_FLAG_DONE) == 0
                            ? " without NBD_REPLY_FLAG_DONE" : "");
                }
            }
            case REPLY_TYPE_OFFSET_DATA -> {
                if (s.type != CMD_READ || length <= 8 || length - 8 > s.length) {
                    problem = "an NBD_REPLY_TYPE_OFFSET_DATA chunk of " + length + " bytes for " + describe(s);
                    break;
                }
                in.need(8);
                long offset = in.getLong();
                int n = (int) (length - 8);
                problem = outside(s, "NBD_REPLY_TYPE_OFFSET_DATA", offset, n);
                if (problem == null) {
                    int at = s.start + (int) (offset - s.offset);
                    s.buffer.limit(at + n).position(at);
                    try {
                        in.readInto(s.buffer);
                    } finally {
                        s.buffer.limit(s.start + s.length);
                    }
                    s.received += n;
                }
            }
            case REPLY_TYPE_OFFSET_HOLE -> {
                if (s.type != CMD_READ || length != 12) {
                    problem = "an NBD_REPLY_TYPE_OFFSET_HOLE chunk of " + length + " bytes for " + describe(s);
                    break;
                }
                in.need(12);
                long offset = in.getLong();
                long n = in.getInt() & 0xffffffffL;
                problem = n == 0 ? "an empty NBD_REPLY_TYPE_OFFSET_HOLE chunk" : outside(s,
                        "NBD_REPLY_TYPE_OFFSET_HOLE", offset, n);
                if (problem == null) {
                    Zeros.fill(s.buffer, s.start + (int) (offset - s.offset), (int) n);
                    s.received += n;
                }
            }
            default -> problem = errorChunk(in, s, type, length);
        }
        if (problem != null) {
            fail(protocolError(problem));
            return false;
        }
        if ((flags & REPLY_FLAG_DONE) != 0) {
            if (s.type == CMD_READ && s.error == OK) {
                if (s.received != s.length) {
                    fail(protocolError("a reply to " + describe(s) + " whose chunks cover " + s.received + " bytes"));
                    return false;
                }
                s.buffer.position(s.start + s.length);
            }
            s.answering = false;
            arrive(s);
        }
        return true;
    }

    /**
     * An error chunk: the first error of a request is its answer (the server
     * may say more, and still must end the reply with NBD_REPLY_FLAG_DONE).
     * Returns what is wrong with the chunk, or null.
     */
    private String errorChunk(ReplyInput in, Slot s, int type, long length) throws IOException {
        if ((type & REPLY_TYPE_FLAG_ERROR) == 0) {
            return "a chunk of unknown type " + type + " for " + describe(s);
        }
        if (length < 6 || length > MAX_ERROR_CHUNK) {
            return "an error chunk (type " + type + ") of " + length + " bytes for " + describe(s);
        }
        in.need((int) length);
        ByteBuffer e = in.take((int) length);
        int error = e.getInt(0);
        int messageLength = e.getShort(4) & 0xffff;
        if (error == OK || messageLength > length - 6
                || type == REPLY_TYPE_ERROR_OFFSET && messageLength != length - 14) {
            return "an error chunk (type " + type + ", error " + error + ", a message of " + messageLength
                    + " bytes) of " + length + " bytes for " + describe(s);
        }
        if (s.error == OK) {
            s.error = error;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("NBD {}: {} answered {}: {}", uri, describe(s), errorName(error),
                    StandardCharsets.UTF_8.decode(e.slice(6, messageLength)));
        }
        return null;
    }

    /** Why a chunk of {@code length} bytes at {@code offset} cannot be part of the answer to {@code s}; null if it can. */
    private static String outside(Slot s, String chunk, long offset, long length) {
        if (offset < s.offset || offset - s.offset > s.length - length) {
            return "an " + chunk + " chunk of " + length + " bytes at " + offset + " for " + describe(s);
        }
        return null;
    }

    private static String describe(Slot s) {
        return commandName(s.type) + " of " + s.length + " bytes at " + s.offset;
    }

    private boolean unknownHandle(long handle) {
        if (failure.get() == null) {
            fail(protocolError("a reply for handle 0x" + Long.toHexString(handle) + ", which no request in flight has"));
        }
        return false;
    }

    /**
     * Puts back in flight the requests whose reply was under way when the
     * reader stopped, so that they are sent again whole on the next
     * connection (a read fills its buffer again from its start), or fails
     * them when the client failed.
     */
    private void requeueAnswering() {
        IOException f = failure.get();
        for (Slot s : slots) {
            if (!s.answering) {
                continue;
            }
            s.answering = false;
            if (s.buffer != null) {
                s.buffer.limit(s.start + s.length).position(s.start);
            }
            s.inflight.set(s.handle);
            if (f != null) {
                answerFailed(s, s.handle, f);
            }
        }
    }

    /** The connection ended as it should: NBD_CMD_DISC went out, or the client failed and closed it. */
    private boolean ended() {
        return disconnected || failure.get() != null;
    }

    /** Why the connection dropped: a send's failure (whose close broke the read) before the read's own. */
    private IOException dropped(IOException readFailure) {
        IOException sent = sendLost.getAndSet(null);
        return sent != null ? sent : readFailed(readFailure);
    }

    /**
     * Makes a dropped connection again and has the requests in flight sent on
     * it; returns its socket, or null when the client failed instead: no
     * reconnecting allowed, closed meanwhile, out of time, or the export changed.
     */
    private NbdTransport reconnect(IOException cause) {
        sendLock.lock();
        try {
            reconnecting = true;
            // a send that failed on this connection after its drop was seen told nothing new
            sendLost.set(null);
        } finally {
            sendLock.unlock();
        }
        connection.close();
        if (reconnectFor.isZero() || closing) {
            fail(cause);
            return null;
        }
        LOG.warn("NBD {}: {}; making the connection again for up to {} s, the requests in flight wait", uri,
                cause.getMessage(), reconnectFor.toSeconds());
        long began = System.nanoTime();
        long deadline = began + reconnectFor.toNanos();
        long delay = RECONNECT_DELAY_MIN;
        String last = cause.getMessage();
        int attempts = 0;
        while (true) {
            if (closing || failure.get() != null) {
                fail(new IOException("the NBD client for " + uri + " was closed while its dropped connection was"
                        + " being made again (" + cause.getMessage() + ")", cause));
                return null;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                fail(new IOException(cause.getMessage() + "; the connection was not made again within "
                        + reconnectFor.toSeconds() + " s (" + attempts + " attempts, the last: " + last + ")", cause));
                return null;
            }
            // a server being restarted needs a moment in any case
            LockSupport.parkNanos(Math.min(delay, left));
            delay = Math.min(delay * 2, RECONNECT_DELAY_MAX);
            if (closing) {
                continue;
            }
            attempts++;
            NbdConnection c;
            try {
                long bound = Math.min(Math.max(left, 1_000_000), NbdConnection.DEFAULT_TIMEOUT.toNanos());
                c = NbdConnection.open(uri, Duration.ofNanos(bound));
            } catch (IOException e) {
                last = e.getMessage();
                LOG.debug("NBD {}: attempt {} to connect again: {}", uri, attempts, last);
                continue;
            }
            String changed = export.lostIn(c.export(), maxRequest);
            if (changed != null) {
                c.close();
                fail(new NbdException("the NBD export " + uri + " changed while its dropped connection was made"
                        + " again: " + changed + "; the requests in flight failed; connect the disk again"));
                return null;
            }
            sendLock.lock();
            try {
                connection = c;
                channel = c.transport();
                generation++;
                out.clear(); // held for the old connection: sendAgain sends those requests again
            } finally {
                sendLock.unlock();
            }
            if (closing || failure.get() != null) {
                continue; // fail() closes what is now the connection
            }
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
            int finalAttempts = attempts;
            // the reader must read replies while the requests go out: a server may stop reading until it can write
            Thread resender = new Thread(() -> sendAgain(tookMs, finalAttempts), "nbd-resend " + uri.server());
            resender.setDaemon(true);
            resender.start();
            return c.transport();
        }
    }

    /** Sends on the new connection every request in flight not sent on it yet, then lets senders go on. */
    private void sendAgain(long tookMs, int attempts) {
        int resent = 0;
        sendLock.lock();
        try {
            for (Slot s : slots) {
                if (s.inflight.get() > 0 && !sentNow(s)) {
                    if (s.buffer != null) {
                        s.buffer.position(s.start);
                    }
                    send(s);
                    resent++;
                }
            }
            flushOut();
            reconnecting = false;
            LOG.warn("NBD {}: the connection is made again after {} ms ({} attempts); {} requests sent again", uri,
                    tookMs, attempts, resent);
        } catch (IOException e) {
            lost(e);
        } finally {
            sendLock.unlock();
        }
    }

    /** The slot in flight with {@code handle}, now the reader's; null if there is none. */
    private Slot claim(long handle) {
        long index = handle & ((1L << indexBits) - 1);
        if (handle <= 0 || index >= slots.length) {
            return null;
        }
        Slot s = slots[(int) index];
        return s.inflight.compareAndSet(handle, ANSWERING) ? s : null;
    }

    /**
     * The slot of a structured reply's chunk: claimed by its first chunk (then
     * answering until the chunk flagged done), or already answering with the
     * same handle; null if no request in flight has the handle.
     */
    private Slot claimChunk(long handle) {
        long index = handle & ((1L << indexBits) - 1);
        if (handle <= 0 || index >= slots.length) {
            return null;
        }
        Slot s = slots[(int) index];
        if (s.answering) {
            return s.handle == handle ? s : null;
        }
        if (!s.inflight.compareAndSet(handle, ANSWERING)) {
            return null;
        }
        s.answering = true;
        s.error = OK;
        s.received = 0;
        return s;
    }

    private IOException readFailed(IOException e) {
        IOException f = failure.get();
        if (f != null) {
            return f;
        }
        if (e instanceof AsynchronousCloseException && closing) {
            return new IOException("the NBD client for " + uri + " was closed", e);
        }
        if (e instanceof EOFException) {
            return e;
        }
        if (e instanceof SocketException && String.valueOf(e.getMessage()).contains("reset")) {
            // a server that dies with our requests unread resets rather than closes
            return new IOException("the NBD server at " + uri.server() + " reset the connection with " + unanswered()
                    + " requests unanswered", e);
        }
        return new IOException("reading replies from the NBD server at " + uri.server() + " failed: " + e, e);
    }

    private NbdException protocolError(String what) {
        return new NbdException("protocol error from the NBD server at " + uri.server() + ": it sent " + what
                + "; the connection is closed and every request in flight failed");
    }

    private int unanswered() {
        int n = 0;
        for (Slot s : slots) {
            if (s.inflight.get() > 0) {
                n++;
            }
        }
        return n;
    }

    // -- completion

    /**
     * Ends the connection for {@code cause}: closes the socket (which stops the
     * reader and any sender) and completes every request in flight with it.
     */
    private void fail(IOException cause) {
        if (!failure.compareAndSet(null, cause)) {
            return;
        }
        if (!closing) {
            LOG.warn("NBD {}: {}", uri, cause.getMessage());
        }
        connection.close();
        for (Slot s : slots) {
            long h = s.inflight.get();
            if (h > 0) {
                answerFailed(s, h, cause);
            }
        }
    }

    private void answerFailed(Slot s, long handle, IOException cause) {
        if (s.inflight.compareAndSet(handle, FAILED)) {
            s.error = EIO;
            s.failure = cause;
            arrive(s);
        }
    }

    /** The send side or the answer side of {@code s} is done; the second one completes the request. */
    private void arrive(Slot s) {
        if (s.pending.decrementAndGet() != 0) {
            return;
        }
        Completion c = s.completion;
        int error = s.error;
        IOException f = s.failure;
        s.completion = null;
        s.buffer = null;
        s.failure = null;
        s.inflight.set(FREE);
        free.add(s);
        try {
            c.done(error, f);
        } catch (RuntimeException e) {
            LOG.error("NBD {}: a completion threw", uri, e);
        }
    }

    private void joinReader(Duration timeout) {
        if (Thread.currentThread() == reader) {
            return;
        }
        try {
            reader.join(Math.max(1, timeout.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // -- checks

    private void checkRange(String what, long offset, long length) {
        if (offset < 0 || length < 0 || offset > export.size() - length) {
            throw new IllegalArgumentException(what + " of " + length + " bytes at " + offset + " is outside the "
                    + export.size() + " bytes of " + uri);
        }
        int min = export.minimumBlock();
        if (offset % min != 0 || length % min != 0) {
            throw new IllegalArgumentException(what + " of " + length + " bytes at " + offset + " is not aligned to"
                    + " the minimum block size " + min + " of " + uri);
        }
    }

    private void checkWritable(String what) {
        if (readOnly()) {
            throw new UnsupportedOperationException("cannot " + what + ": " + uri + " is read-only"
                    + " (NBD_FLAG_READ_ONLY)");
        }
    }

    private UnsupportedOperationException unsupported(String what, String flag) {
        return new UnsupportedOperationException("the NBD server of " + uri + " does not offer " + what + " (no "
                + flag + ")");
    }

    /** Completes a caller's request that was split into several NBD requests once all have completed. */
    private static final class Split implements Completion {
        private final AtomicInteger remaining;
        private final ByteBuffer buffer;
        private final Completion completion;
        private int error;
        private IOException failure;

        Split(int parts, ByteBuffer buffer, Completion completion) {
            this.remaining = new AtomicInteger(parts);
            this.buffer = buffer;
            this.completion = completion;
        }

        @Override
        public void done(int e, IOException f) {
            synchronized (this) {
                if (error == OK && e != OK) {
                    error = e;
                    failure = f;
                }
            }
            if (remaining.decrementAndGet() != 0) {
                return;
            }
            int err;
            IOException fail;
            synchronized (this) {
                err = error;
                fail = failure;
            }
            if (err == OK && buffer != null) {
                buffer.position(buffer.limit());
            }
            completion.done(err, fail);
        }
    }
}
