package io.xendisk.guest;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * What a workload runs with: the frontend's data path (held exclusively),
 * the disk, a stop signal (the device is closing) and where its output lines go.
 */
public record IoContext(String device, BlkfrontIo io, DiskProperties disk, BooleanSupplier stop, Consumer<String> out) {
}
