package io.xendisk.xen.store;

/**
 * The errno names xenstored sends in ERROR replies (xs_wire.h, xsd_errors[]),
 * with their Linux numbers so callers can compare against libc errno values.
 */
public enum XsErrno {
    EINVAL(22), EACCES(13), EEXIST(17), EISDIR(21), ENOENT(2), ENOMEM(12),
    ENOSPC(28), EIO(5), ENOTEMPTY(39), ENOSYS(38), EROFS(30), EBUSY(16),
    EAGAIN(11), EISCONN(106), E2BIG(7), EPERM(1);

    public final int number;

    XsErrno(int number) {
        this.number = number;
    }

    /** Parses an ERROR payload ("ENOENT\0"); unknown names map to EIO as libxenstore does. */
    public static XsErrno parse(String name) {
        String n = name.endsWith("\0") ? name.substring(0, name.length() - 1) : name;
        for (XsErrno e : values()) {
            if (e.name().equals(n)) {
                return e;
            }
        }
        return EIO;
    }
}
