package io.xendisk.xen;

/** An event channel could not be bound or used: names the domain and port. */
public class EventChannelException extends RuntimeException {
    public EventChannelException(String message) {
        super(message);
    }

    public EventChannelException(String message, Throwable cause) {
        super(message, cause);
    }
}
