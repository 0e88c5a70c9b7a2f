package io.xendisk.xen.store;

import java.util.ArrayList;
import java.util.List;

/**
 * One xenstore permission entry as on the wire: a letter (n none, r read, w write,
 * b both) and a domid, e.g. "r5". In a list the first entry names the owner and
 * the access every domain not listed gets.
 */
public record XsPerm(int domid, Access access) {
    public enum Access {
        NONE('n'), READ('r'), WRITE('w'), BOTH('b');

        public final char letter;

        Access(char letter) {
            this.letter = letter;
        }

        public boolean canRead() {
            return this == READ || this == BOTH;
        }

        public boolean canWrite() {
            return this == WRITE || this == BOTH;
        }

        public static Access of(char c) {
            for (Access a : values()) {
                if (a.letter == c) {
                    return a;
                }
            }
            return null;
        }
    }

    public String wire() {
        return access.letter + Integer.toString(domid);
    }

    /** Parses "r5"; returns null when the entry is malformed. */
    public static XsPerm parse(String s) {
        if (s.length() < 2) {
            return null;
        }
        Access a = Access.of(s.charAt(0));
        if (a == null) {
            return null;
        }
        try {
            int d = Integer.parseInt(s.substring(1));
            return d < 0 || d > 0xFFFF ? null : new XsPerm(d, a);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Parses a list of entries; null when any is malformed or the list is empty. */
    public static List<XsPerm> parseAll(List<String> parts) {
        List<XsPerm> out = new ArrayList<>();
        for (String p : parts) {
            XsPerm x = parse(p);
            if (x == null) {
                return null;
            }
            out.add(x);
        }
        return out.isEmpty() ? null : out;
    }
}
