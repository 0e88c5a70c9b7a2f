package io.xendisk.backend;

/**
 * What the backend tells the frontend about the disk: {@code sectors} (always in
 * 512-byte units, as Linux and QEMU use them), {@code sector-size}, {@code info}.
 */
public record DiskInfo(long sectors, int sectorSize, boolean readOnly, boolean flush) {
    public static final int VDISK_READONLY = 0x4;

    public DiskInfo {
        if (sectors < 0) {
            throw new IllegalArgumentException("negative disk size: " + sectors + " sectors");
        }
        if (sectorSize < 512 || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size must be a power of two >= 512: " + sectorSize);
        }
    }

    public int infoBits() {
        return readOnly ? VDISK_READONLY : 0;
    }
}
