package io.xendisk.storage.rbd;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import io.xendisk.os.LibC;
import io.xendisk.storage.StorageException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One open RBD image and the cluster connection it came through (each disk
 * has its own, so one disk's cluster going away touches no other). A
 * writable image is held with the exclusive lock, automatic hand-over off:
 * while this disk is open no other client writes the image.
 */
final class RbdImage implements AutoCloseable {
    /** Seconds to reach the monitors before a connect fails (Ceph waits 300 by default). */
    static final String DEFAULT_MOUNT_TIMEOUT = "10";

    private final RbdLocation location;
    private final Pointer cluster;
    private final Pointer ioctx;
    private final Pointer image;
    private final long size;
    private final boolean readOnly;
    private final boolean locked;
    private boolean closed;

    private RbdImage(RbdLocation location, Pointer cluster, Pointer ioctx, Pointer image, long size,
                     boolean readOnly, boolean locked) {
        this.location = location;
        this.cluster = cluster;
        this.ioctx = ioctx;
        this.image = image;
        this.size = size;
        this.readOnly = readOnly;
        this.locked = locked;
    }

    /**
     * Connects to the cluster and opens the image: read-only when asked or
     * when it is a snapshot, else writable and exclusively locked.
     *
     * @throws StorageException naming the image and what failed: the conf file,
     *                          the monitors, the pool, the image, or the client holding it
     */
    static RbdImage open(RbdLocation location, boolean readOnly) {
        Librbd.requireAio();
        Librbd.Rados rados = Librbd.rados();
        Librbd.Rbd rbd = Librbd.rbd();
        PointerByReference ref = new PointerByReference();
        check(location, "creating a cluster handle for client." + location.id(), rados.rados_create(ref, location.id()));
        Pointer cluster = ref.getValue();
        Pointer ioctx = null;
        Pointer image = null;
        try {
            int rc = rados.rados_conf_read_file(cluster, location.conf());
            if (rc < 0 && (location.conf() != null || rc != -2)) {
                // without conf= Ceph looks in $CEPH_CONF, /etc/ceph/ceph.conf, ~/.ceph/config and ./ceph.conf
                throw failed(location, "reading " + (location.conf() != null ? "the conf file " + location.conf()
                        : "ceph.conf") + " failed: " + LibC.describe(-rc));
            }
            rados.rados_conf_parse_env(cluster, null);
            if (!location.options().containsKey("client_mount_timeout")) {
                rados.rados_conf_set(cluster, "client_mount_timeout", DEFAULT_MOUNT_TIMEOUT);
            }
            if (!location.options().containsKey("rbd_cache")) {
                // a write is acknowledged once the OSDs have it: a daemon killed loses nothing it acknowledged
                // (librbd's writeback cache would hold it in this process until the guest's next flush)
                rados.rados_conf_set(cluster, "rbd_cache", "false");
            }
            for (Map.Entry<String, String> o : location.options().entrySet()) {
                rc = rados.rados_conf_set(cluster, o.getKey(), o.getValue());
                if (rc < 0) {
                    throw failed(location, "Ceph option " + o.getKey() + "=" + o.getValue() + " is refused: "
                            + LibC.describe(-rc));
                }
            }
            rc = rados.rados_connect(cluster);
            if (rc < 0) {
                throw failed(location, "connecting to the cluster's monitors as client." + location.id() + " failed: "
                        + LibC.describe(-rc) + (rc == -110 ? "; is the cluster up, and does its conf name its monitors?"
                        : rc == -2 ? "; no monitor address: give conf= or mon_host=" : ""));
            }
            rc = rados.rados_ioctx_create(cluster, location.pool(), ref);
            if (rc < 0) {
                throw failed(location, rc == -2 ? "the cluster has no pool '" + location.pool() + "'"
                        : "opening pool '" + location.pool() + "' failed: " + LibC.describe(-rc));
            }
            ioctx = ref.getValue();
            if (location.namespace() != null) {
                rados.rados_ioctx_set_namespace(ioctx, location.namespace());
            }
            boolean ro = readOnly || location.snap() != null;
            rc = ro ? rbd.rbd_open_read_only(ioctx, location.image(), ref, location.snap())
                    : rbd.rbd_open(ioctx, location.image(), ref, null);
            if (rc < 0) {
                throw failed(location, rc == -2 ? "no such image" + (location.snap() != null ? " or snapshot" : "")
                        + " (rbd ls " + location.pool() + " lists the pool's images; rbd create makes one)"
                        : "opening the image failed: " + LibC.describe(-rc));
            }
            image = ref.getValue();
            LongByReference value = new LongByReference();
            check(location, "reading the image's size", rbd.rbd_get_size(image, value));
            long size = value.getValue();
            boolean locked = false;
            if (!ro) {
                check(location, "reading the image's features", rbd.rbd_get_features(image, value));
                if ((value.getValue() & Librbd.FEATURE_EXCLUSIVE_LOCK) != 0) {
                    lock(rbd, image, location);
                    locked = true;
                }
            }
            return new RbdImage(location, cluster, ioctx, image, size, ro, locked);
        } catch (RuntimeException e) {
            if (image != null) {
                rbd.rbd_close(image);
            }
            if (ioctx != null) {
                rados.rados_ioctx_destroy(ioctx);
            }
            rados.rados_shutdown(cluster);
            throw e;
        }
    }

    /** Takes the exclusive lock with automatic hand-over off, or names who holds it. */
    private static void lock(Librbd.Rbd rbd, Pointer image, RbdLocation location) {
        int rc = rbd.rbd_lock_acquire(image, Librbd.LOCK_MODE_EXCLUSIVE);
        if (rc == 0) {
            return;
        }
        if (rc == -30 || rc == -16) { // EROFS, EBUSY: another client holds it and does not give it up
            List<String> owners = owners(rbd, image);
            throw failed(location, "the image is in use: its exclusive lock is held by "
                    + (owners.isEmpty() ? "another client" : "the client at " + String.join(", ", owners))
                    + " (another host's daemon serving it?); disconnect it there first (rbd status "
                    + location.imageSpec() + " lists its watchers)");
        }
        throw failed(location, "taking the image's exclusive lock failed: " + LibC.describe(-rc));
    }

    private static List<String> owners(Librbd.Rbd rbd, Pointer image) {
        Pointer[] owners = new Pointer[8];
        LongByReference n = new LongByReference(owners.length);
        List<String> names = new ArrayList<>();
        if (rbd.rbd_lock_get_owners(image, new IntByReference(), owners, n) == 0) {
            for (int i = 0; i < n.getValue(); i++) {
                names.add(owners[i].getString(0));
            }
            rbd.rbd_lock_get_owners_cleanup(owners, n.getValue());
        }
        return names;
    }

    private static void check(RbdLocation location, String doing, int rc) {
        if (rc < 0) {
            throw failed(location, doing + " failed: " + LibC.describe(-rc));
        }
    }

    private static StorageException failed(RbdLocation location, String why) {
        return new StorageException(null, "RBD image " + location + ": " + why);
    }

    RbdLocation location() {
        return location;
    }

    long size() {
        return size;
    }

    boolean readOnly() {
        return readOnly;
    }

    /** The librbd image handle, for the per-request calls. */
    long handle() {
        return Pointer.nativeValue(image);
    }

    /** Closes the image (librbd writes back its cache and lets the lock go) and the connection. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Librbd.Rbd rbd = Librbd.rbd();
        if (locked) {
            rbd.rbd_lock_release(image);
        }
        rbd.rbd_close(image);
        Librbd.rados().rados_ioctx_destroy(ioctx);
        Librbd.rados().rados_shutdown(cluster);
    }
}
