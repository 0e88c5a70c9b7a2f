package io.xendisk.guest;

/**
 * What the backend published at Connected: {@code sectors} (512-byte units),
 * {@code sector-size}, the {@code info} bits and the flush/barrier/discard features.
 */
public record DiskProperties(long sectors, int sectorSize, int info, boolean flushCache, boolean barrier,
                             boolean discard) {
    /** VDISK_READONLY of blkif.h. */
    public static final int VDISK_READONLY = 0x4;

    /** VDISK_CDROM of blkif.h. */
    public static final int VDISK_CDROM = 0x1;

    public boolean readOnly() {
        return (info & VDISK_READONLY) != 0;
    }

    /** A CD-ROM drive (VDISK_CDROM). */
    public boolean cdrom() {
        return (info & VDISK_CDROM) != 0;
    }

    public long bytes() {
        return sectors * 512;
    }
}
