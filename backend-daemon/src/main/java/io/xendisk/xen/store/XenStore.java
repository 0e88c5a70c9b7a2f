package io.xendisk.xen.store;

import java.util.function.Function;

/**
 * A connection to xenstored (the XenStore port). One implementation,
 * {@link XenStoreClient}, speaks the wire protocol to both real xenstored and
 * our simulated one.
 */
public interface XenStore extends XsOps, AutoCloseable {
    /** Receives watch events on the connection's event thread; must not block long. */
    @FunctionalInterface
    interface WatchListener {
        void onEvent(String path, String token);
    }

    /** A registered watch; close() unregisters it. */
    interface Watch extends AutoCloseable {
        String path();

        String token();

        @Override
        void close();
    }

    /**
     * Registers a watch. As on Xen the listener fires once immediately with the
     * watched path, then for every change at or below it (and spuriously at times).
     * Special paths: {@code @introduceDomain}, {@code @releaseDomain}.
     */
    Watch watch(String path, String token, WatchListener listener);

    /**
     * Runs the body in a transaction and commits; on EAGAIN (a conflicting commit)
     * the body is run again, up to a bounded number of attempts. An exception from
     * the body aborts the transaction.
     */
    <T> T transaction(Function<XsOps, T> body);

    /** "/local/domain/N". */
    String getDomainPath(int domid);

    /** Whether xenstored knows domain {@code domid} (IS_DOMAIN_INTRODUCED); false once it was released. */
    boolean isDomainIntroduced(int domid);

    /** Drops every watch this connection holds (RESET_WATCHES). */
    void resetWatches();

    @Override
    void close();
}
