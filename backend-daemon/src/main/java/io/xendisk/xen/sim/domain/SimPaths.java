package io.xendisk.xen.sim.domain;

import java.nio.file.Path;

/**
 * Where a simulated domain's shared files live: {@code <simdir>/dom<domid>/}
 * holding {@code memory}, {@code grant-table}, {@code evtchn},
 * {@code evtchn-<port>} FIFOs and {@code pid}. The guest process and the
 * backend find each other only through these names and the simdir both were
 * given (e.g. /dev/shm/xen-disk-java-sim).
 */
public final class SimPaths {
    /** Guest RAM, {@code pages * 4096} bytes; frame number = page index. */
    public static final String MEMORY = "memory";
    /** grant_entry_v1[entries]: {u16 flags, u16 domid, u32 frame}, little-endian. */
    public static final String GRANT_TABLE = "grant-table";
    /** The domain's event channel port table (see {@link PortTable}). */
    public static final String EVTCHN = "evtchn";
    /** Process id of the domain's owner, written last: the domain is complete once it exists. */
    public static final String PID = "pid";
    /** Highest domid a simulated domain may have (DOMID_FIRST_RESERVED - 1). */
    public static final int MAX_DOMID = 0x7FEF;

    private SimPaths() {
    }

    public static Path domain(Path simdir, int domid) {
        return simdir.resolve("dom" + domid);
    }

    public static Path memory(Path simdir, int domid) {
        return domain(simdir, domid).resolve(MEMORY);
    }

    public static Path grantTable(Path simdir, int domid) {
        return domain(simdir, domid).resolve(GRANT_TABLE);
    }

    public static Path evtchn(Path simdir, int domid) {
        return domain(simdir, domid).resolve(EVTCHN);
    }

    /** The wakeup FIFO of {@code port} in {@code domid}'s port table. */
    public static Path evtchnFifo(Path simdir, int domid, int port) {
        return domain(simdir, domid).resolve(EVTCHN + "-" + port);
    }

    public static Path pid(Path simdir, int domid) {
        return domain(simdir, domid).resolve(PID);
    }
}
