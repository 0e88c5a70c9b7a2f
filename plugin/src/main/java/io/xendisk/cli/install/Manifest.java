package io.xendisk.cli.install;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What install created, so uninstall removes exactly that: files with the
 * SHA-256 they had (a file changed since is the operator's and stays),
 * symbolic links with their target, and directories install made. One entry
 * a line, {@code KIND VALUE PATH}, the path last since it may hold spaces.
 * Paths are as seen on the host (without --root).
 */
final class Manifest {
    enum Kind { FILE, LINK, DIR }

    record Entry(Kind kind, String value, String path) {
        String line() {
            return kind.name().toLowerCase(java.util.Locale.ROOT) + " " + value + " " + path;
        }
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    static Manifest read(Path file) throws IOException {
        Manifest m = new Manifest();
        if (!Files.exists(file)) {
            return m;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            String[] parts = line.split(" ", 3);
            if (parts.length != 3) {
                continue; // hand-edited garbage: uninstall then leaves that thing alone
            }
            try {
                m.add(new Entry(Kind.valueOf(parts[0].toUpperCase(java.util.Locale.ROOT)), parts[1], parts[2]));
            } catch (IllegalArgumentException e) {
                // unknown kind: same
            }
        }
        return m;
    }

    void add(Entry e) {
        entries.remove(e.path()); // re-added entries move to the end: the order stays creation order
        entries.put(e.path(), e);
    }

    Optional<Entry> get(String path) {
        return Optional.ofNullable(entries.get(path));
    }

    void remove(String path) {
        entries.remove(path);
    }

    List<Entry> entries() {
        return new ArrayList<>(entries.values());
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    void write(Path file) throws IOException {
        StringBuilder sb = new StringBuilder("# written by 'xen-disk-java install'; read by 'xen-disk-java uninstall'\n");
        for (Entry e : entries.values()) {
            sb.append(e.line()).append('\n');
        }
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, sb, StandardCharsets.UTF_8);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
