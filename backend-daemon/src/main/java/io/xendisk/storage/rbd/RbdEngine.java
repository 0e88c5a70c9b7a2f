package io.xendisk.storage.rbd;

import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageEngine;
import io.xendisk.storage.StorageException;
import io.xendisk.storage.StorageSpec;

import java.util.Set;

/**
 * The {@code rbd} engine: a Ceph RBD image ({@code rbd:pool/image[@snap]},
 * options after ':') through Debian's librbd, every request asynchronous.
 */
public final class RbdEngine implements StorageEngine {
    public static final String NAME = "rbd";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<String> schemes() {
        return Set.of("rbd");
    }

    @Override
    public IoEngine open(StorageSpec spec) {
        if (spec.location() == null) {
            throw new StorageException(spec.path(), "engine rbd takes an RBD image (rbd:pool/image[@snap]), not the file "
                    + spec.source());
        }
        RbdLocation location;
        try {
            location = RbdLocation.parse(spec.location());
        } catch (IllegalArgumentException e) {
            throw new StorageException(null, e.getMessage(), e);
        }
        return new RbdDisk(RbdImage.open(location, spec.readOnly()));
    }
}
