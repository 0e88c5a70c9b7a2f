package io.xendisk.xen.store;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ByteChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The xenstore client used by the daemon and the CLI: xs_wire.h messages over
 * the xenstored unix socket (or the /dev/xen/xenbus device).
 *
 * <p>A reader thread matches replies to requests by req_id and hands watch
 * events to a separate dispatcher thread, so a listener may call back into
 * this client without deadlocking the reader. That one thread serves every
 * watch of the connection in order, so a listener that has real work to do
 * hands it to a thread of its own (as each VBD does, to its Reconciler).
 */
public final class XenStoreClient implements XenStore {
    private static final Logger LOG = LogManager.getLogger(XenStoreClient.class);
    /** Default location (XEN_RUN_STORED) when neither env var is set. */
    public static final Path DEFAULT_SOCKET = Path.of("/run/xenstored/socket");
    public static final Path XENBUS_DEVICE = Path.of("/dev/xen/xenbus");
    private static final int MAX_TX_ATTEMPTS = 64;
    private static final long REPLY_TIMEOUT_SECONDS = 30;

    private final String where;
    private final ByteChannel channel;
    private final Object writeLock = new Object();
    private final AtomicInteger nextReqId = new AtomicInteger(1);
    private final Map<Integer, CompletableFuture<XsPacket>> pending = new ConcurrentHashMap<>();
    private final Map<String, WatchImpl> watches = new ConcurrentHashMap<>();
    private final ExecutorService dispatcher;
    private final Thread reader;
    private volatile boolean closed;
    private volatile Runnable onDisconnect = () -> { };

    private XenStoreClient(String where, ByteChannel channel) {
        this.where = where;
        this.channel = channel;
        this.dispatcher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "xenstore-watch " + where);
            t.setDaemon(true);
            return t;
        });
        this.reader = new Thread(this::readLoop, "xenstore-reader " + where);
        this.reader.setDaemon(true);
        this.reader.start();
    }

    /**
     * Connects as libxenstore's xs_open does: $XENSTORED_PATH, else
     * $XENSTORED_RUNDIR/socket, else /run/xenstored/socket; when no socket is
     * there, the xenbus device ($XENSTORED_PATH or /dev/xen/xenbus).
     */
    public static XenStoreClient open() {
        return open(System.getenv());
    }

    static XenStoreClient open(Map<String, String> env) {
        Path path = socketPath(env);
        if (isDevice(path)) {
            return openDevice(path);
        }
        if (!Files.exists(path) && !env.containsKey("XENSTORED_PATH") && Files.exists(XENBUS_DEVICE)) {
            return openDevice(XENBUS_DEVICE);
        }
        return connect(path);
    }

    /**
     * Whether {@code path} is a character device (the xenbus device) rather
     * than a socket: libxenstore tells them apart by the file's type, not its
     * name (a socket may well live under /dev/shm).
     */
    public static boolean isDevice(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            return (mode & 0170000) == 0020000; // S_IFMT == S_IFCHR
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }

    /** The socket path libxenstore would use for this environment. */
    public static Path socketPath(Map<String, String> env) {
        String p = env.get("XENSTORED_PATH");
        if (p != null && !p.isEmpty()) {
            return Path.of(p);
        }
        String rundir = env.get("XENSTORED_RUNDIR");
        if (rundir != null && !rundir.isEmpty()) {
            return Path.of(rundir, "socket");
        }
        return DEFAULT_SOCKET;
    }

    /** Connects to a xenstored unix socket. */
    public static XenStoreClient connect(Path socket) {
        try {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                ch.close();
                throw e;
            }
            return new XenStoreClient(socket.toString(), ch);
        } catch (IOException e) {
            throw new XenStoreException("cannot connect to xenstored at " + socket + ": " + e.getMessage()
                    + " (is xenstored running? XENSTORED_PATH selects another socket)", e);
        }
    }

    /** Opens the xenbus device, through which a domain without a local xenstored talks to it. */
    public static XenStoreClient openDevice(Path device) {
        try {
            FileChannel ch = FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE);
            return new XenStoreClient(device.toString(), ch);
        } catch (IOException e) {
            throw new XenStoreException("cannot open xenstore device " + device + ": " + e.getMessage()
                    + " (load the xenfs/xen-evtchn modules or run on a Xen host)", e);
        }
    }

    /** Where this client is connected: the socket or device path. */
    public String where() {
        return where;
    }

    /** Called once, on the reader thread, when the connection to xenstored is lost. */
    public void onDisconnect(Runnable r) {
        this.onDisconnect = r;
    }

    public boolean isOpen() {
        return !closed;
    }

    // ---- XsOps outside a transaction ----

    @Override
    public String read(String path) {
        return read(0, path);
    }

    @Override
    public Optional<String> tryRead(String path) {
        return tryRead(0, path);
    }

    @Override
    public void write(String path, String value) {
        write(0, path, value);
    }

    @Override
    public void mkdir(String path) {
        call(XsType.MKDIR, 0, path, XsPacket.strings(path));
    }

    @Override
    public void rm(String path) {
        rm(0, path);
    }

    @Override
    public List<String> directory(String path) {
        return directory(0, path);
    }

    @Override
    public List<XsPerm> getPermissions(String path) {
        return getPermissions(0, path);
    }

    @Override
    public void setPermissions(String path, List<XsPerm> perms) {
        setPermissions(0, path, perms);
    }

    // ---- the rest of the port ----

    @Override
    public Watch watch(String path, String token, WatchListener listener) {
        WatchImpl w = new WatchImpl(path, token, listener);
        if (watches.putIfAbsent(token, w) != null) {
            throw new IllegalArgumentException("watch token already in use: " + token);
        }
        try {
            call(XsType.WATCH, 0, path, XsPacket.strings(path, token));
        } catch (RuntimeException e) {
            watches.remove(token);
            throw e;
        }
        return w;
    }

    @Override
    public <T> T transaction(Function<XsOps, T> body) {
        for (int attempt = 1; ; attempt++) {
            int tx = Integer.parseInt(trimNul(call(XsType.TRANSACTION_START, 0, "", XsPacket.strings("")).payloadString()));
            T result;
            try {
                result = body.apply(new TxOps(tx));
            } catch (RuntimeException | Error e) {
                try {
                    call(XsType.TRANSACTION_END, tx, "", XsPacket.strings("F"));
                } catch (XenStoreException abortFailed) {
                    e.addSuppressed(abortFailed);
                }
                throw e;
            }
            try {
                call(XsType.TRANSACTION_END, tx, "", XsPacket.strings("T"));
                return result;
            } catch (XenStoreException e) {
                if (e.errno() != XsErrno.EAGAIN || attempt >= MAX_TX_ATTEMPTS) {
                    throw e;
                }
                LOG.debug("xenstore transaction conflict, retry {}", attempt);
            }
        }
    }

    @Override
    public String getDomainPath(int domid) {
        return trimNul(call(XsType.GET_DOMAIN_PATH, 0, "", XsPacket.strings(Integer.toString(domid))).payloadString());
    }

    @Override
    public void resetWatches() {
        call(XsType.RESET_WATCHES, 0, "", new byte[0]);
        watches.clear();
    }

    /** Tells xenstored a domain exists (dom0 only); fires @introduceDomain. */
    public void introduce(int domid, long mfn, int port) {
        call(XsType.INTRODUCE, 0, "domain " + domid,
                XsPacket.strings(Integer.toString(domid), Long.toString(mfn), Integer.toString(port)));
    }

    /** Tells xenstored a domain is gone (dom0 only); fires @releaseDomain. */
    public void release(int domid) {
        call(XsType.RELEASE, 0, "domain " + domid, XsPacket.strings(Integer.toString(domid)));
    }

    @Override
    public boolean isDomainIntroduced(int domid) {
        return trimNul(call(XsType.IS_DOMAIN_INTRODUCED, 0, "domain " + domid,
                XsPacket.strings(Integer.toString(domid))).payloadString()).equals("T");
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("closing xenstore connection {}: {}", where, e.toString());
        }
        dispatcher.shutdown();
        failPending("xenstore connection closed");
    }

    // ---- wire operations with a transaction id ----

    private String read(int tx, String path) {
        return call(XsType.READ, tx, path, XsPacket.strings(path)).payloadString();
    }

    private Optional<String> tryRead(int tx, String path) {
        try {
            return Optional.of(read(tx, path));
        } catch (XenStoreException e) {
            if (e.errno() == XsErrno.ENOENT) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private void write(int tx, String path, String value) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        byte[] payload = new byte[p.length + 1 + v.length];
        System.arraycopy(p, 0, payload, 0, p.length);
        System.arraycopy(v, 0, payload, p.length + 1, v.length);
        call(XsType.WRITE, tx, path, payload);
    }

    private void rm(int tx, String path) {
        try {
            call(XsType.RM, tx, path, XsPacket.strings(path));
        } catch (XenStoreException e) {
            if (e.errno() != XsErrno.ENOENT) {
                throw e;
            }
        }
    }

    private List<String> directory(int tx, String path) {
        List<String> names = XsPacket.split(call(XsType.DIRECTORY, tx, path, XsPacket.strings(path)).payload());
        names.removeIf(String::isEmpty);
        return names;
    }

    private List<XsPerm> getPermissions(int tx, String path) {
        List<XsPerm> perms = XsPerm.parseAll(XsPacket.split(call(XsType.GET_PERMS, tx, path, XsPacket.strings(path)).payload()));
        if (perms == null) {
            throw new XenStoreException("get_perms", path, XsErrno.EINVAL);
        }
        return perms;
    }

    private void setPermissions(int tx, String path, List<XsPerm> perms) {
        String[] parts = new String[perms.size() + 1];
        parts[0] = path;
        for (int i = 0; i < perms.size(); i++) {
            parts[i + 1] = perms.get(i).wire();
        }
        call(XsType.SET_PERMS, tx, path, XsPacket.strings(parts));
    }

    private XsPacket call(XsType type, int tx, String pathForErrors, byte[] payload) {
        if (payload.length > XsPacket.MAX_PAYLOAD) {
            throw new XenStoreException(type.name().toLowerCase(), pathForErrors, XsErrno.E2BIG);
        }
        if (closed) {
            throw new XenStoreException("xenstore connection to " + where + " is closed", null);
        }
        int id = nextReqId.getAndUpdate(i -> i == Integer.MAX_VALUE ? 1 : i + 1);
        CompletableFuture<XsPacket> f = new CompletableFuture<>();
        pending.put(id, f);
        try {
            synchronized (writeLock) {
                XsPacket.of(type, id, tx, payload).writeTo(channel);
            }
            XsPacket reply = f.get(REPLY_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (reply.type() == XsType.ERROR.code) {
                throw new XenStoreException(type.name().toLowerCase(), pathForErrors, XsErrno.parse(reply.payloadString()));
            }
            return reply;
        } catch (IOException e) {
            throw new XenStoreException("xenstore " + type + " " + pathForErrors + ": connection to " + where
                    + " failed: " + e.getMessage(), e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof XenStoreException x ? x : new XenStoreException(c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new XenStoreException("xenstore " + type + " " + pathForErrors + ": no reply from " + where
                    + " in " + REPLY_TIMEOUT_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new XenStoreException("interrupted waiting for xenstore", e);
        } finally {
            pending.remove(id);
        }
    }

    private void readLoop() {
        String why = "connection closed by xenstored";
        try {
            XsPacket p;
            while ((p = XsPacket.readFrom(channel, XsPacket.MAX_PAYLOAD)) != null) {
                if (p.type() == XsType.WATCH_EVENT.code) {
                    dispatchEvent(p);
                    continue;
                }
                CompletableFuture<XsPacket> f = pending.get(p.reqId());
                if (f != null) {
                    f.complete(p);
                } else {
                    LOG.warn("xenstore {}: reply for unknown request id {} (type {}) ignored", where, p.reqId(), p.type());
                }
            }
        } catch (IOException e) {
            why = e.getMessage();
        }
        if (!closed) {
            LOG.warn("xenstore connection {} lost: {}", where, why);
            closed = true;
            failPending("xenstore connection to " + where + " lost: " + why);
            dispatcher.shutdown();
            try {
                onDisconnect.run();
            } catch (RuntimeException e) {
                LOG.error("disconnect handler failed", e);
            }
        }
    }

    private void dispatchEvent(XsPacket p) {
        List<String> parts = XsPacket.split(p.payload());
        if (parts.size() < 2) {
            LOG.warn("xenstore {}: malformed watch event ignored", where);
            return;
        }
        WatchImpl w = watches.get(parts.get(1));
        if (w == null) {
            return; // an event already in flight when the watch was removed
        }
        String path = parts.get(0);
        try {
            dispatcher.execute(() -> {
                if (w.active) {
                    try {
                        w.listener.onEvent(path, w.token);
                    } catch (RuntimeException e) {
                        LOG.error("watch {} ({}) listener failed on {}", w.token, w.path, path, e);
                    }
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // shutting down
        }
    }

    private void failPending(String why) {
        for (CompletableFuture<XsPacket> f : pending.values()) {
            f.completeExceptionally(new XenStoreException(why, null));
        }
    }

    private static String trimNul(String s) {
        int i = s.indexOf('\0');
        return i < 0 ? s : s.substring(0, i);
    }

    private final class WatchImpl implements Watch {
        final String path;
        final String token;
        final WatchListener listener;
        volatile boolean active = true;

        WatchImpl(String path, String token, WatchListener listener) {
            this.path = path;
            this.token = token;
            this.listener = listener;
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public String token() {
            return token;
        }

        @Override
        public void close() {
            if (!active) {
                return;
            }
            active = false;
            watches.remove(token, this);
            if (!closed) {
                try {
                    call(XsType.UNWATCH, 0, path, XsPacket.strings(path, token));
                } catch (XenStoreException e) {
                    LOG.debug("unwatch {} {}: {}", path, token, e.getMessage());
                }
            }
        }
    }

    /** Operations carrying a transaction id. */
    private final class TxOps implements XsOps {
        private final int tx;

        TxOps(int tx) {
            this.tx = tx;
        }

        @Override
        public String read(String path) {
            return XenStoreClient.this.read(tx, path);
        }

        @Override
        public Optional<String> tryRead(String path) {
            return XenStoreClient.this.tryRead(tx, path);
        }

        @Override
        public void write(String path, String value) {
            XenStoreClient.this.write(tx, path, value);
        }

        @Override
        public void mkdir(String path) {
            call(XsType.MKDIR, tx, path, XsPacket.strings(path));
        }

        @Override
        public void rm(String path) {
            XenStoreClient.this.rm(tx, path);
        }

        @Override
        public List<String> directory(String path) {
            return XenStoreClient.this.directory(tx, path);
        }

        @Override
        public List<XsPerm> getPermissions(String path) {
            return XenStoreClient.this.getPermissions(tx, path);
        }

        @Override
        public void setPermissions(String path, List<XsPerm> perms) {
            XenStoreClient.this.setPermissions(tx, path, perms);
        }
    }
}
