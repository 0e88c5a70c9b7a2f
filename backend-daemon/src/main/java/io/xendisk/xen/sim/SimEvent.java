package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsPerm;
import java.util.List;

/**
 * A change that fires watches: the changed path, the node's permissions (which
 * decide whether an unprivileged watcher may see it; for a removal those before
 * it went), and whether it was a removal, which also fires watches set below it.
 */
record SimEvent(String path, List<XsPerm> perms, boolean removal) {
    SimEvent(String path, List<XsPerm> perms) {
        this(path, perms, false);
    }
}
