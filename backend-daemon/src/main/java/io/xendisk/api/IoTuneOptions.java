package io.xendisk.api;

import java.util.List;

/**
 * The I/O limit settings a disk takes, by libvirt's {@code <iotune>} names;
 * the command line spells each as virsh's {@code blkdeviotune} does
 * ({@code total_bytes_sec} is {@code --total-bytes-sec}), and both go to the
 * daemon as options of {@code connect} and {@code blkdeviotune}.
 */
public final class IoTuneOptions {
    /** libvirt's order. */
    public static final List<String> NAMES = List.of("total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
            "total_iops_sec", "read_iops_sec", "write_iops_sec",
            "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max",
            "total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max",
            "total_bytes_sec_max_length", "read_bytes_sec_max_length", "write_bytes_sec_max_length",
            "total_iops_sec_max_length", "read_iops_sec_max_length", "write_iops_sec_max_length",
            "size_iops_sec");

    private IoTuneOptions() {
    }

    /** The command line's option name (without "--") of libvirt's {@code name}. */
    public static String option(String name) {
        return name.replace('_', '-');
    }
}
