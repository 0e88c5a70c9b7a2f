package io.xendisk.storage;

/**
 * Argument checks shared by the engines, plug-in engines too: ranges in sectors,
 * without overflow.
 */
public final class Ranges {
    private Ranges() {
    }

    /**
     * Checks that {@code bytes} bytes at {@code sector} lie inside a disk of
     * {@code sizeBytes} and are whole sectors; returns the byte offset.
     */
    public static long check(long sizeBytes, long sector, long bytes) {
        if ((bytes & (Storage.SECTOR_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("length " + bytes + " is not a multiple of "
                    + Storage.SECTOR_SIZE + " bytes");
        }
        long sectors = sizeBytes >>> Storage.SECTOR_SHIFT;
        long n = bytes >>> Storage.SECTOR_SHIFT;
        // sector + n <= sectors, written so that it cannot overflow
        if (sector < 0 || sector > sectors || n > sectors - sector) {
            throw new IllegalArgumentException("sectors [" + sector + ", +" + n
                    + ") outside the disk of " + sectors + " sectors");
        }
        return sector << Storage.SECTOR_SHIFT;
    }

    /** Same as {@link #check} for a discard given in sectors. */
    public static long checkSectors(long sizeBytes, long sector, long nrSectors) {
        if (nrSectors < 0 || nrSectors > (Long.MAX_VALUE >>> Storage.SECTOR_SHIFT)) {
            throw new IllegalArgumentException("sector count " + nrSectors + " out of range");
        }
        return check(sizeBytes, sector, nrSectors << Storage.SECTOR_SHIFT);
    }
}
