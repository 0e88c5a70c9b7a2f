package io.xendisk.guest;

import io.xendisk.blkif.Vdev;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs a workload by name on a connected frontend. Names and arguments:
 * <pre>
 * seq-read | seq-write   [--bs 1M] [--size BYTES] [--offset BYTES] [--qd N] [--seed N]
 * rand-read | rand-write [--bs 4k] [--qd 1] [--ops N | --time SECONDS] [--size BYTES] [--offset BYTES] [--seed N]
 * verify                 [--offset BYTES] [--size BYTES] [--bs 32k] [--qd 8] [--seed N] [--read-only]
 * read-at SECTOR COUNT
 * discard                [--offset BYTES] [--size BYTES] [--bs BYTES] [--qd N] [--secure]
 * hostile CASE|all|list  [--count N]
 * fuzz                   [--requests 1000000] [--seed S] [--valid-percent 50] [--state-changes N]
 * </pre>
 * Sizes take k/M/G suffixes. Output lines go to the sink; a workload whose
 * check fails (verify, hostile, fuzz) returns false.
 */
public final class Workloads {
    /** How long a workload waits for another one on the same disk to finish. */
    private static final long BUSY_WAIT_MS = 60_000;

    private Workloads() {
    }

    public static List<String> names() {
        return List.of("seq-read", "seq-write", "rand-read", "rand-write", "verify", "read-at", "discard", "hostile", "fuzz");
    }

    /**
     * Runs {@code workload} with {@code args} on {@code fe}, holding one of its
     * rings: {@code --queue N} among the args picks it (a disk with several
     * queues runs a workload on each at once), else the first free one.
     * @return false when the workload's check failed (verify mismatch, a hostile case failed)
     * @throws IllegalArgumentException for an unknown workload or bad arguments
     * @throws BlkfrontException when the disk is not usable or I/O could not complete
     */
    public static boolean run(Blkfront fe, String workload, List<String> args, Consumer<String> out) throws Exception {
        if (!names().contains(workload)) {
            throw new IllegalArgumentException("unknown workload '" + workload + "'; workloads: " + String.join(", ", names()));
        }
        List<String> rest = new ArrayList<>(args);
        int queue = takeQueue(workload, rest);
        String device = "disk " + Vdev.name(fe.devid());
        return fe.withIo(BUSY_WAIT_MS, queue, (io, disk) -> {
            IoContext ctx = new IoContext(device, io, disk, fe::isClosing, out, fe);
            return run(ctx, workload, rest);
        });
    }

    /** Removes {@code --queue N} (or {@code --queue=N}) from {@code args}; -1 when absent. */
    private static int takeQueue(String workload, List<String> args) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String v = null;
            if (a.equals("--queue")) {
                if (i + 1 == args.size()) {
                    throw new IllegalArgumentException(workload + ": option --queue needs a value");
                }
                v = args.remove(i + 1);
                args.remove(i);
            } else if (a.startsWith("--queue=")) {
                v = a.substring("--queue=".length());
                args.remove(i);
            }
            if (v != null) {
                try {
                    int q = Integer.parseInt(v);
                    if (q >= 0) {
                        return q;
                    }
                } catch (NumberFormatException e) {
                    // falls through to the message
                }
                throw new IllegalArgumentException(workload + ": --queue '" + v + "' is not a queue number (0, 1, ...)");
            }
        }
        return -1;
    }

    /** Runs a workload on a data path the caller holds. */
    public static boolean run(IoContext ctx, String workload, List<String> args) throws InterruptedException {
        switch (workload) {
            case "seq-read" -> {
                return SequentialWorkload.run(ctx, false, args);
            }
            case "seq-write" -> {
                return SequentialWorkload.run(ctx, true, args);
            }
            case "rand-read" -> {
                return RandomWorkload.run(ctx, false, args);
            }
            case "rand-write" -> {
                return RandomWorkload.run(ctx, true, args);
            }
            case "verify" -> {
                return VerifyWorkload.run(ctx, args);
            }
            case "read-at" -> ReadAtWorkload.run(ctx, args);
            case "discard" -> {
                return DiscardWorkload.run(ctx, args);
            }
            case "hostile" -> {
                return HostileWorkload.run(ctx, args);
            }
            case "fuzz" -> {
                return FuzzWorkload.run(ctx, args);
            }
            default -> throw new IllegalArgumentException("unknown workload '" + workload + "'; workloads: "
                    + String.join(", ", names()));
        }
        return true;
    }
}
