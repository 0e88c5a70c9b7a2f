package io.xendisk.xml;

import org.xml.sax.Attributes;
import org.xml.sax.ErrorHandler;
import org.xml.sax.InputSource;
import org.xml.sax.Locator;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;
import org.xml.sax.helpers.DefaultHandler;
import org.xml.sax.helpers.NamespaceSupport;

import javax.xml.parsers.ParserConfigurationException;
import javax.xml.parsers.SAXParser;
import javax.xml.parsers.SAXParserFactory;
import javax.xml.validation.ValidatorHandler;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a whole document into an {@link XmlElement} tree in one SAX pass and
 * validates the subtrees a {@link Selector} picks against a schema on the way.
 * The validator sees the parser's own locator, so its errors carry the line
 * numbers of the document the user gave, even when the subtree is our
 * element deep inside a libvirt domain XML.
 */
final class XmlReader {
    /** Picks the elements whose subtree is validated (not nested inside another picked one). */
    @FunctionalInterface
    interface Selector {
        /**
         * @param ancestors local names from the document element down to the parent ("" for the root's parent)
         */
        boolean validate(List<String> ancestors, String namespace, String localName);
    }

    /** Selects the document element: the whole document is validated. */
    static final Selector ROOT = (ancestors, ns, name) -> ancestors.isEmpty();

    private XmlReader() {
    }

    /**
     * @param xml    the document
     * @param source names it in problems (file name or a label)
     * @throws XmlInvalidException naming each problem with its line, or the syntax error that stopped the parse
     */
    static XmlElement read(String xml, String source, XmlSchema schema, Selector selector) throws XmlInvalidException {
        Collector errors = new Collector();
        Handler handler = new Handler(schema, selector, errors);
        try {
            newParser().parse(new InputSource(new StringReader(xml)), handler);
        } catch (SAXParseException e) {
            errors.fatal(e);
        } catch (SAXException | IOException e) {
            throw new XmlInvalidException(new XmlProblem(source, 0, 0, "cannot read the XML: " + e.getMessage(), ""));
        }
        List<XmlProblem> problems = ProblemTranslator.translate(source, schema, errors.errors, errors.fatal);
        if (!problems.isEmpty()) {
            throw new XmlInvalidException(problems);
        }
        if (handler.root == null) {
            throw new XmlInvalidException(new XmlProblem(source, 0, 0, "the document is empty", "give an XML document"));
        }
        return handler.root;
    }

    private static SAXParser newParser() {
        try {
            SAXParserFactory f = SAXParserFactory.newInstance();
            f.setNamespaceAware(true);
            // libvirt XML and our config never carry a DOCTYPE; refusing it rules out entity tricks
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            f.setFeature("http://xml.org/sax/features/external-general-entities", false);
            f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
            return f.newSAXParser();
        } catch (ParserConfigurationException | SAXException e) {
            throw new IllegalStateException("the JDK's SAX parser lacks a standard feature: " + e.getMessage(), e);
        }
    }

    /** Keeps every validation error (so all problems are reported at once) and the fatal one. */
    private static final class Collector implements ErrorHandler {
        final List<SAXParseException> errors = new ArrayList<>();
        SAXParseException fatal;

        @Override
        public void warning(SAXParseException e) {
            // schema warnings are not errors for the operator
        }

        @Override
        public void error(SAXParseException e) {
            errors.add(e);
        }

        @Override
        public void fatalError(SAXParseException e) {
            fatal(e);
        }

        void fatal(SAXParseException e) {
            if (fatal == null) {
                fatal = e;
            }
        }
    }

    /** A mutable element while it is being read. */
    private static final class Node {
        final String namespace;
        final String name;
        final Map<String, String> attributes;
        final StringBuilder text = new StringBuilder();
        final List<XmlElement> children = new ArrayList<>();
        final int line;
        final int column;

        Node(String namespace, String name, Map<String, String> attributes, int line, int column) {
            this.namespace = namespace;
            this.name = name;
            this.attributes = attributes;
            this.line = line;
            this.column = column;
        }

        XmlElement build() {
            return new XmlElement(namespace, name, attributes, text.toString(), children, line, column);
        }
    }

    private static final class Handler extends DefaultHandler {
        private final XmlSchema schema;
        private final Selector selector;
        private final Collector errors;
        private final Deque<Node> open = new ArrayDeque<>();
        private final List<String> ancestors = new ArrayList<>();
        private final NamespaceSupport prefixes = new NamespaceSupport();
        private final List<String[]> pendingPrefixes = new ArrayList<>();
        private Locator locator;
        private ValidatorHandler validator;
        private int validatedDepth; // 0: outside a validated subtree
        XmlElement root;

        Handler(XmlSchema schema, Selector selector, Collector errors) {
            this.schema = schema;
            this.selector = selector;
            this.errors = errors;
        }

        @Override
        public void setDocumentLocator(Locator locator) {
            this.locator = locator;
        }

        @Override
        public void startPrefixMapping(String prefix, String uri) throws SAXException {
            pendingPrefixes.add(new String[] {prefix, uri});
            if (validatedDepth > 0) {
                validator.startPrefixMapping(prefix, uri);
            }
        }

        @Override
        public void endPrefixMapping(String prefix) throws SAXException {
            if (validatedDepth > 0) {
                validator.endPrefixMapping(prefix);
            }
        }

        @Override
        public void startElement(String uri, String localName, String qName, Attributes atts) throws SAXException {
            prefixes.pushContext();
            for (String[] p : pendingPrefixes) {
                prefixes.declarePrefix(p[0], p[1]);
            }
            pendingPrefixes.clear();
            if (validatedDepth > 0) {
                validatedDepth++;
                validator.startElement(uri, localName, qName, atts);
            } else if (selector.validate(Collections.unmodifiableList(ancestors), uri, localName)) {
                startValidating();
                validatedDepth = 1;
                validator.startElement(uri, localName, qName, atts);
            }
            Map<String, String> attributes = new LinkedHashMap<>();
            for (int i = 0; i < atts.getLength(); i++) {
                if (atts.getURI(i).isEmpty()) {
                    attributes.put(atts.getLocalName(i), atts.getValue(i));
                }
            }
            open.push(new Node(uri, localName, attributes, line(), column()));
            ancestors.add(localName);
        }

        /** A fresh validator per subtree; it sees every prefix in scope, as it would in a document of its own. */
        private void startValidating() throws SAXException {
            validator = schema.schema().newValidatorHandler();
            validator.setErrorHandler(errors);
            try {
                validator.setProperty("http://apache.org/xml/properties/locale", Locale.ENGLISH);
            } catch (SAXException e) {
                // another JAXP implementation: messages stay in its locale, only their translation is lost
            }
            validator.setDocumentLocator(locator);
            validator.startDocument();
            for (var e = prefixes.getPrefixes(); e.hasMoreElements(); ) {
                String prefix = e.nextElement();
                if (!prefix.equals("xml")) {
                    validator.startPrefixMapping(prefix, prefixes.getURI(prefix));
                }
            }
            String defaultNs = prefixes.getURI("");
            if (defaultNs != null) {
                validator.startPrefixMapping("", defaultNs);
            }
        }

        @Override
        public void endElement(String uri, String localName, String qName) throws SAXException {
            if (validatedDepth > 0) {
                validator.endElement(uri, localName, qName);
                if (--validatedDepth == 0) {
                    validator.endDocument();
                    validator = null;
                }
            }
            XmlElement done = open.pop().build();
            ancestors.remove(ancestors.size() - 1);
            prefixes.popContext();
            if (open.isEmpty()) {
                root = done;
            } else {
                open.peek().children.add(done);
            }
        }

        @Override
        public void characters(char[] ch, int start, int length) throws SAXException {
            if (validatedDepth > 0) {
                validator.characters(ch, start, length);
            }
            if (!open.isEmpty()) {
                open.peek().text.append(ch, start, length);
            }
        }

        @Override
        public void ignorableWhitespace(char[] ch, int start, int length) throws SAXException {
            if (validatedDepth > 0) {
                validator.ignorableWhitespace(ch, start, length);
            }
        }

        @Override
        public void error(SAXParseException e) {
            errors.error(e);
        }

        @Override
        public void fatalError(SAXParseException e) throws SAXException {
            throw e;
        }

        private int line() {
            return locator == null ? 0 : locator.getLineNumber();
        }

        private int column() {
            return locator == null ? 0 : locator.getColumnNumber();
        }
    }
}
