package io.xendisk.xml;

/**
 * One thing wrong with an XML document, where it is and how to fix it.
 *
 * @param source what was read: a file name, or a label such as "domain vm1 XML"
 * @param line   1-based line, or 0 when unknown
 * @param column 1-based column, or 0 when unknown
 * @param problem what is wrong, e.g. {@code engine="qcow" is not an engine}
 * @param fix    what to do, e.g. {@code use cow, mmap, file, qcow2, nbd, rbd or discard}; may be empty
 */
public record XmlProblem(String source, int line, int column, String problem, String fix) {
    /** {@code source:LINE:COL: problem; fix}, the form compilers use so editors can jump to it. */
    public String format() {
        StringBuilder sb = new StringBuilder(source);
        if (line > 0) {
            sb.append(':').append(line);
            if (column > 0) {
                sb.append(':').append(column);
            }
        }
        sb.append(": ").append(problem);
        if (!fix.isEmpty()) {
            sb.append("; ").append(fix);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return format();
    }
}
