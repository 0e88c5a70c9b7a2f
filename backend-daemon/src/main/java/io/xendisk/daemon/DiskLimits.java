package io.xendisk.daemon;

import io.xendisk.backend.IoLimits;
import io.xendisk.blkif.BlkifNodes;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A disk's I/O limits where the toolstack and a restarted daemon find them:
 * written before the target of an xl disk ({@code
 * target=[total_iops_sec=1000,read_bytes_sec=52428800]file:/images/a.img}:
 * xl passes the target on as it is, and takes no keys of its own for them),
 * and kept in the backend directory ({@value #NODE}) while the disk is
 * served, so that limits set by {@code connect} or changed by
 * {@code blkdeviotune} outlive a daemon restart.
 */
final class DiskLimits {
    /** What the daemon keeps the limits in, beside its other nodes in the backend directory. */
    static final String NODE = "xen-disk-java-iotune";

    private DiskLimits() {
    }

    /** A target split: the limits before it, and the target itself. */
    record Target(IoLimits limits, String target) {
    }

    /**
     * Splits {@code [settings]target}; a target without the brackets has no limits.
     *
     * @throws IllegalArgumentException naming the target and what is wrong with its limits
     */
    static Target split(String params) {
        String p = params.strip();
        if (!p.startsWith("[")) {
            return new Target(IoLimits.NONE, p);
        }
        int end = p.indexOf(']');
        if (end < 0) {
            throw new IllegalArgumentException("target '" + params + "' opens '[' for its I/O limits but never closes"
                    + " it (write [total_iops_sec=1000,read_bytes_sec=52428800]file:/path/to/image)");
        }
        try {
            return new Target(parse(p.substring(1, end)), p.substring(end + 1).strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("target '" + params + "': " + e.getMessage());
        }
    }

    /** {@code total_iops_sec=1000,read_bytes_sec=52428800}; empty is no limit. */
    static IoLimits parse(String settings) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : settings.split(",")) {
            if (kv.isBlank()) {
                continue;
            }
            int eq = kv.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("I/O limit '" + kv.strip() + "' has no value (write NAME=NUMBER)");
            }
            m.put(kv.substring(0, eq).strip(), kv.substring(eq + 1).strip());
        }
        return IoLimits.of(m);
    }

    /** The form {@link #parse} reads. */
    static String format(IoLimits limits) {
        StringBuilder sb = new StringBuilder();
        limits.asMap().forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ",").append(k).append('=').append(v));
        return sb.toString();
    }

    /** Keeps {@code limits} in the backend directory {@code be} for a daemon that restarts. */
    static void save(XenStore xs, String be, IoLimits limits) throws XenStoreException {
        if (limits.none()) {
            if (xs.exists(BlkifNodes.path(be, NODE))) {
                xs.rm(BlkifNodes.path(be, NODE));
            }
        } else {
            xs.write(BlkifNodes.path(be, NODE), format(limits));
        }
    }

    /** What a previous daemon kept in {@code be}, if anything. */
    static Optional<IoLimits> saved(XenStore xs, String be) {
        return xs.tryRead(BlkifNodes.path(be, NODE)).map(DiskLimits::parse);
    }
}
