package io.xendisk.api;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One command from the CLI to the daemon: a verb ("status", "sim"), its
 * positional arguments ("start") and a few named options ("platform" -> "sim").
 * Immutable; encoded by {@link ControlCodec}.
 */
public record ControlRequest(String verb, List<String> args, Map<String, String> options) {
    public ControlRequest {
        Objects.requireNonNull(verb, "verb");
        args = List.copyOf(args);
        options = Map.copyOf(options);
    }

    /** A request with no arguments and no options. */
    public static ControlRequest of(String verb, String... args) {
        return new ControlRequest(verb, List.of(args), Map.of());
    }

    /** The value of option {@code name}, or null. */
    public String option(String name) {
        return options.get(name);
    }
}
