package io.xendisk.xen.sim.domain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.xendisk.xen.GrantCopyBatch;
import io.xendisk.xen.GrantException;
import io.xendisk.xen.GrantMapping;
import io.xendisk.xen.XenPage;

class SimGrantTableTest {
    private static final int GUEST = 7;
    private static final int PAGES = 16;
    private static final int ENTRIES = 64;

    @TempDir
    Path simdir;
    private SimDomain guest;
    private SimGrantTable grants;

    @BeforeEach
    void setUp() throws Exception {
        guest = SimDomain.create(simdir, GUEST, PAGES, ENTRIES);
        grants = new SimGrantTable(simdir);
    }

    @AfterEach
    void tearDown() {
        grants.close();
        guest.close();
    }

    private static byte pattern(int frame, int i) {
        return (byte) (frame * 31 + i * 7 + 1);
    }

    private int filledPage() {
        int frame = guest.memory().allocate(1);
        ByteBuffer page = guest.memory().page(frame);
        for (int i = 0; i < XenPage.SIZE; i++) {
            page.put(i, pattern(frame, i));
        }
        return frame;
    }

    @Test
    void copyFromGuestMovesTheGrantedBytesToTheLocalOffset() {
        int frame = filledPage();
        int ref = guest.grants().grantAccess(frame, 0, false);
        assertTrue(ref >= GrantEntries.NR_RESERVED_ENTRIES, "refs 0..7 are the toolstack's");
        ByteBuffer local = ByteBuffer.allocateDirect(1024);
        GrantCopyBatch batch = new GrantCopyBatch(4);
        batch.add(GUEST, ref, 100, 200, false, local, 50);

        assertEquals(0, grants.copy(batch));

        assertEquals(GrantCopyBatch.GNTST_OKAY, batch.status(0));
        for (int i = 0; i < 200; i++) {
            assertEquals(pattern(frame, 100 + i), local.get(50 + i), "byte " + i);
        }
        assertEquals(0, local.get(49));
        assertEquals(0, local.get(250));
    }

    @Test
    void copyToGuestWritesGuestMemoryAndNothingElse() {
        int frame = guest.memory().allocate(1);
        int ref = guest.grants().grantAccess(frame, 0, false);
        ByteBuffer local = ByteBuffer.allocateDirect(8192);
        for (int i = 0; i < local.capacity(); i++) {
            local.put(i, (byte) (i ^ 0x5A));
        }
        GrantCopyBatch batch = new GrantCopyBatch(4);
        batch.add(GUEST, ref, 512, 1024, true, local, 4096);

        assertEquals(0, grants.copy(batch));

        ByteBuffer page = guest.memory().page(frame);
        for (int i = 0; i < XenPage.SIZE; i++) {
            byte expected = i >= 512 && i < 1536 ? (byte) ((4096 + i - 512) ^ 0x5A) : 0;
            assertEquals(expected, page.get(i), "guest byte " + i);
        }
        assertFalse(guest.grants().inUse(ref), "copy unpins the grant when done");
    }

    @Test
    void readOnlyGrantAllowsCopyFromGuestButNotToGuest() {
        int frame = filledPage();
        int ref = guest.grants().grantAccess(frame, 0, true);
        ByteBuffer local = ByteBuffer.allocateDirect(4096);
        GrantCopyBatch batch = new GrantCopyBatch(4);
        batch.add(GUEST, ref, 0, 4096, true, local, 0);
        batch.add(GUEST, ref, 0, 16, false, local, 0);

        assertEquals(1, grants.copy(batch));

        assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, batch.status(0), "Xen: write-pin of a r/o grant");
        assertEquals(GrantCopyBatch.GNTST_OKAY, batch.status(1));
        assertEquals(pattern(frame, 0), guest.memory().page(frame).get(0), "guest page untouched");
        assertEquals(pattern(frame, 15), local.get(15));
    }

    @Test
    void eachBadSegmentGetsItsOwnStatusAndTheOthersStillCopy() throws Exception {
        int frame = filledPage();
        int good = guest.grants().grantAccess(frame, 0, false);
        int revoked = guest.grants().grantAccess(frame, 0, false);
        assertTrue(guest.grants().endAccess(revoked));
        int otherDomain = guest.grants().grantAccess(frame, 5, false);
        int beyondMemory = 40;
        guest.grants().writeRaw(beyondMemory, GrantEntries.GTF_PERMIT_ACCESS, 0, PAGES);
        ByteBuffer local = ByteBuffer.allocateDirect(4096);
        GrantCopyBatch batch = new GrantCopyBatch(16);
        batch.add(GUEST, good, 0, 8, false, local, 0);
        batch.add(GUEST, revoked, 0, 8, false, local, 8);
        batch.add(GUEST, otherDomain, 0, 8, false, local, 16);
        batch.add(GUEST, ENTRIES + 3, 0, 8, false, local, 24);
        batch.add(GUEST, -1, 0, 8, false, local, 24);
        batch.add(GUEST, beyondMemory, 0, 8, false, local, 32);
        batch.add(GUEST, 0, 0, 8, false, local, 40);
        batch.add(99, good, 0, 8, false, local, 48);
        batch.add(GUEST, good, 8, 8, false, local, 56);

        assertEquals(7, grants.copy(batch));

        short[] expected = {GrantCopyBatch.GNTST_OKAY, GrantCopyBatch.GNTST_GENERAL_ERROR,
                GrantCopyBatch.GNTST_GENERAL_ERROR, GrantCopyBatch.GNTST_BAD_GNTREF, GrantCopyBatch.GNTST_BAD_GNTREF,
                GrantEntries.GNTST_BAD_PAGE, GrantCopyBatch.GNTST_GENERAL_ERROR, GrantCopyBatch.GNTST_BAD_DOMAIN,
                GrantCopyBatch.GNTST_OKAY};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], batch.status(i), "segment " + i);
        }
        for (int i = 0; i < 8; i++) {
            assertEquals(pattern(frame, i), local.get(i));
            assertEquals(0, local.get(8 + i), "revoked ref copied nothing");
            assertEquals(pattern(frame, 8 + i), local.get(56 + i));
        }
    }

    @Test
    void localOffsetsAreAbsoluteUpToTheCapacityAsOnXen() {
        int frame = filledPage();
        int ref = guest.grants().grantAccess(frame, 0, false);
        ByteBuffer local = ByteBuffer.allocateDirect(8192);
        local.position(100).limit(200); // position and limit must not matter, as for the real copier
        GrantCopyBatch batch = new GrantCopyBatch(2);
        batch.add(GUEST, ref, 0, 4096, false, local, 4096);
        batch.add(GUEST, ref, 0, 4096, false, local, 4097); // one byte past the capacity
        assertEquals(1, grants.copy(batch));
        assertEquals(GrantCopyBatch.GNTST_OKAY, batch.status(0));
        assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, batch.status(1));
        ByteBuffer all = local.duplicate().clear();
        for (int i = 0; i < 4096; i++) {
            assertEquals(pattern(frame, i), all.get(4096 + i), "byte " + i);
        }
        assertEquals(100, local.position());
        assertEquals(200, local.limit());
    }

    @Test
    void badLocalBufferIsAGeneralErrorNotAnException() {
        int ref = guest.grants().grantAccess(filledPage(), 0, false);
        GrantCopyBatch batch = new GrantCopyBatch(4);
        batch.add(GUEST, ref, 0, 64, false, ByteBuffer.allocateDirect(32), 0);
        batch.add(GUEST, ref, 0, 64, false, ByteBuffer.allocateDirect(64).asReadOnlyBuffer(), 0);
        batch.add(GUEST, ref, 0, 64, true, ByteBuffer.allocateDirect(64), 1);

        assertEquals(3, grants.copy(batch));
        for (int i = 0; i < 3; i++) {
            assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, batch.status(i));
        }
    }

    @Test
    void mappedRingPageIsLiveSharedMemoryBothWays() {
        int frame = guest.memory().allocate(1);
        int ref = guest.grants().grantAccess(frame, 0, false);
        ByteBuffer guestView = guest.memory().page(frame);
        try (GrantMapping m = grants.map(GUEST, new int[] {ref}, true)) {
            ByteBuffer ring = m.buffer();
            assertEquals(1, m.pages());
            assertEquals(XenPage.SIZE, ring.capacity());

            guestView.putInt(0, 0x11223344);
            assertEquals(0x11223344, ring.getInt(0), "guest write seen through the mapping");
            ring.putInt(8, 0x55667788);
            assertEquals(0x55667788, guestView.getInt(8), "backend write seen by the guest");

            assertTrue(guest.grants().inUse(ref), "a mapped grant is pinned");
            assertFalse(guest.grants().endAccess(ref), "the guest cannot revoke a mapped grant");
        }
        assertTrue(guest.grants().endAccess(ref), "revocable once unmapped");
    }

    /**
     * A frontend that revokes the page of a request in flight keeps the
     * reference until the response (gnttab_end_foreign_access_ref, then
     * gnttab_free_grant_reference): a late copy by the backend must fail, not
     * land in whatever page the next grant gave that reference to.
     */
    @Test
    void aReferenceRevokedButKeptNamesNoOtherPageUntilFreed() {
        int first = filledPage();
        int ref = guest.grants().grantAccess(first, 0, false);
        assertTrue(guest.grants().endAccessKeepingRef(ref));
        int other = guest.grants().grantAccess(guest.memory().allocate(1), 0, false);
        assertTrue(other != ref, "the kept reference is not handed out again");
        GrantCopyBatch late = new GrantCopyBatch(1);
        late.add(GUEST, ref, 0, 8, true, ByteBuffer.allocate(8), 0);
        grants.copy(late);
        assertEquals(GrantCopyBatch.GNTST_GENERAL_ERROR, late.status(0), "the backend's late copy fails");

        guest.grants().freeRef(ref);
        assertEquals(ref, guest.grants().grantAccess(first, 0, false), "freed, the reference is reused first");
    }

    @Test
    void pinsOfABackendThatDiedAreReleasedByTheNextOneAndNoOthers() throws Exception {
        int mappedFrame = guest.memory().allocate(1);
        int mapped = guest.grants().grantAccess(mappedFrame, 0, false);
        int idle = guest.grants().grantAccess(guest.memory().allocate(1), 0, false);
        // the dying backend: it maps and never unmaps (kill -9 runs no close)
        grants.map(GUEST, new int[] {mapped}, true);
        assertFalse(guest.grants().endAccess(mapped), "pinned while the first backend holds it");

        SimGrantTable next = new SimGrantTable(simdir);
        assertEquals(Map.of(GUEST, 1), next.releasePinsOfDeadBackend());
        assertEquals(Map.of(), next.releasePinsOfDeadBackend(), "nothing left the second time");

        assertTrue(guest.grants().endAccess(mapped), "the guest can revoke the page the dead backend had mapped");
        assertTrue(guest.grants().endAccess(idle));
        next.close();
    }

    @Test
    void consecutiveFramesMapAsOneBuffer() {
        int first = guest.memory().allocate(4);
        int[] refs = new int[4];
        for (int i = 0; i < 4; i++) {
            refs[i] = guest.grants().grantAccess(first + i, 0, false);
            guest.memory().page(first + i).put(0, (byte) (10 + i));
        }
        try (GrantMapping m = grants.map(GUEST, refs, true)) {
            assertEquals(4, m.pages());
            for (int i = 0; i < 4; i++) {
                assertEquals(10 + i, m.buffer().get(i * XenPage.SIZE));
            }
        }
    }

    @Test
    void readOnlyMappingCannotWrite() {
        int ref = guest.grants().grantAccess(filledPage(), 0, true);
        try (GrantMapping m = grants.map(GUEST, new int[] {ref}, false)) {
            assertTrue(m.buffer().isReadOnly());
        }
        GrantException e = assertThrows(GrantException.class, () -> grants.map(GUEST, new int[] {ref}, true));
        assertTrue(e.getMessage().contains("domain 7: grant ref " + ref) && e.getMessage().contains("read-only"),
                e.getMessage());
        assertFalse(guest.grants().inUse(ref), "a failed map leaves nothing pinned");
    }

    @Test
    void mapRefusalsNameDomainRefAndReason() {
        int a = guest.memory().allocate(1);
        guest.memory().allocate(1);
        int c = guest.memory().allocate(1);
        int refA = guest.grants().grantAccess(a, 0, false);
        int refC = guest.grants().grantAccess(c, 0, false);
        int toOther = guest.grants().grantAccess(a, 3, false);

        assertMapFails(new int[] {ENTRIES}, "grant ref " + ENTRIES + ": out of range");
        assertMapFails(new int[] {toOther}, "granted to domain 3");
        assertMapFails(new int[] {60}, "not granted");
        assertMapFails(new int[] {refA, refC}, "consecutive frames");
        assertFalse(guest.grants().inUse(refA), "refs pinned before the failure are released");

        GrantException e = assertThrows(GrantException.class, () -> grants.map(42, new int[] {refA}, false));
        assertTrue(e.getMessage().startsWith("domain 42: no simulated domain at "), e.getMessage());
        assertTrue(e.getMessage().contains("is the guest running?"), e.getMessage());
    }

    private void assertMapFails(int[] refs, String reason) {
        GrantException e = assertThrows(GrantException.class, () -> grants.map(GUEST, refs, true));
        assertTrue(e.getMessage().startsWith("domain " + GUEST + ": grant ref "), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test
    void forgottenDomainIsReopenedAfterTheGuestIsRecreated() throws Exception {
        int frame = filledPage();
        int ref = guest.grants().grantAccess(frame, 0, false);
        GrantCopyBatch batch = new GrantCopyBatch(1);
        ByteBuffer local = ByteBuffer.allocateDirect(4096);
        batch.add(GUEST, ref, 0, 1, false, local, 0);
        assertEquals(0, grants.copy(batch));

        guest.close();
        grants.forget(GUEST);
        assertEquals(1, grants.copy(batch));
        assertEquals(GrantCopyBatch.GNTST_BAD_DOMAIN, batch.status(0));

        guest = SimDomain.create(simdir, GUEST, PAGES, ENTRIES);
        int f2 = guest.memory().allocate(1);
        guest.memory().page(f2).put(0, (byte) 0x7E);
        batch.clear();
        batch.add(GUEST, guest.grants().grantAccess(f2, 0, false), 0, 1, false, local, 0);
        assertEquals(0, grants.copy(batch));
        assertEquals(0x7E, local.get(0));
    }

    @Test
    void aLiveDomainIsNotReplaced() {
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> SimDomain.create(simdir, GUEST, 1, 16));
    }

    @Test
    void guestAllocatorStartsAfterTheReservedRefsAndReusesFreedOnes() {
        int r1 = guest.grants().grantAccess(0, 0, false);
        int r2 = guest.grants().grantAccess(1, 0, false);
        assertEquals(8, r1);
        assertEquals(9, r2);
        assertTrue(guest.grants().endAccess(r1));
        assertEquals(r1, guest.grants().grantAccess(2, 0, false));
    }

    @Test
    void onDiskEntryIsGrantEntryV1() throws Exception {
        int ref = guest.grants().grantAccess(0xE, 0x1234, true);
        byte[] file = Files.readAllBytes(SimPaths.grantTable(simdir, GUEST));
        byte[] entry = Arrays.copyOfRange(file, ref * 8, ref * 8 + 8);
        // u16 flags = permit_access|readonly, u16 domid = 0x1234, u32 frame = 0xE, little-endian
        assertArrayEquals(new byte[] {5, 0, 0x34, 0x12, 0xE, 0, 0, 0}, entry);
    }
}
