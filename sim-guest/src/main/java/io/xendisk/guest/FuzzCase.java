package io.xendisk.guest;

/** The kinds of request the fuzz workload sends; the first group valid, then what must fail. */
enum FuzzCase {
    READ("read", "a read of 1..11 segments, whole or partial pages"),
    WRITE("write", "a write of 1..11 segments"),
    INDIRECT_READ("indirect-read", "an INDIRECT read of 1..feature-max-indirect-segments segments"),
    INDIRECT_WRITE("indirect-write", "an INDIRECT write"),
    LAST_SECTORS("last-sectors", "a read or write ending at the disk's last sector"),
    READ_ONLY_GRANTS("read-only-grants", "a write from pages granted read-only, or an INDIRECT request whose"
            + " descriptor page is granted read-only"),
    FLUSH("flush", "a FLUSH_DISKCACHE without data"),
    FLUSH_WITH_DATA("flush-with-data", "a FLUSH_DISKCACHE carrying a write"),
    BARRIER("barrier", "a WRITE_BARRIER without data (when the backend offers feature-barrier)"),
    DUPLICATE_ID_READS("duplicate-id-reads", "two valid reads in flight with one id"),
    REVOKED_IN_FLIGHT("revoked-in-flight", "a read or write whose page the guest revokes right after pushing it"),
    BAD_OPERATION("bad-operation", "an unknown operation code"),
    NO_SEGMENTS("no-segments", "a read or write with nr_segments 0"),
    TOO_MANY_SEGMENTS("too-many-segments", "nr_segments 12..255 in a direct request"),
    BAD_SECTORS("bad-sectors", "a segment with first_sect > last_sect or last_sect > 7"),
    PAST_END("past-end", "a range crossing the end of the disk, beyond it, or wrapping past 2^64"),
    BAD_GRANT_READ("bad-grant-read", "a read into a reference granted read-only, revoked, foreign, never granted"),
    BAD_GRANT_WRITE("bad-grant-write", "a write from a reference revoked, foreign, never granted"),
    INDIRECT_BAD_OPERATION("indirect-bad-operation", "an INDIRECT request whose indirect_op is neither read nor write"),
    INDIRECT_BAD_COUNT("indirect-bad-count", "an INDIRECT request with 0 or more segments than negotiated"),
    INDIRECT_BAD_SECTORS("indirect-bad-sectors", "a bad first_sect/last_sect in an indirect page"),
    INDIRECT_BAD_GRANT("indirect-bad-grant", "a bad data reference in an indirect page"),
    INDIRECT_BAD_PAGE("indirect-bad-page", "an indirect page reference revoked, foreign, never granted"),
    INDIRECT_PAST_END("indirect-past-end", "an INDIRECT request crossing the end of the disk"),
    INDIRECT_NOT_OFFERED("indirect-not-offered", "an INDIRECT request to a backend that offers none"),
    DUPLICATE_ID_INVALID("duplicate-id-invalid", "two invalid requests in flight with one id"),
    READ_BACK("read-back", "after the run, a read of every sector the shadow covers, checked");

    final String label;
    final String description;

    FuzzCase(String label, String description) {
        this.label = label;
        this.description = description;
    }
}
