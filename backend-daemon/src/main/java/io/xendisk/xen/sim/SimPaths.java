package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsErrno;
import java.util.List;

/**
 * Path rules of xenstored (docs/misc/xenstore.txt): absolute paths start with "/",
 * use only [A-Za-z0-9/_@-], have no "//" nor a trailing "/" (except "/" itself) and
 * are at most {@link SimLimits#ABS_PATH_MAX} bytes. Relative paths are relative to
 * the caller's domain path "/local/domain/N".
 */
final class SimPaths {
    private SimPaths() {
    }

    static String domainPath(int domid) {
        return "/local/domain/" + domid;
    }

    /**
     * The absolute path a client meant. Special paths ("@...") are returned as they
     * are when {@code allowSpecial} (only WATCH and UNWATCH), otherwise EINVAL.
     */
    static String canonical(String raw, int domid, boolean allowSpecial) {
        if (raw.isEmpty()) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        if (raw.charAt(0) == '@') {
            if (!allowSpecial || raw.length() > SimLimits.REL_PATH_MAX) {
                throw new XsFailure(XsErrno.EINVAL);
            }
            return raw;
        }
        String abs = raw.charAt(0) == '/' ? raw : domainPath(domid) + "/" + raw;
        if (!isValid(abs)) {
            throw new XsFailure(XsErrno.EINVAL);
        }
        return abs;
    }

    static boolean isRelative(String raw) {
        return !raw.isEmpty() && raw.charAt(0) != '/' && raw.charAt(0) != '@';
    }

    static boolean isValid(String abs) {
        if (abs.isEmpty() || abs.charAt(0) != '/' || abs.length() > SimLimits.ABS_PATH_MAX) {
            return false;
        }
        if (abs.length() > 1 && abs.charAt(abs.length() - 1) == '/') {
            return false;
        }
        char prev = 0;
        for (int i = 0; i < abs.length(); i++) {
            char c = abs.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || c == '/' || c == '_' || c == '@' || c == '-';
            if (!ok || c == '/' && prev == '/') {
                return false;
            }
            prev = c;
        }
        return true;
    }

    /** The parent of an absolute path other than "/". */
    static String parent(String abs) {
        int i = abs.lastIndexOf('/');
        return i == 0 ? "/" : abs.substring(0, i);
    }

    static String name(String abs) {
        return abs.substring(abs.lastIndexOf('/') + 1);
    }

    static String child(String abs, String name) {
        return abs.equals("/") ? "/" + name : abs + "/" + name;
    }

    /** The names from the root down; "/" has none. */
    static List<String> segments(String abs) {
        return abs.equals("/") ? List.of() : List.of(abs.substring(1).split("/"));
    }

    /** True when {@code path} is {@code base} or lies below it (xenstore.txt "child"). */
    static boolean isAtOrBelow(String path, String base) {
        if (base.equals("/")) {
            return path.startsWith("/");
        }
        return path.equals(base) || path.startsWith(base) && path.charAt(base.length()) == '/';
    }
}
