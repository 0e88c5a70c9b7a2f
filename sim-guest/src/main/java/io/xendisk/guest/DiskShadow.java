package io.xendisk.guest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * What the fuzzer knows each sector of the disk's first {@link #sectors}
 * holds, and which of them requests in flight are using.
 *
 * <p>A write fills its sectors with the {@link Pattern} of its own tag (its
 * request number), so data found anywhere names the request that wrote it. A
 * sector holds the data of its last successful write; before any, it is
 * unknown and not checked. A write that failed for a reason the backend may
 * find only half-way (a grant it could not use) may have written its sectors
 * or not, as a failed write on a real disk: the sector may then hold either
 * tag until a read tells which.
 *
 * <p>Two requests in flight on one sector have no defined order unless both
 * read, so a request waits until the sectors it needs are free.
 */
final class DiskShadow {
    static final int UNKNOWN = 0;

    final int sectors;
    private final long patternBase;
    private final int[] tag;
    private final int[] alt;
    private final short[] readers;
    private final boolean[] writer;
    private long checked;

    /** @param seed the run's seed: a pattern of another run does not pass for this one's */
    DiskShadow(int sectors, long seed) {
        this.sectors = sectors;
        this.patternBase = FuzzRandom.mix(seed) & 0xFFFFFFFF00000000L;
        this.tag = new int[sectors];
        this.alt = new int[sectors];
        this.readers = new short[sectors];
        this.writer = new boolean[sectors];
    }

    /** The {@link Pattern} seed of data written by request {@code tag}. */
    long patternSeed(int tag) {
        return patternBase | (tag & 0xFFFFFFFFL);
    }

    /** Whether {@code [sector, sector+n)} can be taken for reading or writing now. */
    boolean free(long sector, long n, boolean write) {
        for (long s = sector; s < sector + n; s++) {
            int i = (int) s;
            if (writer[i] || (write && readers[i] > 0)) {
                return false;
            }
        }
        return true;
    }

    void hold(long sector, long n, boolean write) {
        for (long s = sector; s < sector + n; s++) {
            if (write) {
                writer[(int) s] = true;
            } else {
                readers[(int) s]++;
            }
        }
    }

    void release(long sector, long n, boolean write) {
        for (long s = sector; s < sector + n; s++) {
            if (write) {
                writer[(int) s] = false;
            } else {
                readers[(int) s]--;
            }
        }
    }

    /** A write of request {@code t} succeeded. */
    void written(long sector, long n, int t) {
        for (long s = sector; s < sector + n; s++) {
            tag[(int) s] = t;
            alt[(int) s] = UNKNOWN;
        }
    }

    /** A write of request {@code t} failed where the backend may already have written some of it. */
    void mayHaveWritten(long sector, long n, int t) {
        for (long s = sector; s < sector + n; s++) {
            int i = (int) s;
            if (tag[i] == UNKNOWN) {
                continue;
            }
            if (alt[i] == UNKNOWN) {
                alt[i] = t;
            } else {
                // three possible contents: give up knowing
                tag[i] = UNKNOWN;
                alt[i] = UNKNOWN;
            }
        }
    }

    /**
     * Checks one sector read into {@code buf} at {@code off}.
     * @return null when it holds what the disk holds (or that is unknown), else what it holds instead
     */
    String check(ByteBuffer buf, int off, long sector) {
        int i = (int) sector;
        int t = tag[i];
        if (t == UNKNOWN) {
            return null;
        }
        checked++;
        if (Pattern.firstMismatch(buf, off, sector, 1, patternSeed(t)) < 0) {
            alt[i] = UNKNOWN;
            return null;
        }
        int a = alt[i];
        if (a != UNKNOWN && Pattern.firstMismatch(buf, off, sector, 1, patternSeed(a)) < 0) {
            tag[i] = a;
            alt[i] = UNKNOWN;
            return null;
        }
        return "sector " + sector + " should hold the data of request #" + t
                + (a == UNKNOWN ? "" : " or #" + a) + " but holds " + describe(buf, off);
    }

    /** Names the data in a sector: whose pattern, for which sector, or what else. */
    String describe(ByteBuffer buf, int off) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long word0 = b.getLong(off);
        long word1 = b.getLong(off + 8);
        if (word0 == FuzzRequest.POISON && word1 == FuzzRequest.POISON) {
            return "the guest's poison (no data was delivered there)";
        }
        if ((word1 & 0xFFFFFFFF00000000L) == patternBase) {
            String whose = "the data of request #" + (word1 & 0xFFFFFFFFL);
            return Pattern.firstMismatch(b, off, word0, 1, word1) < 0
                    ? whose + " for sector " + word0 : "a torn copy of " + whose;
        }
        return String.format(java.util.Locale.ROOT, "bytes of no fuzz request (first words %016x %016x)", word0, word1);
    }

    /** Sectors whose content was known and checked. */
    long checked() {
        return checked;
    }

    /** The tag a sector is known to hold ({@link #UNKNOWN} if not known). */
    int tag(long sector) {
        return tag[(int) sector];
    }
}
