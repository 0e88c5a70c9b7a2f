package io.xendisk.blkif;

/**
 * The xenbus device states (xen/io/xenbus.h), written as decimal strings to
 * {@code <dir>/state}. Protocol, not either end's logic: the backend's
 * handshake and the simulated frontend read and write the same values.
 */
public enum XenbusState {
    UNKNOWN, INITIALISING, INIT_WAIT, INITIALISED, CONNECTED, CLOSING, CLOSED, RECONFIGURING, RECONFIGURED;

    public int code() {
        return ordinal();
    }

    /** The name xenbus.h and the Linux logs use: "InitWait", "Connected", ... */
    public String label() {
        return switch (this) {
            case UNKNOWN -> "Unknown";
            case INITIALISING -> "Initialising";
            case INIT_WAIT -> "InitWait";
            case INITIALISED -> "Initialised";
            case CONNECTED -> "Connected";
            case CLOSING -> "Closing";
            case CLOSED -> "Closed";
            case RECONFIGURING -> "Reconfiguring";
            case RECONFIGURED -> "Reconfigured";
        };
    }

    public String wire() {
        return Integer.toString(ordinal());
    }

    /**
     * Parses a state node's value; null when it is not one of "0".."8"
     * (a guest can write anything into its own state node).
     */
    public static XenbusState parse(String value) {
        if (value == null) {
            return null;
        }
        String v = value.trim();
        if (v.length() != 1 || v.charAt(0) < '0' || v.charAt(0) > '8') {
            return null;
        }
        return values()[v.charAt(0) - '0'];
    }
}
