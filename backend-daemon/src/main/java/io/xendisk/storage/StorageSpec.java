package io.xendisk.storage;

import java.nio.file.Path;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What to open: an engine by name, an image or the URI of a store elsewhere,
 * read-only or not, and for engines without an image (discard) a size.
 *
 * @param engine    engine name as registered in {@link Storages}
 * @param path      the image (regular file or block device); null for discard and for a URI
 * @param location  a store that is not a local file, as a URI ({@code nbd://host/export});
 *                  kept as a string, because a {@link Path} would fold its "//"; null for an image
 * @param readOnly  open without write access; writes and discards are refused
 * @param sizeBytes disk size for engines without an image; empty means the
 *                  engine's default. Engines with an image take the size from it
 *                  and refuse an explicit size.
 */
public record StorageSpec(String engine, Path path, String location, boolean readOnly, OptionalLong sizeBytes) {

    /** Size of a discard disk when none is given. */
    public static final long DEFAULT_DISCARD_SIZE = 1L << 30;
    private static final java.util.regex.Pattern URI = java.util.regex.Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*://");
    private static final java.util.regex.Pattern OPAQUE = java.util.regex.Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*");

    /** Validates the size: positive and a multiple of 512 when given. */
    public StorageSpec {
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(sizeBytes, "sizeBytes (use OptionalLong.empty())");
        if (path != null && location != null) {
            throw new IllegalArgumentException("a disk is an image or a URI, not both (" + path + ", " + location + ")");
        }
        if (sizeBytes.isPresent()) {
            long s = sizeBytes.getAsLong();
            if (s <= 0 || s % Storage.SECTOR_SIZE != 0) {
                throw new IllegalArgumentException("disk size " + s
                        + " must be a positive multiple of " + Storage.SECTOR_SIZE + " bytes");
            }
        }
    }

    /** An image-backed disk: engine {@code file}, {@code mmap}, {@code cow} or a plug-in. */
    public static StorageSpec of(String engine, Path path, boolean readOnly) {
        return new StorageSpec(engine, Objects.requireNonNull(path, "path"), null, readOnly, OptionalLong.empty());
    }

    /** A store an engine reaches by URI ({@code nbd://host/export}, {@code rbd:pool/image}). */
    public static StorageSpec uri(String engine, String uri, boolean readOnly) {
        return new StorageSpec(engine, null, Objects.requireNonNull(uri, "uri"), readOnly, OptionalLong.empty());
    }

    /**
     * Whether {@code s} names a store by URI: one with an authority part
     * ({@code scheme://...}: a letter, then letters, digits, '+', '-' or '.',
     * then "://", RFC 3986), or one without ({@code rbd:pool/image}) whose
     * scheme an engine serves and whose rest is not an absolute path (which
     * {@code engine:/path} gives an engine).
     */
    public static boolean isUri(String s) {
        if (s == null) {
            return false;
        }
        if (URI.matcher(s).find()) {
            return true;
        }
        int colon = s.indexOf(':');
        return colon > 0 && !s.startsWith("/", colon + 1) && OPAQUE.matcher(s.substring(0, colon)).matches()
                && Storages.engineForScheme(scheme(s)) != null;
    }

    /** The scheme of a URI {@link #isUri} accepts, lower case. */
    public static String scheme(String uri) {
        return uri.substring(0, uri.indexOf(':')).toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The engine that serves {@code uri}'s scheme.
     *
     * @param where how the user gave the URI, for the message ("target 'nbd://...'")
     * @throws IllegalArgumentException when no engine serves it, naming the scheme and the engines
     */
    public static String engineForUri(String uri, String where) {
        String scheme = scheme(uri);
        String engine = Storages.engineForScheme(scheme);
        if (engine == null) {
            throw new IllegalArgumentException("no storage engine serves " + scheme + ":// URIs (" + where
                    + "; engines: " + String.join(", ", Storages.engines()) + ")");
        }
        return engine;
    }

    /** What the disk is, for messages: the image, the URI, or the engine alone. */
    public String source() {
        return path != null ? path.toString() : location != null ? location : engine;
    }

    /** A discard disk of {@code sizeBytes} bytes (a multiple of 512). */
    public static StorageSpec discard(long sizeBytes) {
        return new StorageSpec(DiscardStorage.NAME, null, null, false, OptionalLong.of(sizeBytes));
    }

    /**
     * A disk target as xl's {@code target=} or our {@code params} node gives it:
     * {@code [engine:]/absolute/path} (engine {@code file} when none is named),
     * {@code [engine:]scheme://...} or {@code scheme:...} (the engine that serves the
     * scheme when none is named: {@code nbd://host/export}, {@code rbd:pool/image}),
     * or {@code discard}.
     * @throws IllegalArgumentException naming the target and what is wrong with it
     */
    public static StorageSpec parse(String target, boolean readOnly) {
        String t = target == null ? "" : target.trim();
        if (t.equals(DiscardStorage.NAME)) {
            return discard(DEFAULT_DISCARD_SIZE);
        }
        if (isUri(t)) {
            return uri(engineForUri(t, "target '" + target + "'"), t, readOnly);
        }
        String engine = "file";
        String path = t;
        int colon = t.indexOf(':');
        if (colon > 0 && t.substring(0, colon).matches("[A-Za-z0-9_.+-]+")) {
            engine = t.substring(0, colon);
            path = t.substring(colon + 1);
            if (!Storages.engines().contains(engine)) {
                throw new IllegalArgumentException("unknown storage engine '" + engine + "' in target '" + target
                        + "' (engines: " + String.join(", ", Storages.engines()) + "; write [engine:]/path/to/image or [engine:]scheme://...)");
            }
        }
        if (path.isEmpty()) {
            throw new IllegalArgumentException("target '" + target + "' names no image (write [engine:]/path/to/image or [engine:]scheme://...)");
        }
        if (isUri(path)) {
            return uri(engine, path, readOnly);
        }
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("image '" + path + "' in target '" + target
                    + "' is not an absolute path (write [engine:]/path/to/image or [engine:]scheme://...)");
        }
        return of(engine, Path.of(path), readOnly);
    }

    /**
     * The disk as {@link #parse} reads it back: "engine:path", "engine:uri",
     * the location alone when it names its engine already ({@code rbd:pool/image},
     * not "rbd:rbd:pool/image"), or the engine alone for discard.
     */
    public String target() {
        if (path == null && location == null) {
            return engine;
        }
        if (location != null && location.startsWith(engine + ":") && !URI.matcher(location).find()) {
            return location;
        }
        return engine + ":" + source();
    }

    /** The target, with the size of a discard disk, for log lines and messages. */
    @Override
    public String toString() {
        return (path == null && location == null ? engine + ":" + sizeBytes.orElse(DEFAULT_DISCARD_SIZE) + "B" : target())
                + (readOnly ? " (read-only)" : "");
    }
}
