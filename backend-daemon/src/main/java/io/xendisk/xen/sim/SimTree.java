package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsErrno;
import io.xendisk.xen.store.XsPerm;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;

/**
 * An immutable xenstore tree plus the node count of each owner (for the nodes
 * quota). Every operation checks permissions and quotas the way xenstored does and
 * a change returns a new tree, so the live tree and transaction copies share nodes.
 */
final class SimTree {
    /** What one change did: the new tree, the paths whose records changed, the watch events. */
    record Outcome(SimTree tree, Set<String> modified, List<SimEvent> events) {
        static Outcome unchanged(SimTree t) {
            return new Outcome(t, Set.of(), List.of());
        }
    }

    private final SimNode root;
    private final Map<Integer, Integer> owned;

    private SimTree(SimNode root, Map<Integer, Integer> owned) {
        this.root = root;
        this.owned = owned;
    }

    /** A store holding only "/", owned by dom0 and closed to everyone else, as xenstored starts. */
    static SimTree initial() {
        return new SimTree(SimNode.empty(List.of(new XsPerm(0, XsPerm.Access.NONE)), 0), Map.of(0, 1));
    }

    /** The node, or null; no permission check. */
    SimNode lookup(String abs) {
        SimNode n = root;
        for (String s : SimPaths.segments(abs)) {
            n = n.child(s);
            if (n == null) {
                return null;
            }
        }
        return n;
    }

    int ownedBy(int domid) {
        return owned.getOrDefault(domid, 0);
    }

    /**
     * The node if the domain has the access; otherwise EACCES. A missing node is
     * ENOENT only if the closest existing ancestor grants the access, so a domain
     * cannot probe where it may not look (xenstored errno_from_parents).
     */
    SimNode get(int domid, String abs, SimPerms.Need need) {
        SimNode n = lookup(abs);
        if (n != null) {
            if (!SimPerms.allows(domid, n.perms(), need)) {
                throw new XsFailure(XsErrno.EACCES);
            }
            return n;
        }
        SimNode ancestor = closestExistingAncestor(abs);
        throw new XsFailure(SimPerms.allows(domid, ancestor.perms(), need) ? XsErrno.ENOENT : XsErrno.EACCES);
    }

    /** Creating a node needs write access to its closest existing ancestor. */
    private void checkCreatable(int domid, String abs) {
        if (!SimPerms.allows(domid, closestExistingAncestor(abs).perms(), SimPerms.Need.WRITE)) {
            throw new XsFailure(XsErrno.EACCES);
        }
    }

    private SimNode closestExistingAncestor(String abs) {
        String p = abs;
        while (!p.equals("/")) {
            p = SimPaths.parent(p);
            SimNode n = lookup(p);
            if (n != null) {
                return n;
            }
        }
        return root;
    }

    /** WRITE: sets the value, creating the node and missing parents. */
    Outcome write(int domid, String abs, byte[] value, LongSupplier gens) {
        SimNode n = lookup(abs);
        if (n == null) {
            checkCreatable(domid, abs);
            return create(domid, abs, value, gens);
        }
        if (!SimPerms.allows(domid, n.perms(), SimPerms.Need.WRITE)) {
            throw new XsFailure(XsErrno.EACCES);
        }
        SimNode changed = n.withValue(value, gens.getAsLong());
        checkSize(domid, changed);
        return new Outcome(replace(abs, x -> changed), Set.of(abs), List.of(new SimEvent(abs, changed.perms())));
    }

    /** MKDIR: creates the node with an empty value unless it exists (then nothing changes). */
    Outcome mkdir(int domid, String abs, LongSupplier gens) {
        SimNode n = lookup(abs);
        if (n != null) {
            if (!SimPerms.allows(domid, n.perms(), SimPerms.Need.WRITE)) {
                throw new XsFailure(XsErrno.EACCES);
            }
            return unchanged();
        }
        checkCreatable(domid, abs);
        return create(domid, abs, new byte[0], gens);
    }

    private Outcome unchanged() {
        return Outcome.unchanged(this);
    }

    private Outcome create(int domid, String abs, byte[] value, LongSupplier gens) {
        List<String> missing = new ArrayList<>();
        for (String p = abs; lookup(p) == null; p = SimPaths.parent(p)) {
            missing.add(0, p);
        }
        SimTree t = this;
        Set<String> modified = new LinkedHashSet<>();
        SimNode created = null;
        for (String p : missing) {
            String parentPath = SimPaths.parent(p);
            SimNode parent = t.lookup(parentPath);
            if (!SimPerms.isPrivileged(domid) && t.ownedBy(domid) >= SimLimits.NODES_PER_DOMAIN) {
                throw new XsFailure(XsErrno.ENOSPC);
            }
            long gen = gens.getAsLong();
            created = new SimNode(p.equals(abs) ? value : new byte[0],
                    SimPerms.inherit(parent.perms(), domid), Map.of(), gen);
            checkSize(domid, created);
            SimNode newParent = parent.withChildAdded(SimPaths.name(p), created, gen);
            checkSize(domid, newParent);
            t = t.replace(parentPath, x -> newParent).withOwned(created.owner(), +1);
            modified.add(parentPath);
            modified.add(p);
        }
        return new Outcome(t, modified, List.of(new SimEvent(abs, created.perms())));
    }

    /**
     * RM: removes the node and everything below. A missing node is fine when its
     * parent exists; removing "/" is EINVAL.
     */
    Outcome rm(int domid, String abs, LongSupplier gens) {
        SimNode n = lookup(abs);
        if (n == null) {
            try {
                get(domid, abs, SimPerms.Need.WRITE);
            } catch (XsFailure f) {
                if (f.errno() == XsErrno.ENOENT && lookup(SimPaths.parent(abs)) != null) {
                    return unchanged();
                }
                throw f;
            }
            throw new AssertionError("get() of a missing node returned");
        }
        if (!SimPerms.allows(domid, n.perms(), SimPerms.Need.WRITE)) {
            throw new XsFailure(XsErrno.EACCES);
        }
        if (abs.equals("/")) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        Set<String> modified = new LinkedHashSet<>();
        Map<Integer, Integer> counts = new HashMap<>(owned);
        collect(abs, n, modified, counts);
        String parentPath = SimPaths.parent(abs);
        modified.add(parentPath);
        long gen = gens.getAsLong();
        SimTree t = replace(parentPath, p -> p.withChildRemoved(SimPaths.name(abs), gen));
        return new Outcome(new SimTree(t.root, Map.copyOf(counts)), modified,
                List.of(new SimEvent(abs, n.perms(), true)));
    }

    private static void collect(String path, SimNode n, Set<String> paths, Map<Integer, Integer> counts) {
        paths.add(path);
        counts.merge(n.owner(), -1, Integer::sum);
        for (Map.Entry<String, SimNode> c : n.children().entrySet()) {
            collect(SimPaths.child(path, c.getKey()), c.getValue(), paths, counts);
        }
    }

    /** SET_PERMS: only the owner or dom0; an unprivileged owner may not give the node away. */
    Outcome setPerms(int domid, String abs, List<XsPerm> perms, LongSupplier gens) {
        SimNode n = get(domid, abs, SimPerms.Need.WRITE);
        if (!SimPerms.isOwnerOrPrivileged(domid, n.perms())) {
            throw new XsFailure(XsErrno.EACCES);
        }
        int newOwner = perms.get(0).domid();
        if (!SimPerms.isPrivileged(domid) && newOwner != n.owner()) {
            throw new XsFailure(XsErrno.EPERM);
        }
        SimNode changed = n.withPerms(perms, gens.getAsLong());
        checkSize(domid, changed);
        SimTree t = replace(abs, x -> changed);
        if (newOwner != n.owner()) {
            t = t.withOwned(n.owner(), -1).withOwned(newOwner, +1);
        }
        return new Outcome(t, Set.of(abs), List.of(new SimEvent(abs, perms)));
    }

    private static void checkSize(int domid, SimNode n) {
        if (!SimPerms.isPrivileged(domid) && n.recordSize() >= SimLimits.NODE_SIZE_MAX) {
            throw new XsFailure(XsErrno.ENOSPC);
        }
    }

    /** A tree where the existing node at abs is replaced by fn(node); ancestors are rebuilt. */
    private SimTree replace(String abs, UnaryOperator<SimNode> fn) {
        return new SimTree(rebuild(root, SimPaths.segments(abs), 0, fn), owned);
    }

    private static SimNode rebuild(SimNode cur, List<String> segs, int i, UnaryOperator<SimNode> fn) {
        if (i == segs.size()) {
            return fn.apply(cur);
        }
        String name = segs.get(i);
        return cur.withChildReplaced(name, rebuild(cur.child(name), segs, i + 1, fn));
    }

    private SimTree withOwned(int domid, int delta) {
        Map<Integer, Integer> m = new HashMap<>(owned);
        m.merge(domid, delta, Integer::sum);
        return new SimTree(root, Map.copyOf(m));
    }
}
