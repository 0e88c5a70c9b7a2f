package io.xendisk.cli;

/** The help text. */
final class Usage {
    static final String TEXT = String.join("\n",
            "usage: xen-disk-java [--platform sim|xen|auto] VERB [ARGS]",
            "",
            "Verbs:",
            "  status             platform, daemon pid and uptime, version, sockets, number of VBDs",
            "  list               one line per VBD (domid/devid vdev state storage counters)",
            "  connect VM [--path IMG] [--storage discard|file|mmap|cow] [--vdev xvdX] [--readonly] [--foreground]",
            "                     hotplug a disk into running guest VM (name or domid); without --path a",
            "                     'discard' disk; cow = changes vanish on disconnect; --foreground keeps",
            "                     the disk until Ctrl+C or SIGTERM, then unplugs it",
            "  disconnect VM VDEV unplug a disk cleanly (closes the xenbus handshake, removes its nodes)",
            "  sim start          start the simulated platform's xenstored (prints XENSTORED_PATH=...)",
            "  sim stop           stop it",
            "  sim status         running or not, pid and socket (exit 3 when not running)",
            "  sim guest NAME [--memory-mib 64] [--abi x86_64|x86_32] [--max-indirect-segments 32]",
            "                     start a simulated guest (a userspace blkfront in its own process);",
            "                     its disks use INDIRECT requests of up to that many segments when the",
            "                     backend offers them (0: 11-segment direct requests only)",
            "  sim guests         list the running simulated guests",
            "  sim destroy NAME   shut a simulated guest down (it closes its disks first)",
            "  sim run NAME VDEV WORKLOAD [ARGS]",
            "                     run a workload in a simulated guest's disk: seq-read, seq-write,",
            "                     rand-read, rand-write ([--bs 4k] [--qd N] [--ops N|--time S]),",
            "                     verify, read-at SECTOR COUNT, hostile CASE|all|list",
            "  demo [--dir DIR]   the walkthrough: a gold image served copy-on-write to a simulated guest",
            "                     (unchanged afterwards), then an mmap'd image that keeps the guest's writes",
            "  shutdown           stop the daemon",
            "  daemon             run the daemon in the foreground (what systemd runs)",
            "  help               this text",
            "",
            "Every verb but daemon and help talks to the running daemon over its control",
            "socket and starts the daemon in the background first if none runs.",
            "Only root may control the daemon.",
            "",
            "Options:",
            "  --platform P       sim, xen or auto (default: $XEN_DISK_JAVA_PLATFORM, else auto:",
            "                     xen if /dev/xen/privcmd exists and xenstored answers, else sim)",
            "  -h, --help         this text",
            "  --version          print the version",
            "",
            "Environment:",
            "  XEN_DISK_JAVA_RUNDIR    run directory (control socket, lock, sim/), default /run/xen-disk-java",
            "  XEN_DISK_JAVA_LOGDIR    log directory (daemon.log, xenstored.log), default /var/log/xen-disk-java",
            "  XEN_DISK_JAVA_PLATFORM  default for --platform",
            "  XENSTORED_PATH, XENSTORED_RUNDIR  where the real xenstored listens (as for xenstore-* tools)",
            "",
            "Exit status: 0 success, 1 failure, 2 usage error.",
            "");

    static final String HINT = "Run 'xen-disk-java help' for usage.";

    private Usage() {
    }
}
