package io.xendisk.xen.store;

import java.util.List;
import java.util.Optional;

/** The node operations, outside or inside a transaction. */
public interface XsOps {
    /** The value of a node; throws XenStoreException(ENOENT) when it does not exist. */
    String read(String path);

    /** The value, or empty when the node does not exist. */
    Optional<String> tryRead(String path);

    /** Creates missing parents as xenstored does. */
    void write(String path, String value);

    void mkdir(String path);

    /** Removes the node and its children; a missing node is not an error. */
    void rm(String path);

    /** Child names; throws ENOENT when the node does not exist. */
    List<String> directory(String path);

    /** Child names, or an empty list when the node does not exist. */
    default List<String> tryDirectory(String path) {
        try {
            return directory(path);
        } catch (XenStoreException e) {
            if (e.errno() == XsErrno.ENOENT) {
                return List.of();
            }
            throw e;
        }
    }

    default boolean exists(String path) {
        return tryRead(path).isPresent();
    }

    List<XsPerm> getPermissions(String path);

    void setPermissions(String path, List<XsPerm> perms);
}
