package io.xendisk.blkif;

/**
 * Where a virtual block device lives in xenstore, as libxl lays it out: the
 * backend's directory {@code /local/domain/<backend>/backend/<kind>/<domid>/<devid>}
 * and the frontend's {@code /local/domain/<domid>/device/vbd/<devid>}, the
 * device id being the one {@link Vdev} computes. One layout for the daemon's
 * backends, the toolstack's devices it takes on and the simulated frontend.
 */
public final class VbdPaths {
    /** The toolstack's backend kind for disks, the one Linux's xen-blkback serves. */
    public static final String KIND = "vbd";

    private VbdPaths() {
    }

    /** A domain's home, {@code /local/domain/<domid>}. */
    public static String domain(int domid) {
        return "/local/domain/" + domid;
    }

    /** The backend directories of one kind in domain {@code backendDomid}: {@code .../backend/<kind>}. */
    public static String backends(int backendDomid, String kind) {
        return domain(backendDomid) + "/backend/" + kind;
    }

    /** The backend directory of device {@code devid} of domain {@code domid}. */
    public static String backend(int backendDomid, String kind, int domid, int devid) {
        return backends(backendDomid, kind) + "/" + domid + "/" + devid;
    }

    /** A domain's disk frontends, {@code <home>/device/vbd}, from its home ({@link #domain}). */
    public static String frontends(String home) {
        return home + "/device/vbd";
    }

    /** The frontend directory of a domain's disk {@code devid}, from its home. */
    public static String frontend(String home, int devid) {
        return frontends(home) + "/" + devid;
    }

    /** The frontend directory of disk {@code devid} of domain {@code domid}. */
    public static String frontend(int domid, int devid) {
        return frontend(domain(domid), devid);
    }

    /** Where a frontend reports a fatal error (xenbus_dev_fatal): {@code <home>/error/device/vbd/<devid>/error}. */
    public static String frontendError(String home, int devid) {
        return home + "/error/device/vbd/" + devid + "/error";
    }

    /** Whether a directory name below {@code backend/<kind>} is a domain id. */
    public static boolean isDomid(String name) {
        return name.matches("\\d{1,5}");
    }

    /** Whether a directory name below {@code backend/<kind>/<domid>} or {@code device/vbd} is a device id. */
    public static boolean isDevid(String name) {
        return name.matches("\\d{1,9}");
    }
}
