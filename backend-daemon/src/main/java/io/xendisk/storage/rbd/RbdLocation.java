package io.xendisk.storage.rbd;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Ceph RBD image as QEMU and libvirt write it:
 * {@code rbd:pool[/namespace]/image[@snap][:key=value...]}, where the keys are
 * {@code conf} (a ceph.conf), {@code id} (the client's name without
 * "client.", default admin), {@code keyring}, and any other Ceph option
 * ({@code mon_host=10.0.0.1}); a ':' inside a value is written "\:".
 *
 * @param options Ceph options beyond conf and id, in the order given
 */
public record RbdLocation(String pool, String namespace, String image, String snap,
                          String conf, String id, Map<String, String> options) {
    private static final String FORM = "write rbd:pool/image[@snap][:conf=/etc/ceph/ceph.conf][:id=NAME][:keyring=PATH]";
    /** What Ceph accepts in a pool, namespace or image name here: no '/', '@' or ':'. */
    private static final Pattern NAME = Pattern.compile("[^/@:\\s]+");
    private static final Pattern KEY = Pattern.compile("[a-z][a-z0-9_ ]*");

    public RbdLocation {
        options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }

    /**
     * Reads {@code location}.
     *
     * @throws IllegalArgumentException naming the location and what is wrong with it
     */
    public static RbdLocation parse(String location) {
        String s = location == null ? "" : location.strip();
        if (!s.regionMatches(true, 0, "rbd:", 0, 4)) {
            throw bad(location, "it does not start with rbd:");
        }
        List<String> parts = split(s.substring(4), location);
        String where = parts.get(0);
        String snap = null;
        int at = where.indexOf('@');
        if (at >= 0) {
            snap = where.substring(at + 1);
            where = where.substring(0, at);
            if (!NAME.matcher(snap).matches()) {
                throw bad(location, "the snapshot after '@' is empty or not a name");
            }
        }
        String[] names = where.split("/", -1);
        if (names.length < 2 || names.length > 3) {
            throw bad(location, "it names no pool/image");
        }
        for (String n : names) {
            if (!NAME.matcher(n).matches()) {
                throw bad(location, "'" + where + "' has an empty or unusable pool, namespace or image name");
            }
        }
        String conf = null;
        String id = "admin";
        Map<String, String> options = new LinkedHashMap<>();
        for (String option : parts.subList(1, parts.size())) {
            int eq = option.indexOf('=');
            if (eq <= 0 || eq == option.length() - 1) {
                throw bad(location, "option '" + option + "' is not key=value");
            }
            String key = option.substring(0, eq);
            String value = option.substring(eq + 1);
            if (!KEY.matcher(key).matches()) {
                throw bad(location, "option '" + key + "' is not a Ceph option name");
            }
            switch (key) {
                case "conf" -> conf = value;
                case "id" -> id = value.startsWith("client.") ? value.substring(7) : value;
                default -> {
                    if (options.put(key, value) != null) {
                        throw bad(location, "option '" + key + "' is given twice");
                    }
                }
            }
        }
        return names.length == 2
                ? new RbdLocation(names[0], null, names[1], snap, conf, id, options)
                : new RbdLocation(names[0], names[1], names[2], snap, conf, id, options);
    }

    /** The pieces between unescaped ':'s, each with "\:" made ':'. */
    private static List<String> split(String s, String location) {
        List<String> parts = new ArrayList<>();
        StringBuilder part = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                part.append(s.charAt(++i));
            } else if (c == ':') {
                parts.add(part.toString());
                part.setLength(0);
            } else {
                part.append(c);
            }
        }
        parts.add(part.toString());
        return parts;
    }

    private static IllegalArgumentException bad(String location, String why) {
        return new IllegalArgumentException("'" + location + "' is not an RBD image: " + why + " (" + FORM + ")");
    }

    /** {@code pool/image@snap} (with the namespace when there is one), as {@code rbd} names it. */
    public String imageSpec() {
        return pool + "/" + (namespace != null ? namespace + "/" : "") + image + (snap != null ? "@" + snap : "");
    }

    @Override
    public String toString() {
        return "rbd:" + imageSpec();
    }
}
