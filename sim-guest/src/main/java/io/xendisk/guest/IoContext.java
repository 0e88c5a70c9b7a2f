package io.xendisk.guest;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * What a workload runs with: the frontend's data path (held exclusively),
 * the disk, a stop signal (the device is closing), where its output lines go,
 * and the frontend itself (null when there is none), for a workload that
 * changes its xenbus state in the middle of I/O.
 */
public record IoContext(String device, BlkfrontIo io, DiskProperties disk, BooleanSupplier stop, Consumer<String> out,
                        Blkfront frontend) {
    public IoContext(String device, BlkfrontIo io, DiskProperties disk, BooleanSupplier stop, Consumer<String> out) {
        this(device, io, disk, stop, out, null);
    }
}
