package io.xendisk.storage.nbd;

import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Replies read ahead: fields and payloads whatever pieces the socket gives them in, and how a stream ends. */
class ReplyInputTest {
    /** A channel that hands out {@code data} a few bytes at a time, then the end of the stream. */
    private static final class Trickle implements ReadableByteChannel {
        private final ByteBuffer data;
        private final Random random = new Random(5);
        private final int most;

        Trickle(byte[] data, int most) {
            this.data = ByteBuffer.wrap(data);
            this.most = most;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!data.hasRemaining()) {
                return -1;
            }
            int n = Math.min(Math.min(dst.remaining(), data.remaining()), 1 + random.nextInt(most));
            dst.put(dst.position(), data, data.position(), n);
            dst.position(dst.position() + n);
            data.position(data.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void headersAndPayloadsOfAnySizeComeWholeFromPieces() throws IOException {
        byte[] small = new byte[4096];
        byte[] large = new byte[300 << 10];
        Random r = new Random(1);
        r.nextBytes(small);
        r.nextBytes(large);
        ByteBuffer stream = ByteBuffer.allocate(16 + small.length + 16 + large.length + 16);
        stream.putInt(0x67446698).putInt(0).putLong(11).put(small);
        stream.putInt(0x67446698).putInt(5).putLong(12).put(large);
        stream.putInt(0x67446698).putInt(0).putLong(13);
        for (int most : new int[] {1, 7, 5000, 1 << 20}) {
            ReplyInput in = new ReplyInput("test");
            in.reset(new Trickle(stream.array(), most));
            assertTrue(in.begin(16));
            assertEquals(0x67446698, in.getInt());
            assertEquals(0, in.getInt());
            assertEquals(11, in.getLong());
            ByteBuffer a = ByteBuffer.allocate(small.length);
            in.readInto(a);
            assertArrayEquals(small, a.array(), "a payload copied from what was read ahead");
            assertTrue(in.begin(16));
            in.getInt();
            assertEquals(5, in.getInt());
            assertEquals(12, in.getLong());
            ByteBuffer b = ByteBuffer.allocateDirect(large.length + 10).position(10);
            in.readInto(b);
            assertEquals(b.capacity(), b.position());
            byte[] got = new byte[large.length];
            b.get(10, got);
            assertArrayEquals(large, got, "a payload read straight into its buffer, pieces " + most);
            assertTrue(in.begin(16));
            in.getInt();
            in.getInt();
            assertEquals(13, in.getLong());
            assertFalse(in.begin(16), "the stream ended between replies");
        }
    }

    @Test
    void anEndInsideAReplyIsAnError() {
        ReplyInput in = new ReplyInput("srv");
        in.reset(new Trickle(new byte[10], 3));
        EOFException e = assertThrows(EOFException.class, () -> in.begin(16));
        assertEquals("the NBD server at srv closed the connection in the middle of a reply", e.getMessage());

        ReplyInput payload = new ReplyInput("srv");
        payload.reset(new Trickle(new byte[16 + 100], 50));
        assertThrows(EOFException.class, () -> {
            payload.begin(16);
            payload.take(16);
            payload.readInto(ByteBuffer.allocate(200));
        });
    }
}
