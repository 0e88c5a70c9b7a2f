package io.xendisk.xen.sim.domain;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import io.xendisk.xen.store.XenStoreClient;
import io.xendisk.xen.store.XsPerm;

/**
 * Picks a domid for a new simulated guest as a toolstack would: the lowest
 * one from 1 not present under /local/domain, not introduced, and not the
 * directory of a live simulated guest. The pick and the creation of
 * {@code /local/domain/N/name} happen in one transaction, so two guests
 * starting at once never get the same domid (the loser's commit conflicts
 * and it picks again).
 */
public final class DomainIds {
    private DomainIds() {
    }

    /**
     * Reserves a domid for {@code name} and creates its home, owned by the
     * domain as xenstored's INTRODUCE would make it, with {@code name} and
     * {@code domid} nodes that only dom0 may change.
     * @throws IllegalStateException when the name is taken or no domid is free
     */
    public static int reserve(XenStoreClient dom0, String name, Path simdir) {
        if (name.isEmpty() || name.chars().anyMatch(c -> c < 0x21 || c > 0x7E)) {
            throw new IllegalArgumentException("guest name '" + name + "' must be non-empty printable ASCII without spaces");
        }
        return dom0.transaction(t -> {
            List<String> present = t.tryDirectory("/local/domain");
            Set<Integer> used = new HashSet<>();
            for (String d : present) {
                try {
                    used.add(Integer.parseInt(d));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (name.equals(t.tryRead("/local/domain/" + d + "/name").orElse(null))) {
                    throw new IllegalStateException("a domain named '" + name + "' already exists (domain " + d
                            + "); pick another --name or stop that guest");
                }
            }
            for (int n = 1; n <= SimPaths.MAX_DOMID; n++) {
                if (used.contains(n) || dom0.isDomainIntroduced(n) || liveGuest(simdir, n)) {
                    continue;
                }
                String home = "/local/domain/" + n;
                t.mkdir(home);
                t.setPermissions(home, List.of(new XsPerm(n, XsPerm.Access.NONE)));
                List<XsPerm> dom0Owned = List.of(new XsPerm(0, XsPerm.Access.NONE), new XsPerm(n, XsPerm.Access.READ));
                t.write(home + "/name", name);
                t.setPermissions(home + "/name", dom0Owned);
                t.write(home + "/domid", Integer.toString(n));
                t.setPermissions(home + "/domid", dom0Owned);
                return n;
            }
            throw new IllegalStateException("no free domid: domains 1.." + SimPaths.MAX_DOMID + " are all in use");
        });
    }

    /** A simulated domain directory whose owner process still runs. */
    private static boolean liveGuest(Path simdir, int domid) {
        Path pid = SimPaths.pid(simdir, domid);
        if (!Files.exists(pid)) {
            return false;
        }
        try {
            long p = Long.parseLong(Files.readString(pid).trim());
            return ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false);
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }
}
