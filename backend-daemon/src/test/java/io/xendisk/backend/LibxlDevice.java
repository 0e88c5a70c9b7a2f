package io.xendisk.backend;

import java.util.List;

import io.xendisk.xen.store.XenStore;
import io.xendisk.xen.store.XsPerm;

/** The nodes of a new disk as libxl 4.17 lays them out (libxl__device_generic_add), for handshake tests. */
final class LibxlDevice {
    private LibxlDevice() {
    }

    /**
     * Makes each directory, sets its permissions, then writes the keys, which
     * inherit them, in one transaction of dom0's.
     */
    static void create(XenStore dom0, String fe, String be, int domid, int devid) {
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
            t.write(be + "/mode", "w");
            return null;
        });
    }
}
