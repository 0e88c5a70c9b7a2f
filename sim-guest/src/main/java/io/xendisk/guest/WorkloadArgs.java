package io.xendisk.guest;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A workload's arguments: {@code --name value} options (or {@code --name=value})
 * and positional words. Sizes take k, m, g suffixes (powers of 1024).
 */
final class WorkloadArgs {
    private final String workload;
    private final Map<String, String> options = new HashMap<>();
    private final List<String> positional = new ArrayList<>();

    WorkloadArgs(String workload, List<String> args, Set<String> known) {
        this(workload, args, known, Set.of());
    }

    /** {@code flags} are options without a value, e.g. --read-only. */
    WorkloadArgs(String workload, List<String> args, Set<String> known, Set<String> flags) {
        this.workload = workload;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.startsWith("--")) {
                String key;
                String value;
                int eq = a.indexOf('=');
                if (eq > 0) {
                    key = a.substring(2, eq);
                    value = a.substring(eq + 1);
                } else if (flags.contains(a.substring(2))) {
                    key = a.substring(2);
                    value = "true";
                } else {
                    key = a.substring(2);
                    if (i + 1 >= args.size()) {
                        throw new IllegalArgumentException(workload + ": option --" + key + " needs a value");
                    }
                    value = args.get(++i);
                }
                if (!known.contains(key) && !flags.contains(key)) {
                    throw new IllegalArgumentException(workload + ": unknown option --" + key + " (known: --"
                            + String.join(", --", new java.util.TreeSet<>(known)) + ")");
                }
                options.put(key, value);
            } else {
                positional.add(a);
            }
        }
    }

    List<String> positional() {
        return positional;
    }

    boolean has(String key) {
        return options.containsKey(key);
    }

    long size(String key, long dflt) {
        String v = options.get(key);
        return v == null ? dflt : parseSize(workload + ": --" + key, v);
    }

    long number(String key, long dflt) {
        String v = options.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(workload + ": --" + key + " '" + v + "' is not a number");
        }
    }

    double decimal(String key, double dflt) {
        String v = options.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(workload + ": --" + key + " '" + v + "' is not a number");
        }
    }

    /** "4096", "4k", "1M", "2g" (powers of 1024); "512s" for sectors. */
    static long parseSize(String what, String v) {
        String s = v.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("ib")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("b") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'k' -> mult = 1L << 10;
                case 'm' -> mult = 1L << 20;
                case 'g' -> mult = 1L << 30;
                case 't' -> mult = 1L << 40;
                case 's' -> mult = 512;
                default -> { }
            }
            if (mult != 1) {
                s = s.substring(0, s.length() - 1);
            }
        }
        try {
            long n = Long.parseLong(s);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(n, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(what + " '" + v + "' is not a size (e.g. 4096, 4k, 1M, 2G, 8s)");
        }
    }
}
