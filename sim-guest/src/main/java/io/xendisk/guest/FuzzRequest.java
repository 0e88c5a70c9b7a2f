package io.xendisk.guest;

/**
 * One fuzz request from its plan to its response (blkfront's shadow entry,
 * with what the fuzzer expects of it): what goes on the ring, the status its
 * response must carry, where its data is and which sectors it holds.
 */
final class FuzzRequest {
    /** Filled into the pages a read uses, so a byte the backend did not deliver stands out. */
    static final long POISON = 0x9015_0115_DEAD_F00DL;

    /** What the response must say. */
    enum Expect { OKAY, ERROR, EITHER }

    /** Where a segment's page (or an INDIRECT request's descriptor page) is. */
    enum Page { OWN, READ_ONLY, HOSTILE, REVOCABLE }

    long number;
    FuzzCase kind;
    Expect expect;
    int op;
    boolean indirect;
    long sector;
    /** nr_segments as sent, valid or not. */
    int nrSegments;
    /** Descriptors written: at most nrSegments, at most what a slot has pages for. */
    int segments;
    final int[] first;
    final int[] last;
    final Page[] page;
    final int[] hostileRef;
    Page indirectPage;
    int indirectHostileRef;
    /** Sectors its segments cover, from {@link #sector}. */
    long dataSectors;
    /** It reads the disk and its data is checked. */
    boolean read;
    /** It writes the disk (its pages hold the pattern of {@link #number}). */
    boolean write;
    /** It holds its sectors in the shadow while in flight. */
    boolean holds;
    /** A failure of this write may leave its sectors written or not. */
    boolean mayPartiallyWrite;
    /** What its hostile reference names, for messages. */
    Canaries.Kind hostileKind;
    int revocable = -1;
    /** Revoke its page after the next responses rather than right after the push. */
    boolean revokeLate;
    /** Its revocation is still to be tried. */
    boolean revokePending;
    boolean revoked;
    /** The other request of a pair sharing one id; null when alone. */
    FuzzRequest partner;
    boolean secondOfPair;
    int slot;
    boolean inFlight;
    int status;

    FuzzRequest(int maxSegments) {
        int n = maxSegments + 1;
        first = new int[n];
        last = new int[n];
        page = new Page[n];
        hostileRef = new int[n];
    }

    void reset(long number) {
        this.number = number;
        kind = null;
        expect = Expect.OKAY;
        op = 0;
        indirect = false;
        sector = 0;
        nrSegments = 0;
        segments = 0;
        dataSectors = 0;
        read = false;
        write = false;
        holds = false;
        mayPartiallyWrite = false;
        hostileKind = null;
        indirectPage = Page.OWN;
        indirectHostileRef = 0;
        revocable = -1;
        revokeLate = false;
        revokePending = false;
        revoked = false;
        partner = null;
        secondOfPair = false;
        slot = -1;
        inFlight = false;
        status = 0;
    }

    /** The request's number as the pattern tag of its data. */
    int tag() {
        return (int) number;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("request #").append(number).append(" (").append(kind.label)
                .append(indirect ? ": INDIRECT " : ": ").append(io.xendisk.blkif.Blkif.opName(op))
                .append(" sector ").append(Long.toUnsignedString(sector)).append(" nr_segments ").append(nrSegments);
        if (dataSectors > 0) {
            sb.append(", ").append(dataSectors).append(" sectors");
        }
        if (hostileKind != null) {
            sb.append(", a reference ").append(hostileKind.description);
        }
        if (revocable >= 0) {
            sb.append(revoked ? ", its page revoked in flight" : ", its page in use when revoked");
        }
        return sb.append(", slot ").append(slot).append(')').toString();
    }
}
