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
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            StringBuilder sb = new StringBuilder();
            for (String line : all.subList(Math.max(0, all.size() - lines), all.size())) {
                sb.append("  ").append(line).append('\n');
            }
            return sb.length() == 0 ? "  (" + file + " is empty)\n" : sb.toString();
        } catch (IOException | RuntimeException e) {
            return "  (cannot read " + file + ": " + e + ")\n";
        }
    }
}
