package io.xendisk.blkif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class BackRingTest {
    private static final int[] NO = new int[0];

    @Test
    void ringSizesMatchRingH() {
        assertEquals(32, SharedRing.size(Abi.X86_64, 1));
        assertEquals(32, SharedRing.size(Abi.X86_32, 1));
        assertEquals(64, SharedRing.size(Abi.X86_64, 2));
        assertEquals(512, SharedRing.size(Abi.X86_64, 16));
        assertEquals(1024, SharedRing.size(Abi.X86_32, 32));
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void requestWrittenByFrontIsCopiedAndParsedByBack(Abi abi) {
        ByteBuffer page = ByteBuffer.allocateDirect(4096);
        FrontRing front = FrontRing.init(page, abi, 1);
        BackRing back = new BackRing(page, abi, 1);
        front.putRequest(Blkif.OP_WRITE, 0x1122334455667788L, 1000, 51728,
                new int[] {7, 9}, new int[] {0, 2}, new int[] {7, 5}, 2);
        assertTrue(front.pushRequests(), "req_event starts at 1: first request notifies");
        assertEquals(1, back.unconsumed());
        byte[] slot = new byte[abi.stride];
        back.takeRequest(slot);
        Request r = new Request();
        assertEquals(Request.Kind.WRITE, r.parse(slot, abi, new Request.Limits(2048, false, false)));
        assertEquals(0x1122334455667788L, r.id());
        assertEquals(1000, r.sector());
        assertEquals(2, r.nrSegments());
        assertEquals(9, r.gref(1));
        assertEquals(8 + 4, r.nrSectors());
        assertEquals(1024, r.segmentPageOffset(1));
        assertEquals(2048, r.segmentBytes(1));

        back.putResponse(r.id(), r.operation(), r.status());
        assertTrue(back.pushResponses(), "rsp_event starts at 1");
        assertEquals(1, front.unconsumedResponses());
        assertEquals(0x1122334455667788L, front.responseId());
        assertEquals(Blkif.OP_WRITE, front.responseOperation());
        assertEquals(Blkif.RSP_OKAY, front.responseStatus());
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void responseLeavesTheRestOfTheSlotAlone(Abi abi) {
        ByteBuffer page = ByteBuffer.allocateDirect(4096).order(ByteOrder.LITTLE_ENDIAN);
        FrontRing front = FrontRing.init(page, abi, 1);
        BackRing back = new BackRing(page, abi, 1);
        int off = front.nextRequestOffset();
        for (int i = 0; i < abi.stride; i++) {
            page.put(off + i, (byte) 0xA5);
        }
        page.put(off, (byte) Blkif.OP_READ);
        page.put(off + 1, (byte) 0);
        front.skipRequest();
        front.pushRequests();
        back.takeRequest(new byte[abi.stride]);
        back.putResponse(42, Blkif.OP_READ, Blkif.RSP_ERROR);
        back.pushResponses();
        assertEquals(42L, page.getLong(off));
        assertEquals(Blkif.OP_READ, page.get(off + 8));
        assertEquals((byte) 0xA5, page.get(off + 9), "padding byte after operation untouched");
        assertEquals(-1, page.getShort(off + 10));
        for (int i = 12; i < abi.stride; i++) {
            assertEquals((byte) 0xA5, page.get(off + i), "byte " + i + " untouched");
        }
    }

    @Test
    void neverTakesMoreThanThereAreFreeResponseSlots() {
        ByteBuffer page = ByteBuffer.allocateDirect(4096);
        FrontRing front = FrontRing.init(page, Abi.X86_64, 1);
        BackRing back = new BackRing(page, Abi.X86_64, 1);
        for (int i = 0; i < 32; i++) {
            front.putRequest(Blkif.OP_FLUSH_DISKCACHE, i, 0, 0, NO, NO, NO, 0);
        }
        front.pushRequests();
        assertEquals(32, back.unconsumed());
        byte[] slot = new byte[112];
        for (int i = 0; i < 32; i++) {
            back.takeRequest(slot);
        }
        assertEquals(0, back.unconsumed());
        assertEquals(32, back.inFlight());
    }

    @Test
    void producerMoreThanARingAheadIsOverflow() {
        ByteBuffer page = ByteBuffer.allocateDirect(4096);
        FrontRing front = FrontRing.init(page, Abi.X86_64, 1);
        BackRing back = new BackRing(page, Abi.X86_64, 1);
        front.forceReqProd(33);
        assertEquals(BackRing.OVERFLOW, back.unconsumed());
        front.forceReqProd(-5); // "behind" us is also far ahead in unsigned terms
        assertEquals(BackRing.OVERFLOW, back.unconsumed());
        assertTrue(back.finalCheckForRequests(), "overflow counts as work so the caller sees it");
        front.forceReqProd(32);
        assertEquals(32, back.unconsumed());
    }

    @Test
    void finalCheckArmsReqEventAndCatchesLateRequests() {
        ByteBuffer page = ByteBuffer.allocateDirect(4096).order(ByteOrder.LITTLE_ENDIAN);
        FrontRing front = FrontRing.init(page, Abi.X86_64, 1);
        BackRing back = new BackRing(page, Abi.X86_64, 1);
        assertFalse(back.finalCheckForRequests());
        assertEquals(1, page.getInt(SharedRing.REQ_EVENT));
        front.putRequest(Blkif.OP_FLUSH_DISKCACHE, 1, 0, 0, NO, NO, NO, 0);
        assertTrue(front.pushRequests(), "backend armed req_event = req_cons + 1");
        back.takeRequest(new byte[112]);
        assertFalse(back.finalCheckForRequests());
        assertEquals(2, page.getInt(SharedRing.REQ_EVENT));
        // a frontend that pushes two without the backend re-arming notifies only once
        front.putRequest(Blkif.OP_FLUSH_DISKCACHE, 2, 0, 0, NO, NO, NO, 0);
        assertTrue(front.pushRequests());
        front.putRequest(Blkif.OP_FLUSH_DISKCACHE, 3, 0, 0, NO, NO, NO, 0);
        assertFalse(front.pushRequests());
    }

    @Test
    void backendNotifiesOnlyWhenRspEventIsInThePushedRange() {
        ByteBuffer page = ByteBuffer.allocateDirect(4096).order(ByteOrder.LITTLE_ENDIAN);
        FrontRing front = FrontRing.init(page, Abi.X86_64, 1);
        BackRing back = new BackRing(page, Abi.X86_64, 1);
        for (int i = 0; i < 4; i++) {
            front.putRequest(Blkif.OP_FLUSH_DISKCACHE, i, 0, 0, NO, NO, NO, 0);
        }
        front.pushRequests();
        byte[] slot = new byte[112];
        for (int i = 0; i < 4; i++) {
            back.takeRequest(slot);
        }
        back.putResponse(0, 3, Blkif.RSP_OKAY);
        back.putResponse(1, 3, Blkif.RSP_OKAY);
        assertTrue(back.pushResponses(), "rsp_event 1 is in (0, 2]");
        back.putResponse(2, 3, Blkif.RSP_OKAY);
        assertFalse(back.pushResponses(), "frontend has not re-armed: rsp_event 1 not in (2, 3]");
        page.putInt(SharedRing.RSP_EVENT, 5);
        back.putResponse(3, 3, Blkif.RSP_OKAY);
        assertFalse(back.pushResponses(), "rsp_event 5 not in (3, 4]");
        assertFalse(back.pushResponses(), "nothing new to push");
    }

    /** Seeded random walk across the 32-bit wrap: every request answered once, in order, never overflow. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 4711})
    void indicesWrapAround(long seed) {
        Random rnd = new Random(seed);
        ByteBuffer page = ByteBuffer.allocateDirect(4096).order(ByteOrder.LITTLE_ENDIAN);
        int start = -50 - rnd.nextInt(1000); // just below 2^32
        page.putInt(SharedRing.REQ_PROD, start);
        page.putInt(SharedRing.RSP_PROD, start);
        page.putInt(SharedRing.REQ_EVENT, start + 1);
        page.putInt(SharedRing.RSP_EVENT, start + 1);
        BackRing back = new BackRing(page, Abi.X86_32, 1);
        ArrayDeque<Long> outstanding = new ArrayDeque<>();
        int reqProd = start;
        long nextId = 0;
        long answered = 0;
        byte[] slot = new byte[108];
        Request r = new Request();
        Request.Limits limits = new Request.Limits(100, false, false);
        for (int step = 0; step < 5000; step++) {
            int room = 32 - (reqProd - back.rspProdPvt());
            int add = room == 0 ? 0 : rnd.nextInt(room + 1);
            for (int i = 0; i < add; i++) {
                int off = SharedRing.entryOffset(Abi.X86_32, 32, reqProd);
                page.put(off, (byte) Blkif.OP_FLUSH_DISKCACHE);
                page.put(off + 1, (byte) 0);
                page.putLong(off + Abi.X86_32.idOffset, nextId++);
                reqProd++;
            }
            page.putInt(SharedRing.REQ_PROD, reqProd);
            int n = back.unconsumed();
            assertTrue(n >= 0, "no false overflow at step " + step);
            int take = rnd.nextInt(n + 1);
            for (int i = 0; i < take; i++) {
                back.takeRequest(slot);
                assertEquals(Request.Kind.FLUSH, r.parse(slot, Abi.X86_32, limits));
                outstanding.add(r.id());
            }
            int answer = rnd.nextInt(outstanding.size() + 1);
            for (int i = 0; i < answer; i++) {
                long id = outstanding.poll();
                assertEquals(answered++, id, "requests come out in order");
                back.putResponse(id, Blkif.OP_FLUSH_DISKCACHE, Blkif.RSP_OKAY);
            }
            back.pushResponses();
        }
        assertTrue(answered > -(long) start, "the walk crossed the 32-bit wrap (answered " + answered + ")");
        assertEquals(back.rspProdPvt(), page.getInt(SharedRing.RSP_PROD));
    }
}
