package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a simulated domain's shared files live: {@code <simdir>/dom<domid>/}
 * holding {@code memory}, {@code grant-table}, {@code evtchn},
 * {@code evtchn-<port>} FIFOs and {@code pid}; a guest program adds
 * {@code name}, {@code control} and {@code alive.lock} ({@link DomainLock}).
 * The guest process and the backend find each other only through these
 * names and the simdir both were given (e.g. /dev/shm/xen-disk-java-sim).
 */
public final class SimPaths {
    /** Guest RAM, {@code pages * XenPage.SIZE} bytes; frame number = page index. */
    public static final String MEMORY = "memory";
    /** grant_entry_v1[entries]: {u16 flags, u16 domid, u32 frame}, little-endian. */
    public static final String GRANT_TABLE = "grant-table";
    /** The domain's event channel port table (see {@link PortTable}). */
    public static final String EVTCHN = "evtchn";
    /** Process id of the domain's owner, written last: the domain is complete once it exists. */
    public static final String PID = "pid";
    /** The guest's name, for tools that look a guest up by name ({@link GuestControl}). */
    public static final String NAME = "name";
    /** The path of the guest's control socket, when the guest chose one ({@link GuestControl}). */
    public static final String CONTROL = "control";
    /** Highest domid a simulated domain may have (DOMID_FIRST_RESERVED - 1). */
    public static final int MAX_DOMID = 0x7FEF;

    private SimPaths() {
    }

    /**
     * The domids of the guests' directories under {@code simdir} ({@code dom<N>}, N from 1 to
     * {@link #MAX_DOMID}; the backend's dom0 left out), ascending, whether or not they are complete
     * or their guest still runs.
     * @throws java.nio.file.NoSuchFileException when simdir does not exist
     */
    public static List<Integer> guestDomids(Path simdir) throws IOException {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(simdir, "dom*")) {
            for (Path dir : dirs) {
                String n = dir.getFileName().toString().substring(3);
                if (n.matches("[0-9]{1,5}")) {
                    int domid = Integer.parseInt(n);
                    if (domid >= 1 && domid <= MAX_DOMID) {
                        out.add(domid);
                    }
                }
            }
        }
        out.sort(null);
        return out;
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
