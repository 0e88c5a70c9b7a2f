package io.xendisk.guest;

/**
 * A change of the frontend's xenbus state that the holder of the disk's only
 * ring asks for in the middle of I/O ({@link Blkfront#changeState}). Each ends
 * the ring: requests in flight get no response, and a fresh ring follows.
 */
enum FrontendStateChange {
    /** Closing, then Closed once the backend is Closing, then Initialising once it is Closed: a driver reload. */
    CLOSE_AND_RECONNECT("close-reconnect"),
    /** Initialising written over Connected, as a frontend that was reset (kexec) does. */
    INITIALISING_AGAIN("initialising-again"),
    /** InitWait written over Connected: not a frontend state in blkif, the backend takes it as Initialising. */
    INIT_WAIT_AGAIN("init-wait-again");

    final String label;

    FrontendStateChange(String label) {
        this.label = label;
    }
}
