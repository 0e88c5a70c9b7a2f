package io.xendisk.storage.nbd;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.xendisk.storage.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Structured replies (NBD_OPT_STRUCTURED_REPLY): which servers agree to them,
 * a read's chunks in any order and holes filled with zeroes, an error chunk,
 * chunks that break the rules, and a connection that drops between two chunks
 * of one read.
 */
// a lost completion or a silent server must fail the test, not hang the build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdStructuredReplyTest {
    private static final int KIB = 1024;
    private static final int FLAGS = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH;

    @TempDir
    Path dir;

    @AutoClose
    private final Kept kept = new Kept();

    private <T extends AutoCloseable> T keep(T c) {
        return kept.keep(c);
    }

    @Test
    void qemuNbdAndNbdkitAgreeNbdServerKeepsToSimpleReplies() throws Exception {
        Path file = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        NbdServer qemu = keep(NbdServer.qemuNbd(dir, true, "disk", file));
        NbdServer nbdkit = keep(NbdServer.nbdkit(dir, true, "", List.of(), "memory", "1M"));
        NbdServer old = keep(NbdServer.nbdServer(dir, true, "disk", file));
        assertTrue(keep(NbdClient.open(qemu.uri, 4)).export().structuredReplies(), qemu.toString());
        assertTrue(keep(NbdClient.open(nbdkit.uri, 4)).export().structuredReplies(), nbdkit.toString());
        assertFalse(keep(NbdClient.open(old.uri, 4)).export().structuredReplies(), old.toString());
    }

    /**
     * qemu-nbd answers a read of a sparse file with data chunks for what is
     * written and hole chunks for the rest; the holes must read as zeroes in
     * a buffer that held something else.
     */
    @Test
    void aSparseImageThroughQemuNbdReadsItsHolesAsZeroes() throws Exception {
        int size = 8 << 20;
        byte[] expected = new byte[size];
        Random random = new Random(7);
        Path file = dir.resolve("sparse.img");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(size);
            ch.write(ByteBuffer.allocate(1), size - 1);
            // islands of data between holes, some not aligned to the server's 4 KiB
            for (long at : new long[] {0, 300 * KIB, 1 << 20, (3 << 20) + 512, 6 << 20}) {
                byte[] island = new byte[64 * KIB + 512];
                random.nextBytes(island);
                ch.write(ByteBuffer.wrap(island), at);
                System.arraycopy(island, 0, expected, (int) at, island.length);
            }
        }
        NbdServer s = keep(NbdServer.qemuNbd(dir, true, "disk", file));
        NbdClient c = keep(NbdClient.open(s.uri, 8));
        assertTrue(c.export().structuredReplies());
        ByteBuffer all = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++) {
            all.put(i, (byte) 0xa5);
        }
        Completed r = new Completed();
        c.read(0, all, r);
        r.ok();
        assertEquals(size, all.position());
        byte[] got = new byte[size];
        all.get(0, got);
        assertArrayEquals(expected, got, "the sparse image read through qemu-nbd");
    }

    @Test
    void aReadsChunksInAnyOrderAmongOtherRepliesFillTheBuffer() throws Exception {
        byte[] data = pattern(16 * KIB);
        ScriptedNbdServer s = keep(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.handshake(in, out, 1 << 20, FLAGS, true);
            ScriptedNbdServer.Request read = ScriptedNbdServer.readRequest(in);
            ScriptedNbdServer.Request flush = ScriptedNbdServer.readRequest(in);
            long at = read.offset();
            dataChunk(out, 0, read.handle(), at + 8 * KIB, data, 8 * KIB, 4 * KIB);
            holeChunk(out, 0, read.handle(), at, 4 * KIB);
            // another request's reply between two chunks of the read
            ScriptedNbdServer.chunk(out, REPLY_FLAG_DONE, REPLY_TYPE_NONE, flush.handle(), new byte[0]);
            dataChunk(out, 0, read.handle(), at + 4 * KIB, data, 4 * KIB, 4 * KIB);
            dataChunk(out, REPLY_FLAG_DONE, read.handle(), at + 12 * KIB, data, 12 * KIB, 4 * KIB);
            out.flush();
            in.read();
        }));
        NbdClient c = keep(NbdClient.open(s.uri(""), 4, Duration.ZERO));
        ByteBuffer buf = ByteBuffer.allocateDirect(20 * KIB);
        for (int i = 0; i < buf.capacity(); i++) {
            buf.put(i, (byte) 0xee);
        }
        buf.position(2 * KIB).limit(18 * KIB);
        Completed r = new Completed();
        Completed f = new Completed();
        c.read(64 * KIB, buf, r);
        c.flush(f);
        f.ok();
        r.ok();
        assertEquals(18 * KIB, buf.position(), "position at the limit once read");
        assertEquals(18 * KIB, buf.limit());
        byte[] expected = data.clone();
        Arrays.fill(expected, 0, 4 * KIB, (byte) 0);
        byte[] got = new byte[16 * KIB];
        buf.get(2 * KIB, got);
        assertArrayEquals(expected, got);
        assertEquals((byte) 0xee, buf.get(2 * KIB - 1), "nothing before the request's part of the buffer");
        assertEquals((byte) 0xee, buf.limit(buf.capacity()).get(18 * KIB), "nothing after it");
    }

    @Test
    void anErrorChunkIsTheRequestsAnswerAndTheClientGoesOn() throws Exception {
        ScriptedNbdServer s = keep(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.handshake(in, out, 1 << 20, FLAGS, true);
            ScriptedNbdServer.Request read = ScriptedNbdServer.readRequest(in);
            byte[] message = "medium error at 4096".getBytes(StandardCharsets.UTF_8);
            ByteBuffer e = ByteBuffer.allocate(6 + message.length + 8).putInt(EIO).putShort((short) message.length)
                    .put(message).putLong(read.offset());
            dataChunk(out, 0, read.handle(), read.offset(), new byte[4 * KIB], 0, 4 * KIB);
            ScriptedNbdServer.chunk(out, 0, REPLY_TYPE_ERROR_OFFSET, read.handle(), e.array());
            ScriptedNbdServer.chunk(out, REPLY_FLAG_DONE, REPLY_TYPE_NONE, read.handle(), new byte[0]);
            out.flush();
            ScriptedNbdServer.Request flush = ScriptedNbdServer.readRequest(in);
            ScriptedNbdServer.simpleReply(out, SIMPLE_REPLY_MAGIC, 0, flush.handle());
            out.flush();
            in.read();
        }));
        NbdClient c = keep(NbdClient.open(s.uri(""), 4, Duration.ZERO));
        Completed r = new Completed();
        c.read(0, ByteBuffer.allocate(8 * KIB), r);
        assertEquals(EIO, r.error());
        assertNull(r.failure(), "the server's own answer, not a failure of the client");
        Completed f = new Completed();
        c.flush(f);
        f.ok();
        assertNull(c.failure());
    }

    @Test
    void aChunkOutsideTheReadIsAProtocolError() throws Exception {
        assertProtocolError((out, read) -> dataChunk(out, REPLY_FLAG_DONE, read.handle(), read.offset() + 4 * KIB,
                new byte[8 * KIB], 0, 8 * KIB), "an NBD_REPLY_TYPE_OFFSET_DATA chunk of 8192 bytes at 36864 for"
                + " NBD_CMD_READ of 8192 bytes at 32768");
    }

    @Test
    void aReadWhoseChunksLeaveAGapIsAProtocolError() throws Exception {
        assertProtocolError((out, read) -> {
            holeChunk(out, 0, read.handle(), read.offset(), 4 * KIB);
            ScriptedNbdServer.chunk(out, REPLY_FLAG_DONE, REPLY_TYPE_NONE, read.handle(), new byte[0]);
        }, "a reply to NBD_CMD_READ of 8192 bytes at 32768 whose chunks cover 4096 bytes");
    }

    @Test
    void anUnknownChunkTypeIsAProtocolError() throws Exception {
        assertProtocolError((out, read) -> ScriptedNbdServer.chunk(out, REPLY_FLAG_DONE, 7, read.handle(),
                new byte[0]), "a chunk of unknown type 7 for NBD_CMD_READ of 8192 bytes at 32768");
    }

    private interface BadReply {
        void send(DataOutputStream out, ScriptedNbdServer.Request read) throws IOException;
    }

    private void assertProtocolError(BadReply bad, String what) throws Exception {
        ScriptedNbdServer s = keep(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.handshake(in, out, 1 << 20, FLAGS, true);
            ScriptedNbdServer.Request read = ScriptedNbdServer.readRequest(in);
            ScriptedNbdServer.readRequest(in);
            bad.send(out, read);
            out.flush();
            in.read();
        }));
        NbdClient c = keep(NbdClient.open(s.uri(""), 4, Duration.ofMinutes(1)));
        Completed r = new Completed();
        Completed f = new Completed();
        c.read(32 * KIB, ByteBuffer.allocate(8 * KIB), r);
        c.flush(f);
        IOException e = r.failed();
        assertTrue(e.getMessage().contains("protocol error from the NBD server") && e.getMessage().contains(what),
                e.getMessage());
        // the other request in flight fails with it, and the client does not connect again
        assertEquals(e, f.failed());
        assertEquals(e, c.failure());
    }

    /**
     * The server dies in the middle of a read's reply (a chunk of data and an
     * error sent); the client connects again and sends the read again, whose
     * answer comes whole from the second connection: nothing the first one
     * sent counts.
     */
    @Test
    void aConnectionDroppedBetweenChunksSendsTheReadAgain() throws Exception {
        byte[] data = pattern(8 * KIB);
        ScriptedNbdServer s = keep(ScriptedNbdServer.start(dir, (in, out) -> {
            ScriptedNbdServer.handshake(in, out, 1 << 20, FLAGS, true);
            ScriptedNbdServer.Request read = ScriptedNbdServer.readRequest(in);
            // garbage in the first half and an error, then the connection ends before the reply does
            dataChunk(out, 0, read.handle(), read.offset(), new byte[8 * KIB], 0, 4 * KIB);
            ScriptedNbdServer.chunk(out, 0, REPLY_TYPE_ERROR, read.handle(),
                    ByteBuffer.allocate(6).putInt(EIO).putShort((short) 0).array());
            out.flush();
        }, (in, out) -> {
            ScriptedNbdServer.handshake(in, out, 1 << 20, FLAGS, true);
            ScriptedNbdServer.Request read = ScriptedNbdServer.readRequest(in);
            dataChunk(out, 0, read.handle(), read.offset() + 4 * KIB, data, 4 * KIB, 4 * KIB);
            dataChunk(out, REPLY_FLAG_DONE, read.handle(), read.offset(), data, 0, 4 * KIB);
            out.flush();
            in.read();
        }));
        NbdClient c = keep(NbdClient.open(s.uri(""), 4, Duration.ofMinutes(1)));
        ByteBuffer buf = ByteBuffer.allocate(8 * KIB);
        Completed r = new Completed();
        c.read(0, buf, r);
        r.ok();
        assertArrayEquals(data, buf.array());
        assertEquals(8 * KIB, buf.position());
    }

    private static byte[] pattern(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    private static void dataChunk(DataOutputStream out, int flags, long handle, long offset, byte[] src, int from,
                                  int length) throws IOException {
        ByteBuffer p = ByteBuffer.allocate(8 + length).putLong(offset).put(src, from, length);
        ScriptedNbdServer.chunk(out, flags, REPLY_TYPE_OFFSET_DATA, handle, p.array());
    }

    private static void holeChunk(DataOutputStream out, int flags, long handle, long offset, int length)
            throws IOException {
        ScriptedNbdServer.chunk(out, flags, REPLY_TYPE_OFFSET_HOLE, handle,
                ByteBuffer.allocate(12).putLong(offset).putInt(length).array());
    }
}
