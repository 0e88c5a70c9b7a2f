package io.xendisk.storage.qcow2;

import io.xendisk.storage.Storage;
import io.xendisk.storage.StorageEngine;
import io.xendisk.storage.StorageSpec;

/** Engine {@code qcow2}, found by {@link java.util.ServiceLoader} like any plug-in: see {@link Qcow2Storage}. */
public final class Qcow2Engine implements StorageEngine {
    @Override
    public String name() {
        return Qcow2Storage.NAME;
    }

    @Override
    public Storage openStorage(StorageSpec spec) {
        return Qcow2Storage.open(spec);
    }
}
