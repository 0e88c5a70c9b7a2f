package io.xendisk.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import io.xendisk.backend.BlkifConnector;
import io.xendisk.backend.BlkifFeatures;
import io.xendisk.backend.DiskInfo;
import io.xendisk.backend.VbdBackend;
import io.xendisk.backend.VbdStats;
import io.xendisk.blkif.Request;
import io.xendisk.storage.IoEngine;
import io.xendisk.xen.sim.SimXenstored;
import io.xendisk.xen.sim.domain.SimEventChannels;
import io.xendisk.xen.sim.domain.SimGrantTable;
import io.xendisk.xen.store.XenStoreClient;
import io.xendisk.xen.store.XsPerm;

/**
 * The dom0 side for guest tests, in the test's JVM: our xenstored, the
 * backend's grant table and event channels over a simdir, and disks added
 * the way libxl lays them out, each served by a real VbdBackend + BlkifConnector.
 */
final class SimBackend implements AutoCloseable {
    final Path dir;
    final Path simdir;
    final SimXenstored xenstored;
    final XenStoreClient dom0;
    final SimGrantTable grants;
    final SimEventChannels channels;
    private final List<Disk> disks = new CopyOnWriteArrayList<>();

    SimBackend() throws IOException {
        this(Path.of("/tmp"));
    }

    /** Everything under a fresh directory in {@code base} (e.g. /dev/shm for benchmarks). */
    SimBackend(Path base) throws IOException {
        dir = Files.createTempDirectory(base, "xdjg");
        simdir = dir.resolve("sim");
        xenstored = SimXenstored.start(dir.resolve("xs/socket"));
        dom0 = XenStoreClient.connect(xenstored.socketPath());
        grants = new SimGrantTable(simdir);
        channels = new SimEventChannels(simdir);
    }

    Path socket() {
        return xenstored.socketPath();
    }

    /** One served disk. */
    static final class Disk {
        final String fe;
        final String be;
        final VbdBackend vbd;
        final BlkifConnector connector;
        final VbdStats stats = new VbdStats();
        final List<String> ringFailures = new CopyOnWriteArrayList<>();
        final List<String> teardowns = new CopyOnWriteArrayList<>();
        final IoEngine storage;

        Disk(SimBackend p, int domid, int devid, IoEngine storage, boolean readOnly, BlkifFeatures features) {
            this.storage = storage;
            fe = "/local/domain/" + domid + "/device/vbd/" + devid;
            be = "/local/domain/0/backend/vbd/" + domid + "/" + devid;
            String name = "vbd " + domid + "/" + devid;
            connector = new BlkifConnector(name, p.grants, p.channels, storage,
                    new Request.Limits(storage.sizeSectors(), readOnly, false, features.maxIndirectSegments()), stats,
                    ringFailures::add);
            p.layout(domid, devid, readOnly);
            vbd = new VbdBackend(p.dom0, be, domid, devid, new DiskInfo(storage.sizeSectors(), 512, readOnly, true),
                    connector, new VbdBackend.Listener() {
                        @Override
                        public void onTeardown(VbdBackend v, String reason) {
                            teardowns.add(reason);
                        }
                    }, features);
            vbd.start();
        }

        /** libxl__initiate_device_generic_remove: online=0 and Closing in one transaction. */
        void toolstackRemoves(XenStoreClient dom0) {
            dom0.transaction(t -> {
                t.write(be + "/online", "0");
                t.write(be + "/state", "5");
                return null;
            });
        }
    }

    /** What libxl__device_generic_add writes: each directory made and its permissions set, then the keys. */
    void layout(int domid, int devid, boolean readOnly) {
        String fe = "/local/domain/" + domid + "/device/vbd/" + devid;
        String be = "/local/domain/0/backend/vbd/" + domid + "/" + devid;
        dom0.transaction(t -> {
            t.mkdir(fe);
            t.setPermissions(fe, List.of(new XsPerm(domid, XsPerm.Access.NONE), new XsPerm(0, XsPerm.Access.READ)));
            t.write(fe + "/backend", be);
            t.write(fe + "/backend-id", "0");
            t.write(fe + "/virtual-device", Integer.toString(devid));
            t.write(fe + "/device-type", "disk");
            t.write(fe + "/state", "1");
            t.mkdir(be);
            t.setPermissions(be, List.of(new XsPerm(0, XsPerm.Access.NONE), new XsPerm(domid, XsPerm.Access.READ)));
            t.write(be + "/frontend", fe);
            t.write(be + "/frontend-id", Integer.toString(domid));
            t.write(be + "/online", "1");
            t.write(be + "/state", "1");
            t.write(be + "/mode", readOnly ? "r" : "w");
            return null;
        });
    }

    Disk addDisk(int domid, int devid, IoEngine storage, boolean readOnly) {
        return addDisk(domid, devid, storage, readOnly, BlkifFeatures.BASIC);
    }

    Disk addDisk(int domid, int devid, IoEngine storage, boolean readOnly, BlkifFeatures features) {
        Disk d = new Disk(this, domid, devid, storage, readOnly, features);
        disks.add(d);
        return d;
    }

    String read(String path) {
        return dom0.tryRead(path).orElse(null);
    }

    static void await(BooleanSupplier cond, String what) {
        long end = System.nanoTime() + 20_000_000_000L;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("gave up waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Override
    public void close() throws IOException {
        for (Disk d : disks) {
            d.vbd.close();
            d.connector.disconnect();
            d.storage.close();
        }
        grants.close();
        dom0.close();
        xenstored.close();
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
