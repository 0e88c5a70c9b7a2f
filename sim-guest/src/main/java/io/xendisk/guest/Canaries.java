package io.xendisk.guest;

import java.nio.ByteBuffer;

import io.xendisk.xen.XenPage;
import io.xendisk.xen.sim.domain.GrantEntries;
import io.xendisk.xen.sim.domain.GuestGrants;
import io.xendisk.xen.sim.domain.GuestMemory;
import io.xendisk.xen.sim.domain.SimDomain;

/**
 * Guest pages the backend has no right to write, and the grant references a
 * hostile frontend names instead of its own: a page granted read-only, one
 * whose grant entry was revoked, one granted to another domain, a page never
 * granted at all; besides, references to a frame outside guest memory, never
 * granted, and outside the grant table. Every page holds a fixed pattern;
 * {@link #check} says whether any byte of them changed.
 *
 * <p>The revoked and foreign entries are written into the grant table by
 * hand and their references kept out of the allocator, so no later grant
 * turns them into valid ones in the middle of a run.
 */
final class Canaries implements AutoCloseable {
    /** What a hostile reference names, for messages. */
    enum Kind {
        READ_ONLY("granted read-only"), REVOKED("revoked"), OTHER_DOMAIN("granted to another domain"),
        BAD_FRAME("granted with a frame outside guest memory"), NEVER_GRANTED("never granted"),
        OUT_OF_TABLE("outside the grant table");

        final String description;

        Kind(String description) {
            this.description = description;
        }
    }

    private static final int PAGES = 4;
    private static final int READ_ONLY_PAGE = 0;
    private static final int REVOKED_PAGE = 1;
    private static final int OTHER_DOMAIN_PAGE = 2;
    private static final int UNGRANTED_PAGE = 3;
    private static final String[] PAGE_NAMES = {"granted read-only", "whose grant was revoked",
            "granted to another domain", "never granted"};
    private static final long PATTERN_SEED = 0xCA4A2135L;

    private final GuestGrants grants;
    private final GuestMemory memory;
    private final int backend;
    private final int firstFrame;
    private final ByteBuffer pages;
    private final int readOnlyRef;
    private final int revokedRef;
    private final int otherDomainRef;
    private final int badFrameRef;
    private Kind lastKind;

    Canaries(SimDomain domain, int backendDomid) {
        this.grants = domain.grants();
        this.memory = domain.memory();
        this.backend = backendDomid;
        this.firstFrame = memory.allocate(PAGES);
        this.pages = memory.pages(firstFrame, PAGES);
        Pattern.fill(pages, 0, 0, PAGES * XenPage.SIZE / Pattern.SECTOR, PATTERN_SEED);
        readOnlyRef = grants.grantAccess(firstFrame + READ_ONLY_PAGE, backendDomid, true);
        revokedRef = grants.grantAccess(firstFrame + REVOKED_PAGE, backendDomid, false);
        grants.writeRaw(revokedRef, GrantEntries.GTF_INVALID, backendDomid, firstFrame + REVOKED_PAGE);
        otherDomainRef = grants.grantAccess(firstFrame + OTHER_DOMAIN_PAGE, backendDomid, false);
        grants.writeRaw(otherDomainRef, GrantEntries.GTF_PERMIT_ACCESS, otherDomain(backendDomid),
                firstFrame + OTHER_DOMAIN_PAGE);
        badFrameRef = grants.grantAccess(memory.pages() + 1000, backendDomid, false);
    }

    private static int otherDomain(int backendDomid) {
        return backendDomid == 1 ? 2 : 1;
    }

    /** The read-only grant: a read into it must fail, a write from it may succeed. */
    int readOnlyRef() {
        return readOnlyRef;
    }

    /**
     * A reference the backend must refuse for a read into it (and, unless
     * {@code readOnlyToo}, for any use at all).
     */
    int hostileRef(FuzzRandom rng, boolean readOnlyToo) {
        Kind k = Kind.values()[readOnlyToo ? rng.below(Kind.values().length) : 1 + rng.below(Kind.values().length - 1)];
        lastKind = k;
        int entries = grants.entries();
        return switch (k) {
            case READ_ONLY -> readOnlyRef;
            case REVOKED -> revokedRef;
            case OTHER_DOMAIN -> otherDomainRef;
            case BAD_FRAME -> badFrameRef;
            // the allocator hands out the lowest references first: the last few stay free
            case NEVER_GRANTED -> entries - 1 - rng.below(4);
            case OUT_OF_TABLE -> switch (rng.below(3)) {
                case 0 -> entries + rng.below(1 << 20);
                case 1 -> Integer.MAX_VALUE;
                default -> -1;
            };
        };
    }

    /** What the last {@link #hostileRef} named. */
    Kind lastKind() {
        return lastKind;
    }

    /** @return null while every page holds its pattern, else which page changed and where */
    String check() {
        for (int p = 0; p < PAGES; p++) {
            int bad = Pattern.firstMismatch(pages, p * XenPage.SIZE, p * XenPage.SIZE / Pattern.SECTOR,
                    XenPage.SIZE / Pattern.SECTOR, PATTERN_SEED);
            if (bad >= 0) {
                return "the guest page " + PAGE_NAMES[p] + " (frame " + (firstFrame + p) + ") changed in its sector "
                        + bad + ": the backend wrote where no grant let it";
            }
        }
        return null;
    }

    /** Gives the references back to the allocator and the pages to guest memory, if the backend holds none of them. */
    @Override
    public void close() {
        // entries written by hand are made ordinary grants again so that endAccess frees them
        grants.writeRaw(revokedRef, GrantEntries.GTF_PERMIT_ACCESS, backend, firstFrame + REVOKED_PAGE);
        grants.writeRaw(otherDomainRef, GrantEntries.GTF_PERMIT_ACCESS, backend, firstFrame + OTHER_DOMAIN_PAGE);
        boolean all = true;
        for (int ref : new int[] {readOnlyRef, revokedRef, otherDomainRef, badFrameRef}) {
            all &= grants.endAccess(ref);
        }
        if (all) {
            memory.free(firstFrame, PAGES);
        }
    }
}
