package io.xendisk.xen;

/**
 * Xen's page (XEN_PAGE_SIZE): what a grant reference, a frame number and a
 * shared ring page are counted in. It is 4 KiB on every architecture Xen
 * supports, whatever page size dom0's or the guest's kernel uses (Linux keeps
 * XEN_PAGE_SIZE at 4 KiB on 64 KiB-page arm64), so it is a constant of the
 * Xen layer rather than the host's page size. The one definition: grants,
 * the simulated platform's guest memory and blkif's rings and segments all
 * use it. (The storage engines align to the OS page instead, a different
 * quantity that only happens to be equal on x86.)
 */
public final class XenPage {
    /** Bytes in a page. */
    public static final int SIZE = 4096;
    /** log2 of {@link #SIZE}: frame number to byte offset. */
    public static final int SHIFT = 12;

    private XenPage() {
    }
}
