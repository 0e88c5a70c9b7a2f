package io.xendisk.xen.real;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import io.xendisk.xen.KernelBackends;

/**
 * Takes devices from Linux's xen-blkback through sysfs: the xenbus backend
 * bus lists each {@code backend/vbd/D/N} node as device {@code vbd-D-N},
 * bound to driver {@code vbd} when xen-blkback claimed it. Writing the
 * device's name to the driver's {@code unbind} detaches it: blkback
 * disconnects its ring and event channel, and (as it allows re-binding)
 * leaves the xenstore state as it is. The bus does not probe an existing
 * device again, so it stays ours until the toolstack removes it; blkback
 * goes on serving every other disk.
 */
public final class SysfsBackends implements KernelBackends {
    /** Where the xenbus backend bus lives. */
    public static final Path BUS = Path.of("/sys/bus/xen-backend");
    private static final long POLL_MILLIS = 20;
    /** How long a registered device may take to be bound by blkback. */
    private static final long BIND_MILLIS = 300;

    private final Path bus;

    public SysfsBackends() {
        this(BUS);
    }

    /** A bus elsewhere (tests). */
    public SysfsBackends(Path bus) {
        this.bus = bus;
    }

    @Override
    public String release(int domid, int devid, long waitMillis) {
        Path driver = bus.resolve("drivers/vbd");
        if (!Files.isDirectory(driver)) {
            return null; // xen-blkback is not loaded: nothing claims backend/vbd devices
        }
        String name = "vbd-" + domid + "-" + devid;
        Path device = bus.resolve("devices").resolve(name);
        // the kernel registers the device when it sees the toolstack's node, and blkback binds
        // it within that registration: wait for the device, then briefly for the driver link
        waitFor(device, waitMillis);
        if (Files.exists(device)) {
            waitFor(device.resolve("driver"), BIND_MILLIS);
        }
        if (!Files.exists(device.resolve("driver"))) {
            return null; // not bound: blkback never had it, or it was released before
        }
        try {
            Files.writeString(driver.resolve("unbind"), name, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalStateException("kernel xen-blkback serves " + name + " and it cannot be unbound ("
                    + driver.resolve("unbind") + ": " + e.getMessage() + "); run the daemon as root, or keep"
                    + " xen-blkback from loading (blacklist xen-blkback)", e);
        }
        return "took " + name + " over from the kernel's xen-blkback (unbound from " + driver + ")";
    }

    private static void waitFor(Path p, long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (!Files.exists(p) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
