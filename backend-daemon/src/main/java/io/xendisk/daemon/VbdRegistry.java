package io.xendisk.daemon;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Supplier;

/**
 * The VBDs this daemon serves, as {@code list} and {@code status} report them.
 *
 * <p>A VBD registers a live source of its summary rather than a fixed value,
 * so counters and state are read when a user asks, with no bookkeeping on the
 * I/O path. The source is called on a control-socket thread: it must be cheap
 * and thread-safe (read volatile fields / atomics). Closing the returned
 * {@link Registration} removes the VBD. Thread-safe.
 */
public final class VbdRegistry {
    /** Removes its VBD from the registry on close; closing twice is harmless. */
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    private final Map<Long, Supplier<VbdSummary>> vbds = new ConcurrentSkipListMap<>();

    /**
     * Registers VBD {@code domid/devid}.
     *
     * @throws IllegalStateException if that VBD is already registered
     */
    public Registration register(int domid, int devid, Supplier<VbdSummary> source) {
        long key = key(domid, devid);
        if (vbds.putIfAbsent(key, source) != null) {
            throw new IllegalStateException("vbd " + domid + "/" + devid + " is already registered");
        }
        return () -> vbds.remove(key, source);
    }

    /** Current summaries ordered by domid then devid. A source that throws is shown in state "error". */
    public List<VbdSummary> list() {
        List<VbdSummary> out = new ArrayList<>();
        for (Map.Entry<Long, Supplier<VbdSummary>> e : vbds.entrySet()) {
            out.add(summarise(e.getKey(), e.getValue()));
        }
        out.sort(Comparator.comparingInt(VbdSummary::domid).thenComparingInt(VbdSummary::devid));
        return out;
    }

    /** Number of registered VBDs. */
    public int size() {
        return vbds.size();
    }

    private static VbdSummary summarise(long key, Supplier<VbdSummary> source) {
        try {
            return source.get();
        } catch (RuntimeException e) {
            // one broken VBD must not hide the others from the operator
            return new VbdSummary((int) (key >>> 32), (int) key, "?", "error: " + e, "?", Map.of());
        }
    }

    private static long key(int domid, int devid) {
        return ((long) domid << 32) | (devid & 0xffff_ffffL);
    }
}
