package io.xendisk.xen.sim;

import io.xendisk.xen.store.XsPerm;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One immutable xenstore node. Changes return a new node, so a whole tree can be
 * kept as a transaction snapshot by holding its root. Children keep creation
 * order, as xenstored lists them.
 */
final class SimNode {
    /** Size of xenstored's record header (generation, num_perms, datalen, childlen). */
    private static final int RECORD_HEADER = 24;
    /** Size of one struct xs_permissions in a record. */
    private static final int RECORD_PERM = 8;

    private final byte[] value;
    private final List<XsPerm> perms;
    private final Map<String, SimNode> children;
    private final long generation;

    SimNode(byte[] value, List<XsPerm> perms, Map<String, SimNode> children, long generation) {
        this.value = value;
        this.perms = List.copyOf(perms);
        this.children = children;
        this.generation = generation;
    }

    static SimNode empty(List<XsPerm> perms, long generation) {
        return new SimNode(new byte[0], perms, Collections.emptyMap(), generation);
    }

    /** The value; callers must not modify the array. */
    byte[] value() {
        return value;
    }

    List<XsPerm> perms() {
        return perms;
    }

    int owner() {
        return perms.get(0).domid();
    }

    Map<String, SimNode> children() {
        return children;
    }

    SimNode child(String name) {
        return children.get(name);
    }

    /** Bumped whenever this node's own record changes (value, perms, child list). */
    long generation() {
        return generation;
    }

    SimNode withValue(byte[] v, long gen) {
        return new SimNode(v, perms, children, gen);
    }

    SimNode withPerms(List<XsPerm> p, long gen) {
        return new SimNode(value, p, children, gen);
    }

    /** Replaces an existing child (a change further down): this record is unchanged. */
    SimNode withChildReplaced(String name, SimNode child) {
        Map<String, SimNode> m = new LinkedHashMap<>(children);
        m.put(name, child);
        return new SimNode(value, perms, Collections.unmodifiableMap(m), generation);
    }

    SimNode withChildAdded(String name, SimNode child, long gen) {
        Map<String, SimNode> m = new LinkedHashMap<>(children);
        m.put(name, child);
        return new SimNode(value, perms, Collections.unmodifiableMap(m), gen);
    }

    SimNode withChildRemoved(String name, long gen) {
        Map<String, SimNode> m = new LinkedHashMap<>(children);
        m.remove(name);
        return new SimNode(value, perms, Collections.unmodifiableMap(m), gen);
    }

    /** The child names as DIRECTORY sends them: each followed by a NUL. */
    byte[] childList() {
        int n = 0;
        for (String c : children.keySet()) {
            n += c.length() + 1;
        }
        byte[] out = new byte[n];
        int p = 0;
        for (String c : children.keySet()) {
            byte[] b = c.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(b, 0, out, p, b.length);
            p += b.length + 1;
        }
        return out;
    }

    /** The size xenstored would store for this node, which its size quota limits. */
    int recordSize() {
        int childLen = 0;
        for (String c : children.keySet()) {
            childLen += c.length() + 1;
        }
        return RECORD_HEADER + RECORD_PERM * perms.size() + value.length + childLen;
    }
}
