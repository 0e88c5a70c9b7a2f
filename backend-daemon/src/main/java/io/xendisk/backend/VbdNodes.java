package io.xendisk.backend;

import java.util.List;

import io.xendisk.blkif.BlkifNodes;
import io.xendisk.blkif.VbdPaths;
import io.xendisk.blkif.XenbusState;
import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XsPerm;

/**
 * The toolstack's part for VBDs we create ourselves (the seed's
 * {@code xen-disk connect}): both xenstore directories, laid out and
 * permissioned as libxl__device_generic_add does, under a backend kind of our
 * own so that no kernel blkback ever claims them.
 */
public final class VbdNodes {
    /** Our backend kind: backend/xen-disk-java/&lt;domid&gt;/&lt;devid&gt;. Linux blkfront follows any kind. */
    public static final String KIND = "xen-disk-java";

    private VbdNodes() {
    }

    public static String backendPath(int backendDomid, int domid, int devid) {
        return VbdPaths.backend(backendDomid, KIND, domid, devid);
    }

    public static String frontendPath(int domid, int devid) {
        return VbdPaths.frontend(domid, devid);
    }

    /**
     * Writes both directories in one transaction. Each directory is made and
     * permissioned first, so every key inherits: the frontend dir is the
     * guest's (we may read it), the backend dir is ours (the guest may read it).
     */
    public static void create(XenStore xs, int backendDomid, int domid, int devid, String vdev, boolean readOnly,
                              String params) {
        create(xs, backendDomid, domid, devid, vdev, readOnly, params, false);
    }

    /** The same for a CD-ROM drive when {@code cdrom} (device-type cdrom on both ends, as libxl writes it). */
    public static void create(XenStore xs, int backendDomid, int domid, int devid, String vdev, boolean readOnly,
                              String params, boolean cdrom) {
        String type = cdrom ? BlkifNodes.CDROM : BlkifNodes.DISK;
        String be = backendPath(backendDomid, domid, devid);
        String fe = frontendPath(domid, devid);
        xs.transaction(t -> {
            t.rm(fe);
            t.mkdir(fe);
            t.setPermissions(fe, List.of(new XsPerm(domid, XsPerm.Access.NONE), new XsPerm(backendDomid, XsPerm.Access.READ)));
            t.write(BlkifNodes.path(fe, BlkifNodes.BACKEND), be);
            t.write(BlkifNodes.path(fe, BlkifNodes.BACKEND_ID), Integer.toString(backendDomid));
            t.write(BlkifNodes.path(fe, BlkifNodes.VIRTUAL_DEVICE), Integer.toString(devid));
            t.write(BlkifNodes.path(fe, BlkifNodes.DEVICE_TYPE), type);
            t.write(BlkifNodes.path(fe, BlkifNodes.STATE), XenbusState.INITIALISING.wire());
            t.rm(be);
            t.mkdir(be);
            t.setPermissions(be, List.of(new XsPerm(backendDomid, XsPerm.Access.NONE), new XsPerm(domid, XsPerm.Access.READ)));
            t.write(BlkifNodes.path(be, BlkifNodes.FRONTEND), fe);
            t.write(BlkifNodes.path(be, BlkifNodes.FRONTEND_ID), Integer.toString(domid));
            t.write(BlkifNodes.path(be, BlkifNodes.ONLINE), BlkifNodes.ON);
            t.write(BlkifNodes.path(be, BlkifNodes.REMOVABLE), cdrom ? BlkifNodes.ON : BlkifNodes.OFF);
            t.write(BlkifNodes.path(be, BlkifNodes.BOOTABLE), BlkifNodes.ON);
            t.write(BlkifNodes.path(be, BlkifNodes.STATE), XenbusState.INITIALISING.wire());
            t.write(BlkifNodes.path(be, BlkifNodes.DEV), vdev);
            t.write(BlkifNodes.path(be, BlkifNodes.TYPE), KIND);
            t.write(BlkifNodes.path(be, BlkifNodes.MODE), BlkifNodes.mode(readOnly || cdrom));
            t.write(BlkifNodes.path(be, BlkifNodes.DEVICE_TYPE), type);
            t.write(BlkifNodes.path(be, BlkifNodes.PARAMS), params);
            return null;
        });
    }

    /** Asks for a hot-unplug as libxl does: online=0 and Closing, in one transaction. */
    public static void requestClose(XenStore xs, String backendPath) {
        xs.transaction(t -> {
            if (t.exists(BlkifNodes.path(backendPath, BlkifNodes.FRONTEND))) {
                t.write(BlkifNodes.path(backendPath, BlkifNodes.ONLINE), BlkifNodes.OFF);
                String s = t.tryRead(BlkifNodes.path(backendPath, BlkifNodes.STATE)).orElse("");
                if (!XenbusState.CLOSED.wire().equals(s)) {
                    t.write(BlkifNodes.path(backendPath, BlkifNodes.STATE), XenbusState.CLOSING.wire());
                }
            }
            return null;
        });
    }

    /** Removes both directories (a missing one is fine). */
    public static void remove(XenStore xs, String backendPath, String frontendPath) {
        xs.transaction(t -> {
            if (frontendPath != null) {
                t.rm(frontendPath);
            }
            t.rm(backendPath);
            // like the toolstack: no empty backend/<kind>/<domid> left behind
            String parent = backendPath.substring(0, backendPath.lastIndexOf('/'));
            if (t.tryDirectory(parent).isEmpty()) {
                t.rm(parent);
            }
            return null;
        });
    }
}
