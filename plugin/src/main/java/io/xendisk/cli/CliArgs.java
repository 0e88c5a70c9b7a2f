package io.xendisk.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A parsed command line: global options (anywhere before {@code --}) and the
 * verb with its arguments.
 *
 * @param verb     "status", "sim", ...; "help" for --help/-h, "version" for --version,
 *                 "" when no verb was given
 * @param args     the verb's arguments
 * @param platform the value of --platform, or null
 */
public record CliArgs(String verb, List<String> args, String platform) {
    /** Verbs that need no daemon: they never start one. */
    public static final Set<String> LOCAL_VERBS = Set.of("daemon", "help", "version");
    private static final Set<String> PLATFORMS = Set.of("sim", "xen", "auto");

    public CliArgs {
        args = List.copyOf(args);
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
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            if (optionsDone || !a.startsWith("-") || a.equals("-")) {
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
            } else {
                throw new UsageException("unknown option '" + a + "'");
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
            case "sim":
                if (rest.size() != 1 || !Set.of("start", "stop", "status").contains(rest.get(0))) {
                    throw new UsageException(rest.isEmpty() ? "'sim' needs an action: start, stop or status"
                            : "unknown 'sim' action '" + String.join(" ", rest) + "': use start, stop or status");
                }
                return new CliArgs(verb, rest, platform);
            default:
                throw new UsageException("unknown verb '" + verb + "'");
        }
    }
}
