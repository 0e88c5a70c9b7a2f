package io.xendisk.blkif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.xendisk.xen.XenPage;

/**
 * Coverage-guided fuzzing of the request parser, the first code a
 * frontend's bytes reach: any slot, any indirect pages, any limits. What
 * {@link Request} accepts is checked against blkif.h's rules written out
 * again here, independently; what it rejects carries a reason and the id and
 * operation its response must echo; a request object reused from slot to
 * slot (as the ring's pool does) answers exactly as a fresh one.
 *
 * <p>A plain test run replays the inputs under
 * {@code src/test/resources/io/xendisk/blkif/RequestFuzzTestInputs}; with
 * {@code JAZZER_FUZZ=1} it fuzzes for the time given below (.ci/run does).
 */
class RequestFuzzTest {
    private static final int MAX_SEGMENTS = Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * Blkif.SEGMENTS_PER_INDIRECT_PAGE;
    private final Request reused = new Request(MAX_SEGMENTS);

    @FuzzTest(maxDuration = "30s")
    void everySlotIsParsedByTheRules(FuzzedDataProvider data) {
        Abi abi = data.pickValue(Abi.values());
        long diskSectors = data.consumeBoolean() ? data.consumeLong(0, 1L << 40) : data.consumeLong();
        diskSectors = Math.max(0, diskSectors);
        boolean readOnly = data.consumeBoolean();
        boolean discard = data.consumeBoolean();
        int maxIndirect = data.consumeInt(0, MAX_SEGMENTS);
        int sectorSize = data.consumeBoolean() ? 4096 : 512;
        Request.Limits limits = new Request.Limits(diskSectors, readOnly, discard, maxIndirect, sectorSize);
        byte[] slot = new byte[abi.stride];
        byte[] given = data.consumeBytes(abi.stride);
        System.arraycopy(given, 0, slot, 0, given.length);
        ByteBuffer pages = ByteBuffer.allocate(Blkif.MAX_INDIRECT_PAGES_PER_REQUEST * XenPage.SIZE);
        byte[] rest = data.consumeRemainingAsBytes();
        pages.put(0, rest, 0, Math.min(rest.length, pages.capacity()));

        Request fresh = new Request(MAX_SEGMENTS);
        Request.Kind kind = parse(fresh, slot, abi, limits, pages);
        Request.Kind again = parse(reused, slot, abi, limits, pages);
        assertEquals(kind, again, "a reused request answers as a fresh one");
        assertSame(fresh, reused);
        check(fresh, kind, ByteBuffer.wrap(slot).order(ByteOrder.LITTLE_ENDIAN), abi, limits, pages);
    }

    private static Request.Kind parse(Request r, byte[] slot, Abi abi, Request.Limits limits, ByteBuffer pages) {
        Request.Kind k = r.parse(slot, abi, limits);
        if (r.awaitingSegments()) {
            k = r.loadIndirectSegments(pages, 0, limits);
        }
        assertFalse(r.awaitingSegments());
        return k;
    }

    private static void assertSame(Request a, Request b) {
        assertEquals(a.kind(), b.kind());
        assertEquals(a.rejection(), b.rejection());
        assertEquals(a.id(), b.id());
        assertEquals(a.operation(), b.operation());
        assertEquals(a.sector(), b.sector());
        assertEquals(a.nrSegments(), b.nrSegments());
        assertEquals(a.nrSectors(), b.nrSectors());
        assertEquals(a.indirect(), b.indirect());
        if (a.kind() != Request.Kind.REJECTED) {
            for (int i = 0; i < a.nrSegments(); i++) {
                assertEquals(a.gref(i), b.gref(i));
                assertEquals(a.firstSect(i), b.firstSect(i));
                assertEquals(a.lastSect(i), b.lastSect(i));
            }
        }
    }

    /** blkif.h's rules, from the wire bytes. */
    private static void check(Request r, Request.Kind kind, ByteBuffer b, Abi abi, Request.Limits limits, ByteBuffer pages) {
        int op = b.get(Abi.OPERATION_OFFSET) & 0xFF;
        boolean indirect = op == Blkif.OP_INDIRECT;
        assertEquals(b.getLong(abi.idOffset), r.id(), "the response echoes the id");
        assertEquals(indirect ? b.get(Abi.INDIRECT_OP_OFFSET) & 0xFF : op, r.operation(), "and the operation");
        assertEquals(b.getLong(abi.sectorOffset), r.sector());
        if (kind == Request.Kind.REJECTED) {
            assertNotNull(r.rejection(), "a rejected request says why");
            return;
        }
        assertNull(r.rejection());
        long sector = r.sector();
        switch (kind) {
            case DISCARD -> {
                assertEquals(Blkif.OP_DISCARD, op);
                assertTrue(limits.discard() && !limits.readOnly());
                assertEquals(0, b.get(Abi.DISCARD_FLAG_OFFSET) & Blkif.DISCARD_SECURE, "no secure discard (not offered)");
                long count = b.getLong(abi.discardSectorsOffset);
                assertEquals(count, r.nrSectors());
                assertTrue(Long.compareUnsigned(sector, limits.diskSectors()) <= 0
                        && Long.compareUnsigned(count, limits.diskSectors() - sector) <= 0, "a discard inside the disk");
                assertEquals(0, (sector | count) & (limits.sectorSize() / 512 - 1), "whole sectors of sector-size");
                return;
            }
            case FLUSH, BARRIER -> assertTrue(op == Blkif.OP_FLUSH_DISKCACHE || op == Blkif.OP_WRITE_BARRIER);
            case READ -> assertTrue(op == Blkif.OP_READ || (indirect && r.operation() == Blkif.OP_READ));
            case WRITE -> {
                assertTrue(op == Blkif.OP_WRITE || (indirect && r.operation() == Blkif.OP_WRITE));
                assertFalse(limits.readOnly(), "no write to a read-only disk");
            }
            default -> throw new AssertionError("unexpected kind " + kind);
        }
        int n = r.nrSegments();
        ByteBuffer descriptors;
        int base;
        if (indirect) {
            assertTrue(limits.maxIndirectSegments() > 0 && n >= 1 && n <= limits.maxIndirectSegments());
            assertEquals(b.getShort(Abi.INDIRECT_NR_SEGMENTS_OFFSET) & 0xFFFF, n);
            assertEquals((n + Blkif.SEGMENTS_PER_INDIRECT_PAGE - 1) / Blkif.SEGMENTS_PER_INDIRECT_PAGE, r.indirectPages());
            for (int p = 0; p < r.indirectPages(); p++) {
                assertEquals(b.getInt(abi.indirectGrefsOffset + 4 * p), r.indirectGref(p));
            }
            descriptors = pages.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            base = 0;
        } else {
            assertEquals(b.get(Abi.NR_SEGMENTS_OFFSET) & 0xFF, n);
            assertTrue(n <= Blkif.MAX_SEGMENTS_PER_REQUEST);
            assertTrue(n >= 1 || kind == Request.Kind.FLUSH || kind == Request.Kind.BARRIER, "data needs a segment");
            descriptors = b;
            base = abi.segmentsOffset;
        }
        long sectors = 0;
        for (int i = 0; i < n; i++) {
            int o = base + i * Abi.SEGMENT_SIZE;
            int first = descriptors.get(o + Abi.SEGMENT_FIRST_SECT_OFFSET) & 0xFF;
            int last = descriptors.get(o + Abi.SEGMENT_LAST_SECT_OFFSET) & 0xFF;
            assertTrue(first <= last && last < Blkif.SECTORS_PER_PAGE, "segment " + i + " inside its page");
            assertEquals(descriptors.getInt(o + Abi.SEGMENT_GREF_OFFSET), r.gref(i));
            assertEquals(first * Blkif.SECTOR_SIZE, r.segmentPageOffset(i));
            assertEquals((last - first + 1) * Blkif.SECTOR_SIZE, r.segmentBytes(i));
            sectors += last - first + 1;
        }
        assertEquals(sectors, r.nrSectors());
        if (n > 0) {
            assertTrue(Long.compareUnsigned(sector, limits.diskSectors()) < 0
                    && sectors <= limits.diskSectors() - sector, "the range inside the disk");
            assertEquals(0, (sector | sectors) & (limits.sectorSize() / 512 - 1), "whole sectors of sector-size");
        }
    }
}
