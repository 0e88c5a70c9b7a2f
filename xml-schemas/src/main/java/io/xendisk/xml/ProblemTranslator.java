package io.xendisk.xml;

import org.xml.sax.SAXParseException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Turns the JDK validator's messages ("cvc-complex-type.3.2.2: Attribute
 * 'size' is not allowed to appear in element 'xdj:disk'.") into what is wrong
 * and what to do, using the schema's hints. Only the messages our schemas can
 * produce are mapped; any other passes through without its code.
 */
final class ProblemTranslator {
    private static final Pattern CODE = Pattern.compile("^(cvc-[a-zA-Z.\\-0-9]+): (.*)$", Pattern.DOTALL);
    private static final Pattern ENUMERATION = Pattern.compile("Value '(.*)' is not facet-valid with respect to enumeration '\\[(.*)\\]'.*", Pattern.DOTALL);
    private static final Pattern FACET_VALUE = Pattern.compile("Value '(.*?)'.*", Pattern.DOTALL);
    private static final Pattern DATATYPE = Pattern.compile("'(.*)' is not a valid value for '(.*)'\\..*", Pattern.DOTALL);
    private static final Pattern BAD_ATTRIBUTE_VALUE = Pattern.compile("The value '(.*)' of attribute '(.*)' on element '(.*)' is not valid.*", Pattern.DOTALL);
    private static final Pattern BAD_ELEMENT_VALUE = Pattern.compile("The value '(.*)' of element '(.*)' is not valid.*", Pattern.DOTALL);
    private static final Pattern UNKNOWN_ATTRIBUTE = Pattern.compile("Attribute '(.*)' is not allowed to appear in element '(.*)'\\.", Pattern.DOTALL);
    private static final Pattern MISSING_ATTRIBUTE = Pattern.compile("Attribute '(.*)' must appear on element '(.*)'\\.", Pattern.DOTALL);
    private static final Pattern UNEXPECTED_ONE_OF = Pattern.compile("Invalid content was found starting with element '(.*?)'\\. One of '(.*)' is expected\\.", Pattern.DOTALL);
    private static final Pattern UNEXPECTED_NONE = Pattern.compile("Invalid content was found starting with element '(.*?)'\\. No child element.*", Pattern.DOTALL);
    private static final Pattern NO_DECLARATION = Pattern.compile("Cannot find the declaration of element '(.*)'\\.", Pattern.DOTALL);
    private static final Pattern DUPLICATE_UNIQUE = Pattern.compile("Duplicate unique value \\[(.*)\\] declared.*", Pattern.DOTALL);
    private static final Pattern TEXT_NOT_ALLOWED = Pattern.compile("Element '(.*)' (cannot have character|must have no character).*", Pattern.DOTALL);
    private static final Pattern EXPECTED_NAME = Pattern.compile("(?:\"[^\"]*\":)?([A-Za-z_][\\w.\\-]*)");

    private ProblemTranslator() {
    }

    static List<XmlProblem> translate(String source, XmlSchema schema, List<SAXParseException> errors,
                                      SAXParseException fatal) {
        List<XmlProblem> out = new ArrayList<>();
        for (int i = 0; i < errors.size(); i++) {
            SAXParseException e = errors.get(i);
            SAXParseException next = i + 1 < errors.size() ? errors.get(i + 1) : null;
            if (isFacet(e) && next != null && samePlace(e, next) && names(next)) {
                out.add(valueProblem(source, schema, e, next));
                i++;
            } else {
                out.add(single(source, schema, e));
            }
        }
        if (fatal != null) {
            out.add(new XmlProblem(source, fatal.getLineNumber(), fatal.getColumnNumber(),
                    "not well-formed XML: " + stripDot(fatal.getMessage()), "fix the XML syntax there"));
        }
        out.sort(Comparator.comparingInt(XmlProblem::line).thenComparingInt(XmlProblem::column));
        return out;
    }

    private static boolean isFacet(SAXParseException e) {
        String code = code(e);
        return code.startsWith("cvc-enumeration-valid") || code.startsWith("cvc-pattern-valid")
                || code.startsWith("cvc-maxLength-valid") || code.startsWith("cvc-minLength-valid")
                || code.startsWith("cvc-datatype-valid") || code.startsWith("cvc-minInclusive-valid")
                || code.startsWith("cvc-maxInclusive-valid");
    }

    /** The second message of a value error: it names the attribute or element the facet message lacks. */
    private static boolean names(SAXParseException e) {
        String code = code(e);
        return code.equals("cvc-attribute.3") || code.equals("cvc-type.3.1.3");
    }

    private static boolean samePlace(SAXParseException a, SAXParseException b) {
        return a.getLineNumber() == b.getLineNumber() && a.getColumnNumber() == b.getColumnNumber();
    }

    private static XmlProblem valueProblem(String source, XmlSchema schema, SAXParseException facet,
                                           SAXParseException named) {
        String field;
        String where;
        String value;
        Matcher a = BAD_ATTRIBUTE_VALUE.matcher(text(named));
        Matcher el = BAD_ELEMENT_VALUE.matcher(text(named));
        if (a.matches()) {
            value = a.group(1);
            field = a.group(2);
            where = field + "=\"" + value + "\" on <" + local(a.group(3)) + ">";
        } else if (el.matches()) {
            value = el.group(1);
            field = local(el.group(2));
            where = "<" + field + ">" + value + "</" + field + ">";
        } else {
            return single(source, schema, facet);
        }
        return new XmlProblem(source, facet.getLineNumber(), facet.getColumnNumber(),
                "invalid " + where + reason(facet, value), use(schema, field, facet));
    }

    /** Why a value failed its facet, short. */
    private static String reason(SAXParseException facet, String value) {
        String code = code(facet);
        if (code.startsWith("cvc-enumeration-valid")) {
            return "";
        }
        if (code.startsWith("cvc-maxLength-valid")) {
            return " (too long)";
        }
        if (value.isEmpty()) {
            return " (empty)";
        }
        return "";
    }

    private static String use(XmlSchema schema, String field, SAXParseException facet) {
        XmlSchema.Hint hint = schema.hint(field);
        if (hint != null && !hint.use().isEmpty()) {
            return "use " + hint.use();
        }
        Matcher m = ENUMERATION.matcher(text(facet));
        if (m.matches()) {
            return "use one of " + m.group(2);
        }
        Matcher d = DATATYPE.matcher(text(facet));
        if (d.matches()) {
            return "give a valid " + d.group(2);
        }
        return "";
    }

    private static XmlProblem single(String source, XmlSchema schema, SAXParseException e) {
        int line = e.getLineNumber();
        int col = e.getColumnNumber();
        String code = code(e);
        String text = text(e);
        Matcher m;
        if ((m = UNKNOWN_ATTRIBUTE.matcher(text)).matches()) {
            String element = local(m.group(2));
            XmlSchema.Hint allowed = schema.hint(element);
            return new XmlProblem(source, line, col, "<" + element + "> has no attribute " + m.group(1),
                    "remove it" + (allowed == null ? "" : " (" + allowed.use() + ")"));
        }
        if ((m = MISSING_ATTRIBUTE.matcher(text)).matches()) {
            String attr = m.group(1);
            XmlSchema.Hint hint = schema.hint(attr);
            return new XmlProblem(source, line, col, "<" + local(m.group(2)) + "> lacks " + attr,
                    "add " + attr + "=\"" + (hint == null ? "..." : hint.example()) + "\"");
        }
        if ((m = UNEXPECTED_ONE_OF.matcher(text)).matches()) {
            return unexpected(source, schema, line, col, m.group(1), expectedNames(m.group(2)));
        }
        if ((m = UNEXPECTED_NONE.matcher(text)).matches()) {
            return unexpected(source, schema, line, col, m.group(1), List.of());
        }
        if ((m = NO_DECLARATION.matcher(text)).matches()) {
            String problem = local(m.group(1)).equals(schema.root())
                    ? "<" + m.group(1) + "> is not in namespace " + schema.namespace()
                    : "<" + m.group(1) + "> is not a <" + schema.root() + "> element of namespace " + schema.namespace();
            return new XmlProblem(source, line, col, problem,
                    "write <" + schema.root() + " xmlns=\"" + schema.namespace() + "\"> (any prefix, this namespace URI)");
        }
        if ((m = DUPLICATE_UNIQUE.matcher(text)).matches()) {
            return new XmlProblem(source, line, col, "a second disk with target " + m.group(1),
                    "give each disk its own target (or remove the duplicate)");
        }
        if ((m = TEXT_NOT_ALLOWED.matcher(text)).matches()) {
            return new XmlProblem(source, line, col, "<" + local(m.group(1)) + "> holds text or elements it must not",
                    "remove them" + hintFor(schema, local(m.group(1))));
        }
        if (isFacet(e)) {
            Matcher v = FACET_VALUE.matcher(text);
            return new XmlProblem(source, line, col, "invalid value" + (v.matches() ? " '" + v.group(1) + "'" : "")
                    + ": " + stripDot(text), "");
        }
        return new XmlProblem(source, line, col, code.isEmpty() ? stripDot(text) : stripDot(text), "");
    }

    private static XmlProblem unexpected(String source, XmlSchema schema, int line, int col, String element,
                                         List<String> expected) {
        List<String> named = expectedNames(element); // the JDK writes {"namespace":name} for a namespaced element
        String name = named.isEmpty() ? local(element) : local(named.get(0));
        String problem = "unexpected <" + name + ">";
        if (expected.contains(name)) {
            // same local name, other namespace: a missing prefix or xmlns
            return new XmlProblem(source, line, col, problem + " outside namespace " + schema.namespace(),
                    "write it with the same prefix as its parent (e.g. <xdj:" + name + ">), in namespace "
                            + schema.namespace());
        }
        if (schema.declares(name)) {
            return new XmlProblem(source, line, col, problem + " (given twice, or out of place)",
                    "keep one" + (expected.isEmpty() ? "" : "; expected here: " + tags(expected)));
        }
        return new XmlProblem(source, line, col, problem,
                expected.isEmpty() ? "remove it" : "remove it or fix its name (expected: " + tags(expected) + ")");
    }

    private static String hintFor(XmlSchema schema, String element) {
        XmlSchema.Hint h = schema.hint(element);
        return h == null ? "" : " (" + h.use() + ")";
    }

    /** {@code {"ns":run-dir, "ns":log-dir}} or {@code {run-dir}} → [run-dir, log-dir]. */
    private static List<String> expectedNames(String list) {
        String inner = list.replaceAll("^\\{|\\}$", "");
        return Arrays.stream(inner.split(",\\s*"))
                .map(String::trim)
                .map(s -> {
                    Matcher m = EXPECTED_NAME.matcher(s);
                    return m.matches() ? m.group(1) : s;
                })
                .filter(s -> !s.isEmpty())
                .toList();
    }

    private static String tags(List<String> names) {
        return names.stream().map(n -> "<" + n + ">").collect(Collectors.joining(", "));
    }

    private static String code(SAXParseException e) {
        Matcher m = CODE.matcher(String.valueOf(e.getMessage()));
        return m.matches() ? m.group(1) : "";
    }

    private static String text(SAXParseException e) {
        String msg = String.valueOf(e.getMessage());
        Matcher m = CODE.matcher(msg);
        return m.matches() ? m.group(2) : msg;
    }

    private static String local(String qName) {
        int colon = qName.indexOf(':');
        return colon < 0 ? qName : qName.substring(colon + 1);
    }

    private static String stripDot(String s) {
        String t = String.valueOf(s).strip();
        return t.endsWith(".") ? t.substring(0, t.length() - 1) : t;
    }
}
