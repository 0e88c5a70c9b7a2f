package io.xendisk.xen.sim.domain;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How the simulated platform starts a guest program (the sim-guest module's
 * {@value #MAIN_CLASS}) and knows it is up: its main class, its command line
 * and the line it prints once its domain exists. The simulated guest is a
 * client of this platform, built apart from the daemon, which starts it by
 * class name with only this to go on, as a toolstack boots a kernel it
 * knows only by its boot protocol.
 */
public final class GuestProgram {
    /** The guest's main class, resolved at run time from the class path (lib/ in the distribution). */
    public static final String MAIN_CLASS = "io.xendisk.guest.GuestMain";

    public static final String NAME = "--name";
    /** xenstored's main socket; the guest derives its own domain's socket from it. */
    public static final String XENSTORE = "--xenstore";
    public static final String SIMDIR = "--simdir";
    public static final String MEMORY_MIB = "--memory-mib";
    /** x86_64 or x86_32: the request layout its frontends publish. */
    public static final String ABI = "--abi";
    /** Where to put the control socket instead of {@code <simdir>/dom<N>/}{@value GuestControl#SOCKET}. */
    public static final String CONTROL = "--control";
    public static final String MAX_INDIRECT_SEGMENTS = "--max-indirect-segments";
    public static final String QUEUES = "--queues";
    /** The largest ring its frontends set up, 2^order pages (if the backend offers it). */
    public static final String RING_PAGE_ORDER = "--ring-page-order";
    /** As Linux blkfront's xen_blkfront.max_ring_page_order. */
    public static final int MAX_RING_PAGE_ORDER = 4;

    public static final int DEFAULT_MEMORY_MIB = 64;
    /** Segments per INDIRECT request a frontend uses at most, as Linux blkfront's max_indirect_segments. */
    public static final int DEFAULT_MAX_INDIRECT_SEGMENTS = 32;
    /** Rings per disk a guest may ask for (Linux blkfront's own limit is its max_queues, 4 by default). */
    public static final int MAX_QUEUES = 16;

    private static final Pattern READY = Pattern.compile("guest (\\S+) domid (\\d+) ready");

    private GuestProgram() {
    }

    /** A guest that is up: its name and domain. */
    public record Ready(String name, int domid) {
    }

    /** The arguments after the main class for a guest with these settings. */
    public static List<String> args(String name, Path xenstoreSocket, Path simdir, int memoryMib, String abi,
                                    int maxIndirectSegments, int queues) {
        return args(name, xenstoreSocket, simdir, memoryMib, abi, maxIndirectSegments, queues, 0);
    }

    /** The same, with rings of up to 2^{@code ringPageOrder} pages. */
    public static List<String> args(String name, Path xenstoreSocket, Path simdir, int memoryMib, String abi,
                                    int maxIndirectSegments, int queues, int ringPageOrder) {
        return new ArrayList<>(List.of(NAME, name, XENSTORE, xenstoreSocket.toString(), SIMDIR, simdir.toString(),
                MEMORY_MIB, Integer.toString(memoryMib), ABI, abi,
                MAX_INDIRECT_SEGMENTS, Integer.toString(maxIndirectSegments), QUEUES, Integer.toString(queues),
                RING_PAGE_ORDER, Integer.toString(ringPageOrder)));
    }

    /** What the guest prints on stdout once its domain is introduced and its control socket listens. */
    public static String readyLine(String name, int domid) {
        return "guest " + name + " domid " + domid + " ready";
    }

    /** The first ready line in a guest's output, if any. */
    public static Optional<Ready> findReady(CharSequence output) {
        Matcher m = READY.matcher(output);
        return m.find() ? Optional.of(new Ready(m.group(1), Integer.parseInt(m.group(2))))
                : Optional.empty();
    }
}
