package io.xendisk.cli;

/** The command line is wrong (unknown verb or option, missing value); exit status 2. */
public final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}
