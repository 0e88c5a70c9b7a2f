package io.xendisk.cli;

import io.xendisk.api.IoTuneOptions;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A parsed command line: global options (anywhere before {@code --}) and the
 * verb with its arguments.
 *
 * @param verb     "status", "sim", ...; "help" for --help/-h, "version" for --version,
 *                 "" when no verb was given
 * @param args     the verb's arguments
 * @param platform the value of --platform, or null
 * @param options  the verb's own options (--path IMG → "path"="IMG"; flags → "true")
 */
public record CliArgs(String verb, List<String> args, String platform, Map<String, String> options) {
    /** Verbs that need no daemon: they never start one. */
    public static final Set<String> LOCAL_VERBS = Set.of("daemon", "help", "version", "attach-disk", "detach-disk",
            "domblklist", "libvirt-hook", "install", "uninstall");
    private static final Set<String> PLATFORMS = Set.of("sim", "xen", "auto");

    /** Options each verb takes: name → whether it takes a value. */
    private static final Map<String, Map<String, Boolean>> VERB_OPTIONS = Map.of(
            "connect", withIoTune(Map.of("path", true, "storage", true, "vdev", true, "readonly", false,
                    "foreground", false, "no-wait", false, "at-start", true, "sector-size", true, "cdrom", false)),
            "blkdeviotune", withIoTune(Map.of("live", false, "current", false)),
            "sim", Map.of("memory-mib", true, "abi", true, "max-indirect-segments", true, "queues", true,
                    "ring-page-order", true),
            "demo", Map.of("dir", true),
            "attach-disk", Map.ofEntries(Map.entry("connect", true), Map.entry("domain", true), Map.entry("source", true),
                    Map.entry("target", true), Map.entry("driver", true), Map.entry("driver-type", true),
                    Map.entry("subdriver", true), Map.entry("mode", true), Map.entry("live", false),
                    Map.entry("config", false), Map.entry("persistent", false), Map.entry("current", false),
                    Map.entry("print-xml", false)),
            "detach-disk", Map.of("connect", true, "domain", true, "target", true, "live", false, "config", false,
                    "persistent", false, "current", false),
            "domblklist", Map.of("connect", true, "domain", true, "inactive", false),
            "install", Map.of("root", true),
            "uninstall", Map.of("root", true));
    /** A verb's options and virsh's blkdeviotune options (--total-iops-sec N ...), each taking a number. */
    private static Map<String, Boolean> withIoTune(Map<String, Boolean> own) {
        Map<String, Boolean> m = new LinkedHashMap<>(own);
        for (String name : IoTuneOptions.NAMES) {
            m.put(IoTuneOptions.option(name), true);
        }
        return Map.copyOf(m);
    }

    /** virsh's positional arguments, which may also be given as --NAME VALUE. */
    private static final Map<String, List<String>> VIRSH_POSITIONAL = Map.of(
            "attach-disk", List.of("domain", "source", "target"),
            "detach-disk", List.of("domain", "target"),
            "domblklist", List.of("domain"));
    private static final Set<String> SIM_ACTIONS = Set.of("start", "stop", "status", "guest", "guests", "destroy", "run");

    public CliArgs {
        args = List.copyOf(args);
        options = Map.copyOf(options);
    }

    public CliArgs(String verb, List<String> args, String platform) {
        this(verb, args, platform, Map.of());
    }

    /**
     * Parses and validates a command line.
     *
     * @throws UsageException naming the unknown verb/option or the missing value
     */
    public static CliArgs parse(List<String> argv) throws UsageException {
        String platform = null;
        List<String> words = new ArrayList<>();
        boolean help = false;
        boolean version = false;
        boolean optionsDone = false;
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            boolean workloadArgs = words.size() >= 5 && words.get(0).equals("sim") && words.get(1).equals("run");
            if (optionsDone || workloadArgs || !a.startsWith("-") || a.equals("-")) {
                words.add(a);
            } else if (a.equals("--")) {
                optionsDone = true;
            } else if (a.equals("--help") || a.equals("-h")) {
                help = true;
            } else if (a.equals("--version")) {
                version = true;
            } else if (a.equals("--platform") || a.startsWith("--platform=")) {
                String value;
                if (a.equals("--platform")) {
                    if (i + 1 >= argv.size()) {
                        throw new UsageException("option --platform needs a value: sim, xen or auto");
                    }
                    value = argv.get(++i);
                } else {
                    value = a.substring("--platform=".length());
                }
                if (!PLATFORMS.contains(value)) {
                    throw new UsageException("unknown platform '" + value + "' for --platform: use sim, xen or auto");
                }
                platform = value;
            } else if (!words.isEmpty() && VERB_OPTIONS.containsKey(words.get(0))) {
                i = verbOption(words.get(0), argv, i, options);
            } else {
                throw new UsageException("unknown option '" + a + "'"
                        + (words.isEmpty() ? "" : " for '" + words.get(0) + "'"));
            }
        }
        if (help) {
            return new CliArgs("help", List.of(), platform);
        }
        if (version) {
            return new CliArgs("version", List.of(), platform);
        }
        if (words.isEmpty()) {
            return new CliArgs("", List.of(), platform);
        }
        String verb = words.get(0);
        List<String> rest = words.subList(1, words.size());
        switch (verb) {
            case "help":
                return new CliArgs("help", List.of(), platform);
            case "daemon":
            case "status":
            case "list":
            case "shutdown":
                if (!rest.isEmpty()) {
                    throw new UsageException("'" + verb + "' takes no arguments, got '" + String.join(" ", rest) + "'");
                }
                return new CliArgs(verb, rest, platform);
            case "demo":
                if (!rest.isEmpty()) {
                    throw new UsageException("'demo' takes no arguments (only --dir DIR), got '" + String.join(" ", rest) + "'");
                }
                return new CliArgs(verb, rest, platform, options);
            case "connect":
                if (rest.size() != 1) {
                    throw new UsageException("'connect' needs one guest (name or domid): connect <vm> [--path IMG]"
                            + " [--storage discard|file|mmap|cow|qcow2|nbd|rbd] [--vdev xvdb] [--readonly] [--foreground]"
                            + " [--total-iops-sec N ...]");
                }
                return new CliArgs(verb, rest, platform, options);
            case "blkdeviotune":
                if (rest.size() != 2) {
                    throw new UsageException("'blkdeviotune' needs the domain and the disk: blkdeviotune <domain>"
                            + " <target> [--total-iops-sec N] [--read-bytes-sec N] ... (no limit given: print them)");
                }
                return new CliArgs(verb, rest, platform, options);
            case "disconnect":
                if (rest.size() != 2) {
                    throw new UsageException("'disconnect' needs the guest and the disk: disconnect <vm> <vdev>");
                }
                return new CliArgs(verb, rest, platform, options);
            case "resize":
                if (rest.size() != 3) {
                    throw new UsageException("'resize' needs the guest, the disk and the new size: resize <vm> <vdev> <size>"
                            + " (bytes, or with K, M, G, T)");
                }
                return new CliArgs(verb, rest, platform, options);
            case "blockresize":
                // virsh's spelling: a size without a unit is in KiB there
                if (rest.size() != 3) {
                    throw new UsageException("'blockresize' needs the domain, the disk and the new size:"
                            + " blockresize <domain> <target> <size> (KiB, or with B, K, M, G, T)");
                }
                String size = rest.get(2).trim();
                return new CliArgs("resize", List.of(rest.get(0), rest.get(1),
                        size.matches("[0-9]+") ? size + "K" : size), platform, options);
            case "sim":
                return sim(rest, platform, options);
            case "attach-disk":
            case "detach-disk":
            case "domblklist":
                return virsh(verb, rest, platform, options);
            case "libvirt-hook":
                if (rest.size() < 3 || rest.size() > 4) {
                    throw new UsageException("'libvirt-hook' is run by libvirt as: libvirt-hook GUEST OP SUBOP [EXTRA],"
                            + " with the domain XML on stdin");
                }
                return new CliArgs(verb, rest, platform, options);
            case "install":
            case "uninstall":
                if (!rest.isEmpty()) {
                    throw new UsageException("'" + verb + "' takes no arguments (only --root DIR), got '"
                            + String.join(" ", rest) + "'");
                }
                return new CliArgs(verb, rest, platform, options);
            default:
                throw new UsageException("unknown verb '" + verb + "'");
        }
    }

    private static CliArgs sim(List<String> rest, String platform, Map<String, String> options) throws UsageException {
        if (rest.isEmpty() || !SIM_ACTIONS.contains(rest.get(0))) {
            throw new UsageException(rest.isEmpty() ? "'sim' needs an action: start, stop, status, guest, guests, destroy or run"
                    : "unknown 'sim' action '" + rest.get(0) + "': use start, stop, status, guest, guests, destroy or run");
        }
        String action = rest.get(0);
        if (!options.isEmpty() && !action.equals("guest")) {
            throw new UsageException("options --" + String.join(", --", options.keySet()) + " are for 'sim guest' only");
        }
        int n = rest.size();
        boolean ok = switch (action) {
            case "guest", "destroy" -> n == 2;
            case "run" -> n >= 4;
            default -> n == 1;
        };
        if (!ok) {
            throw new UsageException(switch (action) {
                case "guest" -> "'sim guest' needs a name: sim guest NAME [--memory-mib 64] [--abi x86_64|x86_32]"
                        + " [--max-indirect-segments 32] [--queues 1] [--ring-page-order 0]";
                case "destroy" -> "'sim destroy' needs the guest's name or domid";
                case "run" -> "'sim run' needs: sim run GUEST VDEV WORKLOAD [ARGS...]";
                default -> "'sim " + action + "' takes no arguments";
            });
        }
        return new CliArgs("sim", rest, platform, options);
    }

    /**
     * attach-disk, detach-disk, domblklist: virsh's positional arguments (given
     * in order or as --domain/--source/--target) become {@code args} in order;
     * --subdriver is virsh's name of --driver-type.
     */
    private static CliArgs virsh(String verb, List<String> rest, String platform, Map<String, String> options)
            throws UsageException {
        List<String> names = VIRSH_POSITIONAL.get(verb);
        Map<String, String> opts = new LinkedHashMap<>(options);
        List<String> positional = new ArrayList<>();
        int next = 0;
        for (String name : names) {
            String named = opts.remove(name);
            if (named != null) {
                positional.add(named);
            } else if (next < rest.size()) {
                positional.add(rest.get(next++));
            }
        }
        String synopsis = switch (verb) {
            case "attach-disk" -> "attach-disk <domain> <source> <target> [--driver-type cow|mmap|file|qcow2|nbd|rbd|discard]"
                    + " [--mode readonly] [--live] [--config] [--persistent] [--current] [--connect URI]";
            case "detach-disk" -> "detach-disk <domain> <target> [--live] [--config] [--persistent] [--current]"
                    + " [--connect URI]";
            default -> "domblklist <domain> [--inactive] [--connect URI]";
        };
        if (next < rest.size() || positional.size() < names.size()) {
            throw new UsageException("'" + verb + "' needs " + names.stream().map(n -> "<" + n + ">")
                    .reduce((a, b) -> a + " " + b).orElse("") + ": " + synopsis);
        }
        if (opts.containsKey("subdriver")) {
            if (opts.containsKey("driver-type")) {
                throw new UsageException("give --driver-type or --subdriver (the same thing), not both");
            }
            opts.put("driver-type", opts.remove("subdriver"));
        }
        if (opts.containsKey("current") && (opts.containsKey("live") || opts.containsKey("config")
                || opts.containsKey("persistent"))) {
            throw new UsageException("--current cannot be combined with --live, --config or --persistent");
        }
        return new CliArgs(verb, positional, platform, opts);
    }

    /** Parses one option of {@code verb} at argv[i]; returns the index of its last word. */
    private static int verbOption(String verb, List<String> argv, int i, Map<String, String> into) throws UsageException {
        String a = argv.get(i);
        String name = a.substring(2);
        String value = null;
        int eq = name.indexOf('=');
        if (eq >= 0) {
            value = name.substring(eq + 1);
            name = name.substring(0, eq);
        }
        Boolean takesValue = VERB_OPTIONS.get(verb).get(name);
        if (takesValue == null) {
            throw new UsageException("unknown option '--" + name + "' for '" + verb + "' (it takes "
                    + String.join(", ", VERB_OPTIONS.get(verb).keySet().stream().sorted().map(o -> "--" + o).toList()) + ")");
        }
        if (takesValue && value == null) {
            if (i + 1 >= argv.size() || argv.get(i + 1).startsWith("--")) {
                throw new UsageException("option --" + name + " of '" + verb + "' needs a value");
            }
            value = argv.get(++i);
        }
        if (!takesValue && value != null) {
            throw new UsageException("option --" + name + " of '" + verb + "' takes no value");
        }
        if (into.put(name, takesValue ? value : "true") != null) {
            throw new UsageException("option --" + name + " given twice");
        }
        return i;
    }
}
