package io.xendisk.backend;

/**
 * What the backend tells the frontend about the disk: {@code sectors} (always in
 * 512-byte units, as Linux and QEMU use them), {@code sector-size}, {@code info},
 * and whether it takes DISCARD requests.
 *
 * @param discardGranularity {@code discard-granularity} in bytes when {@code feature-discard}
 *                           is offered (the unit the engine frees: a filesystem block, a page,
 *                           a qcow2 cluster); 0 when it is not
 */
public record DiskInfo(long sectors, int sectorSize, boolean readOnly, boolean flush, int discardGranularity,
                       boolean cdrom) {
    /** VDISK_CDROM of blkif.h: a CD-ROM drive, always read-only here. */
    public static final int VDISK_CDROM = 0x1;
    /** VDISK_REMOVABLE: removable media, which a CD-ROM drive's is. */
    public static final int VDISK_REMOVABLE = 0x2;
    public static final int VDISK_READONLY = 0x4;

    public DiskInfo {
        if (sectors < 0) {
            throw new IllegalArgumentException("negative disk size: " + sectors + " sectors");
        }
        if (sectorSize < 512 || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size must be a power of two >= 512: " + sectorSize);
        }
        if (discardGranularity != 0 && (discardGranularity < 512 || Integer.bitCount(discardGranularity) != 1)) {
            throw new IllegalArgumentException("discard granularity must be 0 (no discard) or a power of two >= 512: "
                    + discardGranularity);
        }
    }

    /** A disk, not a CD-ROM. */
    public DiskInfo(long sectors, int sectorSize, boolean readOnly, boolean flush, int discardGranularity) {
        this(sectors, sectorSize, readOnly, flush, discardGranularity, false);
    }

    /** A disk that takes no DISCARD requests. */
    public DiskInfo(long sectors, int sectorSize, boolean readOnly, boolean flush) {
        this(sectors, sectorSize, readOnly, flush, 0);
    }

    public boolean discard() {
        return discardGranularity != 0;
    }

    public int infoBits() {
        return (readOnly ? VDISK_READONLY : 0) | (cdrom ? VDISK_CDROM | VDISK_REMOVABLE | VDISK_READONLY : 0);
    }
}
