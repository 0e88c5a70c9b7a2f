package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsErrno;
import io.xendisk.xen.store.XsPacket;
import io.xendisk.xen.store.XsPerm;
import io.xendisk.xen.store.XsType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Decodes one request, runs it against the store under the store lock and queues
 * the reply (same type, req_id and tx_id; or ERROR with the errno name) followed by
 * the watch events it caused. Payload formats follow docs/misc/xenstore.txt.
 */
final class SimProtocol implements SimConnection.Handler {
    static final String INTRODUCE_DOMAIN = "@introduceDomain";
    static final String RELEASE_DOMAIN = "@releaseDomain";

    private static final Logger LOG = LogManager.getLogger(SimProtocol.class);
    private static final byte[] OK = XsPacket.strings("OK");

    private final SimStore store;
    private SimDomains domains;

    SimProtocol(SimStore store) {
        this.store = store;
    }

    void setDomains(SimDomains domains) {
        this.domains = domains;
    }

    @Override
    public void handle(SimConnection c, XsPacket req) {
        List<SimListener> released = new ArrayList<>();
        synchronized (store) {
            XsPacket reply;
            try {
                reply = new XsPacket(req.type(), req.reqId(), req.txId(), dispatch(c, req, released));
            } catch (XsFailure f) {
                if (f.errno() == XsErrno.EINVAL || f.errno() == XsErrno.ENOSYS) {
                    LOG.warn("{}: {} for request type {} ({} payload bytes)", c, f.errno(), typeName(req),
                            req.payload().length);
                } else {
                    LOG.debug("{}: {} for request type {}", c, f.errno(), typeName(req));
                }
                reply = new XsPacket(XsType.ERROR.code, req.reqId(), req.txId(), XsPacket.strings(f.errno().name()));
            }
            c.send(reply);
            store.flush();
        }
        // Outside the lock: closing a connection calls closed(), which takes it again.
        for (SimListener l : released) {
            l.close();
        }
    }

    @Override
    public void closed(SimConnection c) {
        synchronized (store) {
            store.drop(c);
            store.flush();
        }
    }

    private static String typeName(XsPacket req) {
        XsType t = req.xsType();
        return t == null ? Integer.toString(req.type()) : t.name();
    }

    private byte[] dispatch(SimConnection c, XsPacket req, List<SimListener> released) {
        XsType type = req.xsType();
        if (type == null) {
            throw new XsFailure(XsErrno.ENOSYS);
        }
        int dom = c.domid();
        int tx = req.txId();
        byte[] p = req.payload();
        switch (type) {
            case READ: {
                String path = path(args(p, 1, 1).get(0), dom);
                return store.node(c, tx, path, SimPerms.Need.READ).value().clone();
            }
            case DIRECTORY: {
                String path = path(args(p, 1, 1).get(0), dom);
                byte[] list = store.node(c, tx, path, SimPerms.Need.READ).childList();
                if (list.length > SimLimits.MAX_PAYLOAD) {
                    throw new XsFailure(XsErrno.E2BIG); // libxenstore then uses DIRECTORY_PART
                }
                return list;
            }
            case DIRECTORY_PART: {
                List<String> a = args(p, 2, 2);
                return directoryPart(store.node(c, tx, path(a.get(0), dom), SimPerms.Need.READ), a.get(1));
            }
            case GET_PERMS: {
                String path = path(args(p, 1, 1).get(0), dom);
                List<XsPerm> perms = store.node(c, tx, path, SimPerms.Need.READ).perms();
                return XsPacket.strings(perms.stream().map(XsPerm::wire).toArray(String[]::new));
            }
            case WRITE: {
                int nul = indexOfNul(p);
                String path = path(new String(p, 0, nul, StandardCharsets.UTF_8), dom);
                byte[] value = Arrays.copyOfRange(p, nul + 1, p.length);
                store.change(c, tx, path, (t, g) -> t.write(dom, path, value, g));
                return OK;
            }
            case MKDIR: {
                String path = path(args(p, 1, 1).get(0), dom);
                store.change(c, tx, path, (t, g) -> t.mkdir(dom, path, g));
                return OK;
            }
            case RM: {
                String path = path(args(p, 1, 1).get(0), dom);
                store.change(c, tx, path, (t, g) -> t.rm(dom, path, g));
                return OK;
            }
            case SET_PERMS: {
                List<String> a = args(p, 2, Integer.MAX_VALUE);
                String path = path(a.get(0), dom);
                List<XsPerm> perms = XsPerm.parseAll(a.subList(1, a.size()));
                if (perms == null) {
                    throw new XsFailure(XsErrno.EINVAL);
                }
                store.change(c, tx, path, (t, g) -> t.setPerms(dom, path, perms, g));
                return OK;
            }
            case WATCH: {
                List<String> a = args(p, 2, 3);
                store.watch(c, a.get(0), SimPaths.canonical(a.get(0), dom, true), a.get(1));
                return OK;
            }
            case UNWATCH: {
                List<String> a = args(p, 2, 3);
                store.unwatch(c, SimPaths.canonical(a.get(0), dom, true), a.get(1));
                return OK;
            }
            case RESET_WATCHES:
                store.reset(c);
                return OK;
            case TRANSACTION_START:
                return XsPacket.strings(Integer.toUnsignedString(store.startTransaction(c, tx)));
            case TRANSACTION_END: {
                String how = args(p, 1, 1).get(0);
                if (!how.equals("T") && !how.equals("F")) {
                    throw new XsFailure(XsErrno.EINVAL);
                }
                store.endTransaction(c, tx, how.equals("T"));
                return OK;
            }
            case GET_DOMAIN_PATH:
                return XsPacket.strings(SimPaths.domainPath(domid(args(p, 1, 1).get(0), true)));
            case IS_DOMAIN_INTRODUCED:
                return XsPacket.strings(domains.isIntroduced(domid(args(p, 1, 1).get(0), true)) ? "T" : "F");
            case INTRODUCE:
                requireDom0(dom);
                introduce(domid(args(p, 3, 4).get(0), false));
                return OK;
            case RELEASE:
                requireDom0(dom);
                released.add(release(domid(args(p, 1, 1).get(0), false)));
                return OK;
            case RESUME:
                requireDom0(dom);
                if (!domains.isIntroduced(domid(args(p, 1, 1).get(0), false))) {
                    throw new XsFailure(XsErrno.ENOENT);
                }
                return OK;
            case SET_TARGET:
                requireDom0(dom);
                throw new XsFailure(XsErrno.ENOSYS); // device-model stub domains are not simulated
            default: // CONTROL (implementation specific), and reply-only types sent as requests
                throw new XsFailure(XsErrno.ENOSYS);
        }
    }

    private static void requireDom0(int dom) {
        if (!SimPerms.isPrivileged(dom)) {
            throw new XsFailure(XsErrno.EACCES);
        }
    }

    private void introduce(int domid) {
        boolean fresh;
        try {
            fresh = domains.introduce(domid);
        } catch (IOException e) {
            LOG.error("INTRODUCE of domain {}: cannot open its socket {} ({})", domid, domains.socketPath(domid),
                    e.getMessage());
            throw new XsFailure(XsErrno.EIO);
        }
        if (!fresh) {
            return; // as xenstored: introducing again is accepted and changes nothing
        }
        String home = SimPaths.domainPath(domid);
        if (store.lookup(home) == null) {
            store.change(null, 0, home, (t, g) -> t.mkdir(0, home, g));
            List<XsPerm> perms = List.of(new XsPerm(domid, XsPerm.Access.NONE));
            store.change(null, 0, home, (t, g) -> t.setPerms(0, home, perms, g));
        }
        store.fireSpecial(INTRODUCE_DOMAIN);
    }

    private SimListener release(int domid) {
        SimListener l = domains.release(domid);
        if (l == null) {
            throw new XsFailure(XsErrno.ENOENT);
        }
        for (SimConnection gone : l.connections()) {
            store.drop(gone);
        }
        store.fireSpecial(RELEASE_DOMAIN);
        return l;
    }

    /**
     * DIRECTORY_PART reply: generation count, NUL, the child names from the byte
     * offset on (each NUL-terminated, as many as fit) and one more NUL when the
     * list is complete.
     */
    private static byte[] directoryPart(SimNode node, String offsetText) {
        int offset;
        try {
            offset = Integer.parseInt(offsetText);
        } catch (NumberFormatException e) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        byte[] all = node.childList();
        byte[] gen = XsPacket.strings(Long.toString(node.generation()));
        if (offset < 0) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        int start = Math.min(offset, all.length);
        int max = SimLimits.MAX_PAYLOAD - gen.length - 1;
        int end = start;
        while (end < all.length) {
            int next = end;
            while (all[next] != 0) {
                next++;
            }
            next++;
            if (next - start > max) {
                break;
            }
            end = next;
        }
        boolean complete = end == all.length;
        byte[] out = new byte[gen.length + (end - start) + (complete ? 1 : 0)];
        System.arraycopy(gen, 0, out, 0, gen.length);
        System.arraycopy(all, start, out, gen.length, end - start);
        return out;
    }

    private static String path(String raw, int dom) {
        return SimPaths.canonical(raw, dom, false);
    }

    /** A domid argument; dom0 only where it makes sense (GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED). */
    private static int domid(String s, boolean zeroOk) {
        int d;
        try {
            d = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        if (d < 0 || d >= SimLimits.DOMID_FIRST_RESERVED || d == 0 && !zeroOk) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        return d;
    }

    private static int indexOfNul(byte[] p) {
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) {
                return i;
            }
        }
        throw new XsFailure(XsErrno.EINVAL);
    }

    /** NUL-terminated string arguments; a missing final NUL or a wrong count is EINVAL. */
    private static List<String> args(byte[] p, int min, int max) {
        if (p.length == 0 || p[p.length - 1] != 0) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        List<String> a = XsPacket.split(p);
        if (a.size() < min || a.size() > max) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        return a;
    }
}
