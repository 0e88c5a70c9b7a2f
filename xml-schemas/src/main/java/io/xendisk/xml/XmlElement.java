package io.xendisk.xml;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A read-only element tree with the position of each start tag, so checks
 * made after schema validation can still name a line.
 *
 * @param namespace  namespace URI, "" for none
 * @param name       local name
 * @param attributes unqualified attributes by name
 * @param text       the element's own character data, untrimmed
 * @param children   child elements in document order
 * @param line       line of the start tag's end (as SAX reports it)
 * @param column     column of the start tag's end
 */
public record XmlElement(String namespace, String name, Map<String, String> attributes, String text,
                         List<XmlElement> children, int line, int column) {
    public XmlElement {
        attributes = Map.copyOf(attributes);
        children = List.copyOf(children);
    }

    /** The first child named {@code name} in any namespace. */
    public Optional<XmlElement> child(String name) {
        return children.stream().filter(c -> c.name.equals(name)).findFirst();
    }

    /** All children named {@code name} in any namespace. */
    public List<XmlElement> children(String name) {
        return children.stream().filter(c -> c.name.equals(name)).toList();
    }

    public Optional<String> attribute(String name) {
        return Optional.ofNullable(attributes.get(name));
    }
}
