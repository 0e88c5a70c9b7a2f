package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsErrno;
import io.xendisk.xen.store.XsPacket;
import io.xendisk.xen.store.XsType;
import java.util.ArrayList;
import java.util.List;

/**
 * The watch registry. Not thread-safe: used only under the store lock. Events are
 * not sent directly but added to an outbox the caller flushes after its reply.
 */
final class SimWatches {
    /** A queued WATCH_EVENT. */
    record Delivery(SimConnection conn, XsPacket packet) {
    }

    /** path is absolute or "@special"; relative watches report paths relative to the domain path. */
    private record Watch(SimConnection conn, String path, String token, boolean relative) {
    }

    private final List<Watch> watches = new ArrayList<>();

    /** WATCH: registers and queues the initial event carrying the path as the client gave it. */
    void add(SimConnection c, String raw, String path, String token, List<Delivery> out) {
        for (Watch w : watches) {
            if (w.conn == c && w.path.equals(path) && w.token.equals(token)) {
                throw new XsFailure(XsErrno.EEXIST);
            }
        }
        if (!SimPerms.isPrivileged(c.domid()) && countForDomain(c.domid()) >= SimLimits.WATCHES_PER_DOMAIN) {
            throw new XsFailure(XsErrno.E2BIG);
        }
        Watch w = new Watch(c, path, token, SimPaths.isRelative(raw));
        watches.add(w);
        out.add(event(w, raw));
    }

    void remove(SimConnection c, String path, String token) {
        if (!watches.removeIf(w -> w.conn == c && w.path.equals(path) && w.token.equals(token))) {
            throw new XsFailure(XsErrno.ENOENT);
        }
    }

    void removeAll(SimConnection c) {
        watches.removeIf(w -> w.conn == c);
    }

    private int countForDomain(int domid) {
        int n = 0;
        for (Watch w : watches) {
            if (w.conn.domid() == domid) {
                n++;
            }
        }
        return n;
    }

    /**
     * Queues events for a change: every watch at or above the changed path fires
     * with that path; a removal also fires every watch below it, with the watch's
     * own path. Unprivileged watchers only see nodes they may read.
     */
    void fire(SimEvent e, List<Delivery> out) {
        for (Watch w : watches) {
            if (w.path.startsWith("@")) {
                continue;
            }
            String eventPath;
            if (SimPaths.isAtOrBelow(e.path(), w.path)) {
                eventPath = e.path();
            } else if (e.removal() && SimPaths.isAtOrBelow(w.path, e.path())) {
                eventPath = w.path;
            } else {
                continue;
            }
            if (SimPerms.isPrivileged(w.conn.domid()) || SimPerms.allows(w.conn.domid(), e.perms(), SimPerms.Need.READ)) {
                out.add(event(w, w.relative ? relative(w, eventPath) : eventPath));
            }
        }
    }

    /** Queues "@introduceDomain" / "@releaseDomain" to every watcher of that special path. */
    void fireSpecial(String special, List<Delivery> out) {
        for (Watch w : watches) {
            if (w.path.equals(special)) {
                out.add(event(w, special));
            }
        }
    }

    private static String relative(Watch w, String abs) {
        return abs.substring(SimPaths.domainPath(w.conn.domid()).length() + 1);
    }

    private static Delivery event(Watch w, String path) {
        return new Delivery(w.conn, XsPacket.of(XsType.WATCH_EVENT, 0, 0, path, w.token));
    }
}
