package io.xendisk.guest;

import io.xendisk.blkif.Vdev;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import io.xendisk.blkif.Abi;

/**
 * The control protocol's commands, one line each:
 * <pre>
 * status                              guest NAME domid N abi=... disks=K uptime_s=...
 * disks                               one line per disk (see {@link #diskLine})
 * run VDEV WORKLOAD [ARGS...]         the workload's lines (see {@link Workloads})
 * </pre>
 * The server adds the final {@code OK} or {@code ERROR <message>} line; a
 * workload whose check fails (verify, hostile) or that got error responses ends in ERROR.
 */
final class GuestCommands {
    private final Guest guest;

    GuestCommands(Guest guest) {
        this.guest = guest;
    }

    void handle(String line, Consumer<String> out) throws Exception {
        List<String> words = Arrays.asList(line.trim().split("\\s+"));
        switch (words.get(0)) {
            case "status" -> {
                out.accept(String.format(java.util.Locale.ROOT, "guest %s domid %d abi=%s memory_mib=%d disks=%d uptime_s=%.0f",
                        guest.name(), guest.domid(), guest.config().abi().protocol(), guest.config().memoryMib(),
                        guest.frontends().size(), guest.uptimeSeconds()));
                guest.frontends().forEach(fe -> out.accept(diskLine(fe)));
            }
            case "disks" -> guest.frontends().forEach(fe -> out.accept(diskLine(fe)));
            case "run" -> {
                if (words.size() < 3) {
                    throw new IllegalArgumentException("usage: run VDEV WORKLOAD [ARGS...]; workloads: "
                            + String.join(", ", Workloads.names()));
                }
                String workload = words.get(2);
                if (!guest.run(words.get(1), workload, words.subList(3, words.size()), out)) {
                    throw new IllegalStateException(workload + " failed (see the lines above)");
                }
            }
            default -> throw new IllegalArgumentException("unknown command '" + words.get(0)
                    + "'; commands: status, disks, run VDEV WORKLOAD [ARGS...]");
        }
    }

    /**
     * {@code xvdb devid=51728 state=4 sectors=N sector-size=512 mode=rw flush=1 abi=x86_64-abi backend=PATH [error=MESSAGE...]}
     * (sectors and sector-size are "-" before Connected).
     */
    static String diskLine(Blkfront fe) {
        DiskProperties d = fe.disk();
        Abi abi = fe.abi();
        StringBuilder sb = new StringBuilder();
        sb.append(Vdev.name(fe.devid())).append(" devid=").append(fe.devid())
                .append(" state=").append(fe.state().code())
                .append(" sectors=").append(d == null ? "-" : Long.toString(d.sectors()))
                .append(" sector-size=").append(d == null ? "-" : Integer.toString(d.sectorSize()))
                .append(" mode=").append(d == null ? "-" : d.readOnly() ? "ro" : "rw")
                .append(" flush=").append(d == null ? "-" : d.flushCache() ? "1" : "0")
                .append(" abi=").append(abi.protocol())
                .append(" backend=").append(fe.backendPath() == null ? "-" : fe.backendPath());
        if (fe.error() != null) {
            sb.append(" error=").append(fe.error()); // last: the rest of the line
        }
        return sb.toString();
    }
}
