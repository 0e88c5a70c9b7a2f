package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * A domain's event channel port table, the shared file {@code evtchn}:
 * {@value #PORTS} entries of {@value #ENTRY_SIZE} bytes, little-endian:
 * <pre>
 *   @0  u16 state        0 free, 1 unbound, 2 interdomain, 3 reserved (being bound)
 *   @2  u16 remote domid unbound: the domain allowed to bind; interdomain: the peer
 *   @4  u32 remote port  interdomain: the peer's port
 *   @8  u32 pending      set by the notifier, consumed by the receiver
 *   @12 u32 mask         set by the receiver: no wakeups while masked
 *   @16 u32 owner        pid of the process that holds the port
 *   @20 u32 taken        events the receiver consumed (each await that returned one)
 *   @24 u64 notified     notifications sent to the port, counted even while it is pending
 * </pre>
 * The two counters do not change the semantics (kicks while pending still
 * coalesce); they let a test see a storm and what it cost the receiver.
 * The first 8 bytes are one "link" word changed only by compare-and-set, so a
 * port's state and its peer always change together, whichever process binds
 * or closes. Port 0 is never allocated (as on Xen).
 */
final class PortTable {
    static final int PORTS = 1024;
    static final int ENTRY_SIZE = 32;
    static final int SIZE = PORTS * ENTRY_SIZE;
    static final int FREE = 0;
    static final int UNBOUND = 1;
    static final int INTERDOMAIN = 2;
    static final int RESERVED = 3;

    private static final int LINK = 0;
    private static final int PENDING = 8;
    private static final int MASK = 12;
    private static final int OWNER = 16;
    private static final int TAKEN = 20;
    private static final int NOTIFIED = 24;
    private static final int SELF = (int) ProcessHandle.current().pid();
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final int domid;
    private final Path file;
    private final ByteBuffer table;

    private PortTable(int domid, Path file, ByteBuffer table) {
        this.domid = domid;
        this.file = file;
        this.table = table;
    }

    static PortTable create(Path file, int domid) throws IOException {
        return new PortTable(domid, file, SharedFile.create(file, SIZE));
    }

    static PortTable open(Path file, int domid) throws IOException {
        ByteBuffer b = SharedFile.open(file);
        if (b.capacity() != SIZE) {
            throw new IOException(file + ": " + b.capacity() + " bytes, expected a port table of " + SIZE);
        }
        return new PortTable(domid, file, b);
    }

    int domid() {
        return domid;
    }

    Path file() {
        return file;
    }

    static long link(int state, int remoteDomid, int remotePort) {
        return (state & 0xFFFFL) | ((remoteDomid & 0xFFFFL) << 16) | ((remotePort & 0xFFFFFFFFL) << 32);
    }

    static int state(long link) {
        return (int) (link & 0xFFFF);
    }

    static int remoteDomid(long link) {
        return (int) ((link >>> 16) & 0xFFFF);
    }

    static int remotePort(long link) {
        return (int) (link >>> 32);
    }

    static boolean validPort(int port) {
        return port > 0 && port < PORTS;
    }

    long link(int port) {
        return (long) LONG.getVolatile(table, port * ENTRY_SIZE + LINK);
    }

    boolean casLink(int port, long expected, long update) {
        return LONG.compareAndSet(table, port * ENTRY_SIZE + LINK, expected, update);
    }

    void setLink(int port, long link) {
        LONG.setVolatile(table, port * ENTRY_SIZE + LINK, link);
    }

    /**
     * Claims a free port with {@code link} as its first state; pending and
     * mask are already clear (a port is freed only after clearing them).
     * @return the port, or -1 when the table is full
     */
    int allocate(long link) {
        for (int port = 1; port < PORTS; port++) {
            if (link(port) == FREE && casLink(port, FREE, link)) {
                INT.setVolatile(table, port * ENTRY_SIZE + OWNER, SELF);
                return port;
            }
        }
        return -1;
    }

    /**
     * Whether the process holding {@code port} is still running. On Xen a
     * process's ports close when it exits, even by kill -9; here the next
     * binder of its peer finds out with this.
     */
    boolean ownerAlive(int port) {
        int pid = (int) INT.getVolatile(table, port * ENTRY_SIZE + OWNER);
        return pid == 0 || pid == SELF || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** Returns {@code port} to the free pool, clearing its event state first. */
    void free(int port) {
        INT.setVolatile(table, port * ENTRY_SIZE + PENDING, 0);
        INT.setVolatile(table, port * ENTRY_SIZE + MASK, 0);
        INT.setVolatile(table, port * ENTRY_SIZE + OWNER, 0);
        INT.setVolatile(table, port * ENTRY_SIZE + TAKEN, 0);
        LONG.setVolatile(table, port * ENTRY_SIZE + NOTIFIED, 0L);
        setLink(port, link(FREE, 0, 0));
    }

    /** Sets the port pending; true on the not-pending to pending transition (the one that may wake). */
    boolean raise(int port) {
        LONG.getAndAdd(table, port * ENTRY_SIZE + NOTIFIED, 1L);
        return (int) INT.getAndSet(table, port * ENTRY_SIZE + PENDING, 1) == 0;
    }

    /** Consumes the pending event; true if there was one. */
    boolean consume(int port) {
        boolean took = (int) INT.getVolatile(table, port * ENTRY_SIZE + PENDING) != 0
                && (int) INT.getAndSet(table, port * ENTRY_SIZE + PENDING, 0) != 0;
        if (took) {
            INT.getAndAdd(table, port * ENTRY_SIZE + TAKEN, 1);
        }
        return took;
    }

    /** Notifications sent to {@code port} since it was allocated. */
    long notified(int port) {
        return (long) LONG.getVolatile(table, port * ENTRY_SIZE + NOTIFIED);
    }

    /** Events its receiver consumed since it was allocated. */
    long taken(int port) {
        return Integer.toUnsignedLong((int) INT.getVolatile(table, port * ENTRY_SIZE + TAKEN));
    }

    boolean pending(int port) {
        return (int) INT.getVolatile(table, port * ENTRY_SIZE + PENDING) != 0;
    }

    boolean masked(int port) {
        return (int) INT.getVolatile(table, port * ENTRY_SIZE + MASK) != 0;
    }

    void setMasked(int port, boolean masked) {
        INT.setVolatile(table, port * ENTRY_SIZE + MASK, masked ? 1 : 0);
    }
}
