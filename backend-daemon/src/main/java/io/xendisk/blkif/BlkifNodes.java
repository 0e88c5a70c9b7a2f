package io.xendisk.blkif;

/**
 * The xenstore half of blkif: the names of a virtual disk's nodes and the
 * spelling of their values (blkif.h "Feature and Parameter Negotiation",
 * xenbus device layout as libxl writes it, PROTOCOL.md §2). Both ends use
 * this one table, the backend's handshake and the simulated frontend alike,
 * so a misspelt node cannot make them agree with each other and disagree
 * with Linux. Names only: reading, writing and validating stay with each end.
 */
public final class BlkifNodes {
    // (where the directories are: VbdPaths)

    // --- nodes of both directories

    /** The device's xenbus state, a {@link XenbusState#wire()} value. */
    public static final String STATE = "state";
    /** {@value #DISK}: a disk, not a cdrom. */
    public static final String DEVICE_TYPE = "device-type";

    // --- the frontend directory, as the toolstack writes it

    public static final String BACKEND = "backend";
    public static final String BACKEND_ID = "backend-id";
    public static final String VIRTUAL_DEVICE = "virtual-device";

    // --- the backend directory, as the toolstack writes it

    public static final String FRONTEND = "frontend";
    public static final String FRONTEND_ID = "frontend-id";
    /** "0" asks the backend to close (libxl's detach), anything else or none: stay. */
    public static final String ONLINE = "online";
    public static final String REMOVABLE = "removable";
    public static final String BOOTABLE = "bootable";
    /** The guest's name of the disk: xvdb, ... */
    public static final String DEV = "dev";
    /** The backend kind, as libxl writes it. */
    public static final String TYPE = "type";
    /** {@value #MODE_READ_ONLY} or {@value #MODE_READ_WRITE}. */
    public static final String MODE = "mode";
    /** The disk's target, {@code [engine:]path} for us. */
    public static final String PARAMS = "params";
    /** The hotplug script libxl runs for the disk (its absolute path). */
    public static final String SCRIPT = "script";
    /** What the hotplug script writes once it ran: {@value #HOTPLUG_CONNECTED} or {@value #HOTPLUG_FAILED}. */
    public static final String HOTPLUG_STATUS = "hotplug-status";
    /** Why a hotplug script failed, which xl prints. */
    public static final String HOTPLUG_ERROR = "hotplug-error";

    // --- the backend's offer, read by the frontend before it sets up its rings

    public static final String FEATURE_FLUSH_CACHE = "feature-flush-cache";
    public static final String FEATURE_BARRIER = "feature-barrier";
    public static final String FEATURE_PERSISTENT = "feature-persistent";
    public static final String FEATURE_MAX_INDIRECT_SEGMENTS = "feature-max-indirect-segments";
    public static final String MULTI_QUEUE_MAX_QUEUES = "multi-queue-max-queues";
    public static final String MAX_RING_PAGE_ORDER = "max-ring-page-order";
    /** The pre-order spelling of a multi-page ring offer, still written by some backends. */
    public static final String MAX_RING_PAGES = "max-ring-pages";
    /** Written by the toolstack: 0 when the disk spec says no-discard; absent means 1. */
    public static final String DISCARD_ENABLE = "discard-enable";
    public static final String FEATURE_DISCARD = "feature-discard";
    public static final String DISCARD_GRANULARITY = "discard-granularity";
    public static final String DISCARD_ALIGNMENT = "discard-alignment";
    public static final String DISCARD_SECURE = "discard-secure";

    // --- the disk, written by the backend before it goes Connected

    /** Size in 512-byte sectors, whatever the sector size. */
    public static final String SECTORS = "sectors";
    /** VDISK_* bits (read-only, removable, cdrom). */
    public static final String INFO = "info";
    public static final String SECTOR_SIZE = "sector-size";
    public static final String PHYSICAL_SECTOR_SIZE = "physical-sector-size";

    // --- the frontend's rings, written before it goes Initialised

    /** A one-page ring's grant reference; a ring of 2^order pages uses {@link #ringRef(int)}. */
    public static final String RING_REF = "ring-ref";
    public static final String EVENT_CHANNEL = "event-channel";
    /** The request layout, an {@link Abi#protocol()}; none means the backend's native one. */
    public static final String PROTOCOL = "protocol";
    public static final String RING_PAGE_ORDER = "ring-page-order";
    public static final String MULTI_QUEUE_NUM_QUEUES = "multi-queue-num-queues";

    // --- values

    public static final String DISK = "disk";
    /** The other device-type: a read-only ISO image, VDISK_CDROM to the frontend (xl devtype=cdrom). */
    public static final String CDROM = "cdrom";
    public static final String MODE_READ_ONLY = "r";
    public static final String MODE_READ_WRITE = "w";
    public static final String HOTPLUG_CONNECTED = "connected";
    public static final String HOTPLUG_FAILED = "error";
    /** A feature-* flag that is on; anything else (or no node) is off. */
    public static final String ON = "1";
    public static final String OFF = "0";

    private BlkifNodes() {
    }

    /** {@code dir/node}. */
    public static String path(String dir, String node) {
        return dir + "/" + node;
    }

    /** The grant reference of page {@code i} of a multi-page ring: ring-ref0, ring-ref1, ... */
    public static String ringRef(int i) {
        return RING_REF + i;
    }

    /** The subdirectory of queue {@code q} when there are several: queue-0, queue-1, ... */
    public static String queue(int q) {
        return "queue-" + q;
    }

    /**
     * Where queue {@code q} of {@code queues} keeps its ring-ref and
     * event-channel: the device directory itself for a single queue, else
     * its queue-Q subdirectory (blkif.h multi-queue).
     */
    public static String queueDir(String deviceDir, int queues, int q) {
        return queues == 1 ? deviceDir : path(deviceDir, queue(q));
    }

    /** The {@value #MODE} value of a disk. */
    public static String mode(boolean readOnly) {
        return readOnly ? MODE_READ_ONLY : MODE_READ_WRITE;
    }

    /** Whether a {@value #MODE} value says read-only (libxl writes "r"; anything starting with r counts). */
    public static boolean isReadOnly(String mode) {
        return mode.trim().startsWith(MODE_READ_ONLY);
    }

    /** Whether a feature flag's value is on: exactly "1", surrounding blanks aside. */
    public static boolean isOn(String value) {
        return value != null && ON.equals(value.trim());
    }
}
