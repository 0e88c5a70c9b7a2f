package io.xendisk.backend;

/**
 * The data path behind a VBD's xenbus state machine: maps the frontend's ring
 * and binds its event channel on connect, and releases both on disconnect.
 */
public interface RingConnector {
    /**
     * Starts serving the ring. Throws with a message naming the problem when the
     * ring cannot be served (bad grant, event channel bind failure).
     */
    void connect(FrontendRing ring) throws Exception;

    /** Stops serving: drains in-flight requests, unmaps and unbinds. Idempotent. */
    void disconnect();

    /**
     * The device is offered afresh, so the frontend sets up new rings: what a
     * previous daemon left for resuming the old ones (response journals) is void.
     */
    default void freshRings() {
    }

    /**
     * Rings whose thread did not come back from the storage when they were
     * stopped: their pages stay mapped until it does, so the backend must not
     * say Closed yet (the frontend would free pages we may still write).
     */
    default int stuckRings() {
        return 0;
    }

    /** Runs {@code action} once no ring thread is left (at once when none is). */
    default void whenStopped(Runnable action) {
        action.run();
    }

    /** A connector for a VBD whose data path is not served (yet): it only records the ring. */
    RingConnector NONE = new RingConnector() {
        @Override
        public void connect(FrontendRing ring) {
        }

        @Override
        public void disconnect() {
        }
    };
}
