package io.xendisk.backend;

import java.util.List;

import io.xendisk.blkif.VbdPaths;
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
        String be = backendPath(backendDomid, domid, devid);
        String fe = frontendPath(domid, devid);
        xs.transaction(t -> {
            t.rm(fe);
            t.mkdir(fe);
            t.setPermissions(fe, List.of(new XsPerm(domid, XsPerm.Access.NONE), new XsPerm(backendDomid, XsPerm.Access.READ)));
            t.write(fe + "/backend", be);
            t.write(fe + "/backend-id", Integer.toString(backendDomid));
            t.write(fe + "/virtual-device", Integer.toString(devid));
            t.write(fe + "/device-type", "disk");
            t.write(fe + "/state", XenbusState.INITIALISING.wire());
            t.rm(be);
            t.mkdir(be);
            t.setPermissions(be, List.of(new XsPerm(backendDomid, XsPerm.Access.NONE), new XsPerm(domid, XsPerm.Access.READ)));
            t.write(be + "/frontend", fe);
            t.write(be + "/frontend-id", Integer.toString(domid));
            t.write(be + "/online", "1");
            t.write(be + "/removable", "0");
            t.write(be + "/bootable", "1");
            t.write(be + "/state", XenbusState.INITIALISING.wire());
            t.write(be + "/dev", vdev);
            t.write(be + "/type", KIND);
            t.write(be + "/mode", readOnly ? "r" : "w");
            t.write(be + "/device-type", "disk");
            t.write(be + "/params", params);
            return null;
        });
    }

    /** Asks for a hot-unplug as libxl does: online=0 and Closing, in one transaction. */
    public static void requestClose(XenStore xs, String backendPath) {
        xs.transaction(t -> {
            if (t.exists(backendPath + "/frontend")) {
                t.write(backendPath + "/online", "0");
                String s = t.tryRead(backendPath + "/state").orElse("");
                if (!XenbusState.CLOSED.wire().equals(s)) {
                    t.write(backendPath + "/state", XenbusState.CLOSING.wire());
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
