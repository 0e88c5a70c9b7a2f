package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsPerm;
import java.util.ArrayList;
import java.util.List;

/**
 * xenstored's permission rule (perm_for_conn): dom0 and the node's owner (first
 * entry) may do anything; any other domain gets the access of its own entry, or of
 * the first entry when it has none.
 */
final class SimPerms {
    /** What an operation needs on a node. */
    enum Need { READ, WRITE }

    private SimPerms() {
    }

    static boolean isPrivileged(int domid) {
        return domid == 0;
    }

    static boolean isOwnerOrPrivileged(int domid, List<XsPerm> perms) {
        return isPrivileged(domid) || perms.get(0).domid() == domid;
    }

    static boolean allows(int domid, List<XsPerm> perms, Need need) {
        if (isOwnerOrPrivileged(domid, perms)) {
            return true;
        }
        XsPerm.Access access = perms.get(0).access();
        for (int i = 1; i < perms.size(); i++) {
            if (perms.get(i).domid() == domid) {
                access = perms.get(i).access();
                break;
            }
        }
        return need == Need.READ ? access.canRead() : access.canWrite();
    }

    /**
     * The permissions of a new node: a copy of its parent's, except that a node an
     * unprivileged domain creates is owned by that domain (xenstored construct_node).
     */
    static List<XsPerm> inherit(List<XsPerm> parent, int creator) {
        if (isPrivileged(creator)) {
            return parent;
        }
        List<XsPerm> out = new ArrayList<>(parent);
        out.set(0, new XsPerm(creator, parent.get(0).access()));
        return List.copyOf(out);
    }
}
