package io.xendisk.guest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The seeded verify pattern: every 512-byte sector is 64 little-endian words,
 * word 0 its own sector number, word 1 the seed, the rest a SplitMix64 stream
 * of both. Each sector stands alone, so a mismatch names its sector and
 * misplaced data (a read of the wrong sector) is caught too.
 */
public final class Pattern {
    /** Bytes in a pattern unit. */
    public static final int SECTOR = 512;
    private static final int WORDS = SECTOR / 8;

    private Pattern() {
    }

    /** Word {@code i} (0..63) of sector {@code sector} for {@code seed}. */
    public static long word(long seed, long sector, int i) {
        if (i == 0) {
            return sector;
        }
        if (i == 1) {
            return seed;
        }
        long z = seed * 0x9E3779B97F4A7C15L + sector * 0xBF58476D1CE4E5B9L + i * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Writes {@code sectors} sectors of the pattern from disk sector {@code sector} at {@code buf[offset]}. */
    public static void fill(ByteBuffer buf, int offset, long sector, int sectors, long seed) {
        ByteBuffer b = buf.order() == ByteOrder.LITTLE_ENDIAN ? buf : buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int s = 0; s < sectors; s++) {
            int base = offset + s * SECTOR;
            for (int i = 0; i < WORDS; i++) {
                b.putLong(base + i * 8, word(seed, sector + s, i));
            }
        }
    }

    /**
     * Checks {@code sectors} sectors at {@code buf[offset]} against the pattern.
     * @return the index (0-based, relative) of the first mismatching sector, or -1
     */
    public static int firstMismatch(ByteBuffer buf, int offset, long sector, int sectors, long seed) {
        ByteBuffer b = buf.order() == ByteOrder.LITTLE_ENDIAN ? buf : buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int s = 0; s < sectors; s++) {
            int base = offset + s * SECTOR;
            for (int i = 0; i < WORDS; i++) {
                if (b.getLong(base + i * 8) != word(seed, sector + s, i)) {
                    return s;
                }
            }
        }
        return -1;
    }
}
