package io.xendisk.xen.store;

/** A xenstore operation failed; names the path and the errno xenstored returned. */
public class XenStoreException extends RuntimeException {
    private final String path;
    private final XsErrno errno;

    public XenStoreException(String op, String path, XsErrno errno) {
        super("xenstore " + op + " " + path + ": " + errno + describe(errno));
        this.path = path;
        this.errno = errno;
    }

    public XenStoreException(String message, Throwable cause) {
        super(message, cause);
        this.path = null;
        this.errno = XsErrno.EIO;
    }

    public String path() {
        return path;
    }

    public XsErrno errno() {
        return errno;
    }

    private static String describe(XsErrno e) {
        switch (e) {
            case ENOENT: return " (no such node)";
            case EACCES: return " (permission denied)";
            case EAGAIN: return " (transaction conflict, retry)";
            case EINVAL: return " (invalid argument)";
            case EEXIST: return " (already exists)";
            case E2BIG: return " (value or path too long)";
            default: return "";
        }
    }
}
