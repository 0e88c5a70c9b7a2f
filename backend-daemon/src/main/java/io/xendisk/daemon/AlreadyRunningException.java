package io.xendisk.daemon;

/** Another daemon holds the run directory's lock. */
public final class AlreadyRunningException extends Exception {
    private static final long serialVersionUID = 1L;
    private final long pid;

    public AlreadyRunningException(long pid, String message) {
        super(message);
        this.pid = pid;
    }

    /** The running daemon's pid, or -1 if its lock file did not say. */
    public long pid() {
        return pid;
    }
}
