package io.xendisk.xml;

import java.util.List;
import java.util.stream.Collectors;

/** A document broke its schema or our rules; the message has one {@link XmlProblem#format()} line per problem. */
public final class XmlInvalidException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<XmlProblem> problems;

    public XmlInvalidException(List<XmlProblem> problems) {
        super(problems.stream().map(XmlProblem::format).collect(Collectors.joining("\n")));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("an invalid document has at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public XmlInvalidException(XmlProblem problem) {
        this(List.of(problem));
    }

    public List<XmlProblem> problems() {
        return problems;
    }
}
