package io.xendisk.daemon;

import java.util.Optional;

import io.xendisk.blkif.VbdPaths;
import io.xendisk.xen.store.XenStore;

/**
 * Guests by name or by domain id, as xenstore knows them now: the
 * toolstack writes a domain's name to {@code /local/domain/N/name}, so a user
 * can say {@code vm1} where the protocol wants {@code 5}.
 */
final class DomainNames {
    private final XenStore xs;

    DomainNames(XenStore xs) {
        this.xs = xs;
    }

    /** Whether {@code vm} is a domain id rather than a name (names may not be all digits). */
    static boolean isDomid(String vm) {
        return vm.matches("\\d{1,5}");
    }

    /**
     * The domain id of {@code vm}, a domain id or a name, of a domain that exists now.
     *
     * @throws IllegalArgumentException naming the guest and where to look for it
     */
    int domid(String vm) {
        if (isDomid(vm)) {
            int d = Integer.parseInt(vm);
            if (!exists(d)) {
                throw new IllegalArgumentException("no domain " + d
                        + " (is the guest running? 'xl list' or 'xen-disk-java sim guests')");
            }
            return d;
        }
        for (String d : xs.tryDirectory("/local/domain")) {
            if (d.matches("\\d+") && vm.equals(name(Integer.parseInt(d)).orElse(null))) {
                return Integer.parseInt(d);
            }
        }
        throw new IllegalArgumentException("no running guest named '" + vm
                + "' (is it started? names are read from /local/domain/*/name)");
    }

    /**
     * Like {@link #domid}, but a domain id is taken as it is, so that what is
     * left of a guest that died can still be named by its number.
     */
    int domidOrNumber(String vm) {
        return isDomid(vm) ? Integer.parseInt(vm) : domid(vm);
    }

    /** Whether {@code vm} (a domain id or a name) is a domain xenstore knows now. */
    boolean exists(String vm) {
        try {
            domid(vm);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Whether domain {@code domid} has its directory in xenstore (the toolstack made it and has not removed it). */
    boolean exists(int domid) {
        return xs.exists(VbdPaths.domain(domid));
    }

    /** The name the toolstack gave domain {@code domid}, if any. */
    Optional<String> name(int domid) {
        return xs.tryRead(VbdPaths.domain(domid) + "/name");
    }
}
