package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsPacket;

/**
 * The limits of the simulated xenstored, in one place. The values are the defaults
 * of C xenstored (tools/xenstore/xenstored_core.c quota_* variables, xs_wire.h).
 */
public final class SimLimits {
    /** XENSTORE_PAYLOAD_MAX: a header announcing more closes the connection. */
    public static final int MAX_PAYLOAD = XsPacket.MAX_PAYLOAD;
    /** XENSTORE_ABS_PATH_MAX: longer paths get EINVAL. */
    public static final int ABS_PATH_MAX = 3072;
    /** XENSTORE_REL_PATH_MAX: longest special watch path ("@..."). */
    public static final int REL_PATH_MAX = 2048;
    /**
     * quota-maxsize: an unprivileged domain may not store a node record (header,
     * permissions, value and child names) of this many bytes or more: ENOSPC.
     */
    public static final int NODE_SIZE_MAX = 2048;
    /** quota-nb-entry-per-domain: nodes an unprivileged domain may own; more: ENOSPC. */
    public static final int NODES_PER_DOMAIN = 1000;
    /** quota-nb-watch-per-domain: watches of an unprivileged domain; more: E2BIG. */
    public static final int WATCHES_PER_DOMAIN = 128;
    /** quota-max-transaction: open transactions per connection; more: ENOSPC. */
    public static final int TRANSACTIONS_PER_CONNECTION = 10;
    /**
     * Replies and events queued for a client that does not read them. xenstored has
     * a similar bound; beyond it the client is disconnected rather than letting it
     * grow the server's memory without limit.
     */
    public static final long MAX_PENDING_OUTPUT_BYTES = 1L << 20;
    /** DOMID_FIRST_RESERVED: domids at or above it are not real domains. */
    public static final int DOMID_FIRST_RESERVED = 0x7FF0;

    private SimLimits() {
    }
}
