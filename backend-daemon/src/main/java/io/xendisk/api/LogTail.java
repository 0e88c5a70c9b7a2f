package io.xendisk.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The last lines of a log file, for error messages about a process that died. */
public final class LogTail {
    private LogTail() {
    }

    /** Up to {@code lines} last lines, each indented, or a note that the file is unreadable. */
    public static String of(Path file, int lines) {
        return since(file, 0, lines);
    }

    /**
     * Like {@link #of} but only from byte {@code offset} on, so a message about
     * the process just started does not show an older run's lines.
     */
    public static String since(Path file, long offset, int lines) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            int from = (int) Math.min(Math.max(0, offset), bytes.length);
            String text = new String(bytes, from, bytes.length - from, StandardCharsets.UTF_8);
            List<String> all = text.isEmpty() ? List.of() : List.of(text.split("\n", -1));
            if (!all.isEmpty() && all.get(all.size() - 1).isEmpty()) {
                all = all.subList(0, all.size() - 1);
            }
            StringBuilder sb = new StringBuilder();
            for (String line : all.subList(Math.max(0, all.size() - lines), all.size())) {
                sb.append("  ").append(line).append('\n');
            }
            return sb.length() == 0 ? "  (nothing new in " + file + ")\n" : sb.toString();
        } catch (IOException | RuntimeException e) {
            return "  (cannot read " + file + ": " + e + ")\n";
        }
    }
}
