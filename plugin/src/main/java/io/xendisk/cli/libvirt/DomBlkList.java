package io.xendisk.cli.libvirt;

import io.xendisk.xml.DomainXml;
import io.xendisk.xml.MetadataDisk;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code domblklist DOMAIN [--inactive]}: our disks of the domain, in a table
 * shaped like virsh's: the live definition while it runs, else (or with
 * --inactive) the persistent one.
 */
public final class DomBlkList {
    private final PrintStream out;

    public DomBlkList(PrintStream out) {
        this.out = out;
    }

    public void run(LibvirtDomain dom, boolean inactive) throws LibvirtFailure {
        Scope scope = inactive || !dom.active() ? Scope.CONFIG : Scope.LIVE;
        if (scope == Scope.CONFIG && !dom.persistent()) {
            throw new LibvirtFailure("domain " + dom.name() + " is transient: it has no persistent config to list"
                    + " (drop --inactive)");
        }
        DomainXml xml = dom.read(scope);
        out.print(table(xml.disks()));
    }

    /** virsh's layout: a leading space, columns padded to the widest cell plus three, a dashed rule. */
    static String table(List<MetadataDisk> disks) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"Target", "Source", "Engine", "Mode"});
        for (MetadataDisk d : disks) {
            rows.add(new String[] {d.target(), d.source() == null ? "-" : d.source(), d.engine().id(), d.mode()});
        }
        int[] width = new int[4];
        for (String[] r : rows) {
            for (int i = 0; i < 4; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        List<String> lines = new ArrayList<>();
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder(" ");
            for (int c = 0; c < 4; c++) {
                line.append(c < 3 ? pad(r[c], width[c] + 3) : r[c]);
            }
            lines.add(line.toString());
        }
        int rule = lines.stream().mapToInt(String::length).max().orElse(0) + 1;
        StringBuilder sb = new StringBuilder(lines.get(0)).append('\n').append("-".repeat(rule)).append('\n');
        lines.subList(1, lines.size()).forEach(l -> sb.append(l).append('\n'));
        return sb.toString();
    }

    private static String pad(String s, int w) {
        return s + " ".repeat(Math.max(0, w - s.length()));
    }
}
