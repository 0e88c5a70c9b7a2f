package io.xendisk.backend;

import java.util.Locale;

/** Disk sizes as operators write and read them: 2G, 512M, 4096 (bytes); binary units. */
public final class Sizes {
    private Sizes() {
    }

    /**
     * "4096", "64K", "512M", "2G", "1T" (powers of 1024; "KiB", "MB" and the like too), optionally
     * followed by "B"; a number alone is bytes.
     * @throws IllegalArgumentException saying what a size looks like
     */
    public static long parse(String text) {
        String s = text.trim().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B")) {
            s = s.substring(0, s.length() - 1);
        }
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> { }
            }
            if (shift != 0) {
                s = s.substring(0, s.length() - 1);
            }
        }
        try {
            long n = Long.parseLong(s);
            if (n < 0 || n > Long.MAX_VALUE >> shift) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size: bytes, or a number with K, M, G or T"
                    + " (e.g. 4096, 512M, 2G)");
        }
    }

    /** "2 GiB", "1.5 MiB", "4096 bytes". */
    public static String human(long bytes) {
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return (v == Math.rint(v) ? String.format(Locale.ROOT, "%d %s", (long) v, units[u])
                : String.format(Locale.ROOT, "%.1f %s", v, units[u]));
    }
}
