package io.xendisk.blkif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The validation checklist of STYLE.md, item by item, for both ABIs. */
class RequestTest {
    private static final Request.Limits RW = new Request.Limits(2048, false, false);
    private static final Request.Limits RO = new Request.Limits(2048, true, false);

    private static byte[] slot(Abi abi, int op, int nseg, long id, long sector, int[][] segs) {
        ByteBuffer b = ByteBuffer.allocate(abi.stride).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) op).put(1, (byte) nseg).putLong(abi.idOffset, id).putLong(abi.sectorOffset, sector);
        for (int i = 0; i < segs.length; i++) {
            int o = abi.segmentsOffset + i * 8;
            b.putInt(o, segs[i][0]).put(o + 4, (byte) segs[i][1]).put(o + 5, (byte) segs[i][2]);
        }
        return b.array();
    }

    private static int[][] fullPages(int n) {
        int[][] s = new int[n][];
        for (int i = 0; i < n; i++) {
            s[i] = new int[] {100 + i, 0, 7};
        }
        return s;
    }

    private static Request parse(Abi abi, Request.Limits l, int op, int nseg, long sector, int[][] segs) {
        Request r = new Request();
        r.parse(slot(abi, op, nseg, 77, sector, segs), abi, l);
        assertEquals(77, r.id(), "id kept for the response");
        assertEquals(op, r.operation(), "operation kept for the response");
        return r;
    }

    private static void rejected(Request r, Rejection why) {
        assertEquals(Request.Kind.REJECTED, r.kind());
        assertEquals(why, r.rejection());
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void acceptsEdgeCases(Abi abi) {
        Request last = parse(abi, RW, Blkif.OP_READ, 1, 2047, new int[][] {{5, 7, 7}});
        assertEquals(Request.Kind.READ, last.kind(), "last sector of the disk");
        assertEquals(1, last.nrSectors());
        Request eleven = parse(abi, RW, Blkif.OP_WRITE, 11, 0, fullPages(11));
        assertEquals(Request.Kind.WRITE, eleven.kind());
        assertEquals(88, eleven.nrSectors());
        assertEquals(110, eleven.gref(10));
        Request tail = parse(abi, RW, Blkif.OP_READ, 11, 2048 - 88, fullPages(11));
        assertEquals(Request.Kind.READ, tail.kind(), "ends exactly at the end of the disk");
        assertEquals(Request.Kind.FLUSH, parse(abi, RW, Blkif.OP_FLUSH_DISKCACHE, 0, 0, new int[0][]).kind());
        assertEquals(Request.Kind.BARRIER, parse(abi, RW, Blkif.OP_WRITE_BARRIER, 0, 0, new int[0][]).kind());
        assertEquals(Request.Kind.FLUSH, parse(abi, RW, Blkif.OP_FLUSH_DISKCACHE, 1, 8, fullPages(1)).kind(),
                "flush with data");
        assertEquals(Request.Kind.READ, parse(abi, RO, Blkif.OP_READ, 1, 0, fullPages(1)).kind(), "read on read-only");
        assertEquals(Request.Kind.FLUSH, parse(abi, RO, Blkif.OP_FLUSH_DISKCACHE, 0, 0, new int[0][]).kind(),
                "empty flush on read-only");
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void rejectsEveryChecklistItem(Abi abi) {
        rejected(parse(abi, RW, 9, 1, 0, fullPages(1)), Rejection.UNKNOWN_OPERATION);
        rejected(parse(abi, RW, Blkif.OP_RESERVED_1, 1, 0, fullPages(1)), Rejection.UNSUPPORTED_OPERATION);
        rejected(parse(abi, RW, Blkif.OP_DISCARD, 0, 0, new int[0][]), Rejection.UNSUPPORTED_OPERATION);
        rejected(parse(abi, RO, Blkif.OP_WRITE, 1, 0, fullPages(1)), Rejection.READ_ONLY);
        rejected(parse(abi, RO, Blkif.OP_FLUSH_DISKCACHE, 1, 0, fullPages(1)), Rejection.READ_ONLY);
        rejected(parse(abi, RO, Blkif.OP_WRITE_BARRIER, 1, 0, fullPages(1)), Rejection.READ_ONLY);
        rejected(parse(abi, RW, Blkif.OP_READ, 0, 0, new int[0][]), Rejection.BAD_SEGMENT_COUNT);
        rejected(parse(abi, RW, Blkif.OP_WRITE, 0, 0, new int[0][]), Rejection.BAD_SEGMENT_COUNT);
        rejected(parse(abi, RW, Blkif.OP_READ, 12, 0, fullPages(11)), Rejection.BAD_SEGMENT_COUNT);
        rejected(parse(abi, RW, Blkif.OP_READ, 255, 0, fullPages(11)), Rejection.BAD_SEGMENT_COUNT);
        rejected(parse(abi, RW, Blkif.OP_READ, 1, 0, new int[][] {{5, 3, 2}}), Rejection.BAD_SEGMENT);
        rejected(parse(abi, RW, Blkif.OP_READ, 1, 0, new int[][] {{5, 0, 8}}), Rejection.BAD_SEGMENT);
        rejected(parse(abi, RW, Blkif.OP_READ, 2, 0, new int[][] {{5, 0, 7}, {6, 0, 255}}), Rejection.BAD_SEGMENT);
        rejected(parse(abi, RW, Blkif.OP_READ, 1, 2048, new int[][] {{5, 0, 0}}), Rejection.BEYOND_END);
        rejected(parse(abi, RW, Blkif.OP_READ, 1, 2047, new int[][] {{5, 0, 1}}), Rejection.BEYOND_END);
        rejected(parse(abi, RW, Blkif.OP_WRITE, 11, 2048 - 87, fullPages(11)), Rejection.BEYOND_END);
        rejected(parse(abi, RW, Blkif.OP_READ, 1, -1L, new int[][] {{5, 0, 7}}), Rejection.BEYOND_END);
        rejected(parse(abi, RW, Blkif.OP_READ, 1, Long.MAX_VALUE - 2, new int[][] {{5, 0, 7}}), Rejection.BEYOND_END);
        rejected(parse(abi, RW, Blkif.OP_FLUSH_DISKCACHE, 1, 2048, fullPages(1)), Rejection.BEYOND_END);
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void discardRangeIsOverflowChecked(Abi abi) {
        Request.Limits d = new Request.Limits(2048, false, true);
        Request r = new Request();
        ByteBuffer b = ByteBuffer.allocate(abi.stride).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) Blkif.OP_DISCARD).putLong(abi.idOffset, 1).putLong(abi.sectorOffset, 2000)
                .putLong(abi.discardSectorsOffset, 48);
        assertEquals(Request.Kind.DISCARD, r.parse(b.array(), abi, d));
        assertEquals(48, r.nrSectors());
        b.putLong(abi.discardSectorsOffset, 49);
        assertEquals(Request.Kind.REJECTED, r.parse(b.array(), abi, d));
        b.putLong(abi.sectorOffset, 8).putLong(abi.discardSectorsOffset, -4L);
        assertEquals(Rejection.BEYOND_END, r.parse(b.array(), abi, d) == Request.Kind.REJECTED ? r.rejection() : null);
        assertEquals(Rejection.READ_ONLY, r.parse(b.array(), abi, new Request.Limits(2048, true, true))
                == Request.Kind.REJECTED ? r.rejection() : null);
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void aFourKiBDiskTakesWholeSectorsOnly(Abi abi) {
        Request.Limits k4 = new Request.Limits(2048, false, true, 0, 4096);
        // 8 x 512 = one 4 KiB sector: a full page at sector 8 is fine
        assertEquals(Request.Kind.READ, parse(abi, k4, Blkif.OP_READ, 1, 8, fullPages(1)).kind());
        assertEquals(Request.Kind.WRITE, parse(abi, k4, Blkif.OP_WRITE, 2, 2032, fullPages(2)).kind(),
                "the last 4 KiB sectors and a request of two");
        rejected(parse(abi, k4, Blkif.OP_READ, 1, 4, fullPages(1)), Rejection.MISALIGNED);
        rejected(parse(abi, k4, Blkif.OP_READ, 1, 8, new int[][] {{5, 0, 3}}), Rejection.MISALIGNED);
        rejected(parse(abi, k4, Blkif.OP_WRITE, 2, 8, new int[][] {{5, 0, 7}, {6, 0, 0}}), Rejection.MISALIGNED);
        assertEquals(Blkif.RSP_ERROR, parse(abi, k4, Blkif.OP_READ, 1, 1, fullPages(1)).status());
        assertEquals(Request.Kind.FLUSH, parse(abi, k4, Blkif.OP_FLUSH_DISKCACHE, 0, 3, new int[0][]).kind(),
                "an empty flush carries no range");
        Request r = new Request();
        ByteBuffer b = ByteBuffer.allocate(abi.stride).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) Blkif.OP_DISCARD).putLong(abi.idOffset, 1).putLong(abi.sectorOffset, 16)
                .putLong(abi.discardSectorsOffset, 64);
        assertEquals(Request.Kind.DISCARD, r.parse(b.array(), abi, k4));
        b.putLong(abi.discardSectorsOffset, 60);
        assertEquals(Request.Kind.REJECTED, r.parse(b.array(), abi, k4));
        assertEquals(Rejection.MISALIGNED, r.rejection());
        // the same requests on a disk of 512-byte sectors
        assertEquals(Request.Kind.READ, parse(abi, RW, Blkif.OP_READ, 1, 4, fullPages(1)).kind());
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void secureDiscardIsNotOffered(Abi abi) {
        Request.Limits d = new Request.Limits(2048, false, true);
        Request r = new Request();
        ByteBuffer b = ByteBuffer.allocate(abi.stride).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) Blkif.OP_DISCARD).put(Abi.DISCARD_FLAG_OFFSET, (byte) Blkif.DISCARD_SECURE)
                .putLong(abi.idOffset, 7).putLong(abi.sectorOffset, 0).putLong(abi.discardSectorsOffset, 8);
        assertEquals(Request.Kind.REJECTED, r.parse(b.array(), abi, d));
        assertEquals(Rejection.UNSUPPORTED_OPERATION, r.rejection());
        assertEquals(Blkif.RSP_EOPNOTSUPP, r.status());
        assertEquals(7, r.id());
        b.put(Abi.DISCARD_FLAG_OFFSET, (byte) 0);
        assertEquals(Request.Kind.DISCARD, r.parse(b.array(), abi, d));
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void statusFollowsTheKind(Abi abi) {
        assertEquals(Blkif.RSP_OKAY, parse(abi, RW, Blkif.OP_READ, 1, 0, fullPages(1)).status());
        assertEquals(Blkif.RSP_ERROR, parse(abi, RO, Blkif.OP_WRITE, 1, 0, fullPages(1)).status());
        assertEquals(Blkif.RSP_EOPNOTSUPP, parse(abi, RW, 200, 1, 0, fullPages(1)).status());
        Request r = parse(abi, RW, Blkif.OP_READ, 1, 0, fullPages(1));
        r.fail(Rejection.BAD_GRANT);
        assertEquals(Blkif.RSP_ERROR, r.status());
    }

    private static final Request.Limits INDIRECT = new Request.Limits(2048, false, false, 64);

    /** An INDIRECT slot: indirect_op, nr_segments (u16), and the grants of its indirect pages. */
    private static byte[] indirectSlot(Abi abi, int indirectOp, int nseg, long sector, int... pageRefs) {
        ByteBuffer b = ByteBuffer.allocate(abi.stride).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) Blkif.OP_INDIRECT).put(1, (byte) indirectOp).putShort(2, (short) nseg)
                .putLong(abi.idOffset, 55).putLong(abi.sectorOffset, sector);
        for (int i = 0; i < pageRefs.length; i++) {
            b.putInt(abi.indirectGrefsOffset + i * 4, pageRefs[i]);
        }
        return b.array();
    }

    /** Descriptors as they sit in indirect pages: gref, first_sect, last_sect, 2 bytes of padding. */
    private static ByteBuffer descriptors(int[][] segs) {
        ByteBuffer d = ByteBuffer.allocate(2 * 4096).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < segs.length; i++) {
            d.putInt(i * 8, segs[i][0]).put(i * 8 + 4, (byte) segs[i][1]).put(i * 8 + 5, (byte) segs[i][2]);
        }
        return d;
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void indirectRequestsParseInTwoSteps(Abi abi) {
        Request r = new Request(64);
        assertEquals(Request.Kind.WRITE, r.parse(indirectSlot(abi, Blkif.OP_WRITE, 40, 8, 900), abi, INDIRECT));
        assertEquals(55, r.id());
        assertEquals(Blkif.OP_WRITE, r.operation(), "the response carries indirect_op");
        assertTrue(r.indirect());
        assertTrue(r.awaitingSegments());
        assertEquals(1, r.indirectPages());
        assertEquals(900, r.indirectGref(0));
        assertEquals(40 * 8, r.indirectPageBytes(0));
        assertEquals(Request.Kind.WRITE, r.loadIndirectSegments(descriptors(fullPages(40)), 0, INDIRECT));
        assertFalse(r.awaitingSegments());
        assertEquals(40, r.nrSegments());
        assertEquals(320, r.nrSectors());
        assertEquals(139, r.gref(39));
        // more than one indirect page: 512 descriptors fill the first
        Request.Limits big = new Request.Limits(1L << 30, false, false, 1024);
        Request two = new Request(1024);
        assertEquals(Request.Kind.READ, two.parse(indirectSlot(abi, Blkif.OP_READ, 600, 0, 1, 2), abi, big));
        assertEquals(2, two.indirectPages());
        assertEquals(4096, two.indirectPageBytes(0));
        assertEquals(88 * 8, two.indirectPageBytes(1));
        assertEquals(2, two.indirectGref(1));
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void indirectRequestsAreChecked(Abi abi) {
        Request r = new Request(64);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 4, 0, 1), abi, RW);
        rejected(r, Rejection.UNSUPPORTED_OPERATION);
        assertEquals(Blkif.OP_READ, r.operation(), "refused, still answered with indirect_op");
        r.parse(indirectSlot(abi, Blkif.OP_FLUSH_DISKCACHE, 4, 0, 1), abi, INDIRECT);
        rejected(r, Rejection.UNKNOWN_OPERATION);
        assertEquals(Blkif.OP_FLUSH_DISKCACHE, r.operation());
        r.parse(indirectSlot(abi, Blkif.OP_WRITE, 4, 0, 1), abi, new Request.Limits(2048, true, false, 64));
        rejected(r, Rejection.READ_ONLY);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 0, 0, 1), abi, INDIRECT);
        rejected(r, Rejection.BAD_SEGMENT_COUNT);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 65, 0, 1), abi, INDIRECT);
        rejected(r, Rejection.BAD_SEGMENT_COUNT);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 0xFFFF, 0, 1), abi, INDIRECT);
        rejected(r, Rejection.BAD_SEGMENT_COUNT);
        assertFalse(r.awaitingSegments());
        r.parse(indirectSlot(abi, Blkif.OP_READ, 2, 0, 1), abi, INDIRECT);
        r.loadIndirectSegments(descriptors(new int[][] {{5, 0, 7}, {6, 4, 8}}), 0, INDIRECT);
        rejected(r, Rejection.BAD_SEGMENT);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 2, 0, 1), abi, INDIRECT);
        r.loadIndirectSegments(descriptors(new int[][] {{5, 3, 2}, {6, 0, 7}}), 0, INDIRECT);
        rejected(r, Rejection.BAD_SEGMENT);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 16, 2048 - 120, 1), abi, INDIRECT);
        r.loadIndirectSegments(descriptors(fullPages(16)), 0, INDIRECT);
        rejected(r, Rejection.BEYOND_END);
        r.parse(indirectSlot(abi, Blkif.OP_READ, 16, 2048 - 128, 1), abi, INDIRECT);
        assertEquals(Request.Kind.READ, r.loadIndirectSegments(descriptors(fullPages(16)), 0, INDIRECT),
                "ends exactly at the end of the disk");
        assertThrows(IllegalStateException.class, () -> r.loadIndirectSegments(descriptors(fullPages(16)), 0, INDIRECT),
                "segments are taken once");
    }
}
