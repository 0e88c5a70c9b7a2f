package io.xendisk.daemon;

import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XenStoreException;

/**
 * Finds the toolstack's disks that are ours: libxl writes every disk of a
 * domain under {@code backend/vbd}, with the hotplug script's path in
 * {@code script}; those whose script is {@code xen-disk-java} (xl's
 * {@code script=xen-disk-java}) are handed to {@link VbdService#adopt}, once
 * each. The first watch event scans what is already there, which is how a
 * restarted daemon takes its disks back.
 *
 * <p>Watch events only name a device; the checks run on a thread of their
 * own, since taking a device from the kernel may wait a moment.
 */
final class XlDevices implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(XlDevices.class);
    /** The name of our hotplug script, as installed in /etc/xen/scripts. */
    static final String SCRIPT = "xen-disk-java";

    private final XenStore xs;
    private final VbdService service;
    private final String base;
    private final Set<String> checked = ConcurrentHashMap.newKeySet();
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "xl-devices");
        t.setDaemon(true);
        return t;
    });
    private final XenStore.Watch watch;

    XlDevices(XenStore xs, VbdService service, int backendDomid) {
        this.xs = xs;
        this.service = service;
        this.base = VbdPaths.backends(backendDomid, VbdPaths.KIND);
        this.watch = xs.watch(base, "xdj:xl-devices", (path, token) -> changed(path));
    }

    /** Whether a {@code script} node names our hotplug script (libxl writes its absolute path). */
    static boolean isOurs(String script) {
        String s = script.trim();
        return s.equals(SCRIPT) || s.endsWith("/" + SCRIPT);
    }

    private void changed(String path) {
        if (path.equals(base)) {
            worker.execute(this::scan);
            return;
        }
        if (!path.startsWith(base + "/")) {
            return;
        }
        String[] parts = path.substring(base.length() + 1).split("/");
        if (parts.length >= 2) {
            worker.execute(() -> check(parts[0], parts[1]));
        }
    }

    private void scan() {
        for (String d : xs.tryDirectory(base)) {
            for (String n : xs.tryDirectory(base + "/" + d)) {
                check(d, n);
            }
        }
    }

    private void check(String d, String n) {
        if (!VbdPaths.isDomid(d) || !VbdPaths.isDevid(n)) {
            return;
        }
        String key = d + "/" + n;
        String dir = base + "/" + d + "/" + n;
        try {
            if (!xs.exists(BlkifNodes.path(dir, BlkifNodes.FRONTEND))) {
                checked.remove(key); // removed (or not written yet): look again when it comes back
                return;
            }
            if (!checked.add(key)) {
                return;
            }
            Optional<String> script = xs.tryRead(BlkifNodes.path(dir, BlkifNodes.SCRIPT));
            if (script.isPresent() && isOurs(script.get())) {
                service.adopt(Integer.parseInt(d), Integer.parseInt(n));
            }
        } catch (RuntimeException e) {
            // one device's trouble (xenstore errors included) must not stop the others
            LOG.warn("vbd {}: {}", key, e.toString());
        }
    }

    @Override
    public void close() {
        try {
            watch.close();
        } catch (XenStoreException e) {
            LOG.debug("unwatch {}: {}", base, e.getMessage());
        }
        worker.shutdownNow();
    }
}
