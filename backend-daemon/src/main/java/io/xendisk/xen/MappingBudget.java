package io.xendisk.xen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * How many grant mappings the whole daemon may hold. Each gntdev mapping is a
 * memory area of the process, and the kernel caps those at
 * {@code vm.max_map_count} (65530 by default): past it every mmap of the JVM
 * fails, for every disk. Persistent grants are the bulk (up to a ring's
 * worth of pages per ring, each its own mapping), so they take from the
 * budget only while it lasts ({@link #tryTake}) and give back when the ring
 * purges them; a ring's own pages must be mapped and are always counted
 * ({@link #take}).
 *
 * <p>The rings that keep pages mapped register as holders; when the budget
 * runs short ({@link #scarce}) each keeps about its {@link #fairShare}. Thread-safe.
 */
public final class MappingBudget {
    /** What the JVM keeps for itself: heap, thread stacks, libraries, mapped images. */
    private static final int RESERVE_MIN = 8192;
    private static final Path MAX_MAP_COUNT = Path.of("/proc/sys/vm/max_map_count");
    private static final Path OWN_MAPS = Path.of("/proc/self/maps");

    private final int limit;
    private final String origin;
    private final AtomicInteger inUse = new AtomicInteger();
    private final AtomicInteger peak = new AtomicInteger();
    private final AtomicInteger holders = new AtomicInteger();
    private final AtomicLong refusals = new AtomicLong();

    public MappingBudget(int limit, String origin) {
        if (limit < 1) {
            throw new IllegalArgumentException("a grant mapping budget must be positive: " + limit);
        }
        this.limit = limit;
        this.origin = origin;
    }

    /** No practical limit: tests and tools that map a handful of pages. */
    public static MappingBudget unlimited() {
        return new MappingBudget(Integer.MAX_VALUE, "unlimited");
    }

    /**
     * The budget of this process: {@code configured} if given, else what
     * {@code vm.max_map_count} leaves after the areas mapped now and a reserve
     * for the JVM's growth (a quarter of the limit, at least {@value #RESERVE_MIN}).
     */
    public static MappingBudget forThisProcess(OptionalInt configured) {
        if (configured.isPresent()) {
            return new MappingBudget(configured.getAsInt(), "configured");
        }
        int max = readMaxMapCount();
        int used = countOwnMaps();
        int limit = Math.max(1024, max - used - Math.max(RESERVE_MIN, max / 4));
        return new MappingBudget(limit, "vm.max_map_count " + max + ", " + used + " areas mapped at start");
    }

    private static int readMaxMapCount() {
        try {
            // procfs reports a size of 0: read a line, not "the whole file" by its size
            try (java.io.BufferedReader r = Files.newBufferedReader(MAX_MAP_COUNT)) {
                String line = r.readLine();
                return Integer.parseInt(line == null ? "" : line.strip());
            }
        } catch (IOException | NumberFormatException e) {
            return 65530; // the kernel's default
        }
    }

    private static int countOwnMaps() {
        try (Stream<String> lines = Files.lines(OWN_MAPS)) {
            return (int) lines.count();
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Takes {@code n} mappings if the budget has them; counts a refusal otherwise. */
    public boolean tryTake(int n) {
        for (;;) {
            int now = inUse.get();
            if (now > limit - n) {
                refusals.incrementAndGet();
                return false;
            }
            if (inUse.compareAndSet(now, now + n)) {
                peak.accumulateAndGet(now + n, Math::max);
                return true;
            }
        }
    }

    /** Takes {@code n} mappings that cannot be done without (a ring's pages), over the limit if need be. */
    public void take(int n) {
        peak.accumulateAndGet(inUse.addAndGet(n), Math::max);
    }

    public void give(int n) {
        inUse.addAndGet(-n);
    }

    /** A ring that keeps pages mapped starts or ends: the budget is shared among the holders. */
    public void join() {
        holders.incrementAndGet();
    }

    public void leave() {
        holders.decrementAndGet();
    }

    /** What each holder may keep while the budget is short. */
    public int fairShare() {
        return limit / Math.max(1, holders.get());
    }

    /** Mappings are refused, or nearly: holders above their share give some back. */
    public boolean scarce() {
        return inUse.get() >= limit - Math.max(1, limit / 16);
    }

    public int limit() {
        return limit;
    }

    public int inUse() {
        return inUse.get();
    }

    /** The most ever held at once. */
    public int peak() {
        return peak.get();
    }

    /** Mappings refused for want of budget (served by grant copies instead). */
    public long refusals() {
        return refusals.get();
    }

    /** For {@code status}: use, budget and where the budget comes from. */
    public String describe() {
        return inUse() + " in use, peak " + peak() + ", budget " + (limit == Integer.MAX_VALUE ? "unlimited" : limit)
                + " (" + origin + "), " + refusals() + " refused (served by copies), " + holders.get()
                + " rings keeping pages";
    }
}
