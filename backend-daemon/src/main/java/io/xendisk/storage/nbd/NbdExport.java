package io.xendisk.storage.nbd;

import java.util.ArrayList;
import java.util.List;

/**
 * What the server told of the export it opened for us: its size, its
 * transmission flags and its block size constraints (NBD_INFO_BLOCK_SIZE, or
 * the protocol's defaults when the server sent none).
 *
 * @param name              the export name asked for
 * @param size              the size in bytes, a multiple of 512
 * @param transmissionFlags the 16 transmission flags (NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY, ...)
 * @param minimumBlock      the smallest length and alignment of requests (a power of 2, 1 by default)
 * @param preferredBlock    the size from which requests are efficient (4096 by default)
 * @param maximumPayload    the largest read or write payload the server takes (32 MiB by default)
 * @param blockSizeSent     whether the server sent NBD_INFO_BLOCK_SIZE
 * @param negotiatedByGo    false when an old server made us fall back to NBD_OPT_EXPORT_NAME
 * @param structuredReplies whether the server agreed to structured replies (NBD_OPT_STRUCTURED_REPLY): a
 *                          read's data may then come in chunks, in any order, holes as mere lengths
 */
public record NbdExport(String name, long size, int transmissionFlags, int minimumBlock, int preferredBlock,
                        long maximumPayload, boolean blockSizeSent, boolean negotiatedByGo,
                        boolean structuredReplies) {

    /** The server takes NBD_CMD_FLUSH (NBD_FLAG_SEND_FLUSH). */
    public boolean canFlush() {
        return has(NbdProtocol.FLAG_SEND_FLUSH);
    }

    /** The server honours NBD_CMD_FLAG_FUA on writes (NBD_FLAG_SEND_FUA). */
    public boolean canFua() {
        return has(NbdProtocol.FLAG_SEND_FUA);
    }

    /** The server takes NBD_CMD_TRIM (NBD_FLAG_SEND_TRIM). */
    public boolean canTrim() {
        return has(NbdProtocol.FLAG_SEND_TRIM);
    }

    /** The server takes NBD_CMD_WRITE_ZEROES (NBD_FLAG_SEND_WRITE_ZEROES). */
    public boolean canWriteZeroes() {
        return has(NbdProtocol.FLAG_SEND_WRITE_ZEROES);
    }

    /**
     * Several connections to this export see each other's flushed writes
     * (NBD_FLAG_CAN_MULTI_CONN); without it one connection must carry all I/O.
     */
    public boolean canMultiConn() {
        return has(NbdProtocol.FLAG_CAN_MULTI_CONN);
    }

    /** The server fails writes (NBD_FLAG_READ_ONLY). */
    public boolean readOnly() {
        return has(NbdProtocol.FLAG_READ_ONLY);
    }

    /** The export says it is a rotational medium (NBD_FLAG_ROTATIONAL). */
    public boolean rotational() {
        return has(NbdProtocol.FLAG_ROTATIONAL);
    }

    private boolean has(int flag) {
        return (transmissionFlags & flag) != 0;
    }

    /** For logs: size, flags by name and block sizes. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(size).append(" B");
        if (readOnly()) {
            sb.append(", read-only");
        }
        sb.append(", flush ").append(canFlush() ? "yes" : "no")
                .append(", fua ").append(canFua() ? "yes" : "no")
                .append(", trim ").append(canTrim() ? "yes" : "no")
                .append(", write-zeroes ").append(canWriteZeroes() ? "yes" : "no")
                .append(", multi-conn ").append(canMultiConn() ? "yes" : "no")
                .append(", flags 0x").append(Integer.toHexString(transmissionFlags))
                .append(", blocks ").append(minimumBlock).append('/').append(preferredBlock).append('/')
                .append(maximumPayload).append(blockSizeSent ? "" : " (defaults)");
        if (!negotiatedByGo) {
            sb.append(", via NBD_OPT_EXPORT_NAME");
        }
        sb.append(structuredReplies ? ", structured replies" : ", simple replies");
        return sb.toString();
    }

    /**
     * What a server that answers again no longer offers of what this export
     * did, such that requests made for this one cannot go to {@code now}; null
     * when they can. Requests were sized and aligned for this export, so the
     * size must be the same, the minimum block may only shrink to a divisor,
     * and the payload may not fall below {@code largestSent}.
     */
    public String lostIn(NbdExport now, long largestSent) {
        List<String> lost = new ArrayList<>();
        if (now.size != size) {
            lost.add("its size was " + size + " B and is now " + now.size + " B");
        }
        if (now.readOnly() && !readOnly()) {
            lost.add("it is now read-only");
        }
        String[] names = {"flush", "FUA", "trim", "write zeroes"};
        boolean[] had = {canFlush(), canFua(), canTrim(), canWriteZeroes()};
        boolean[] has = {now.canFlush(), now.canFua(), now.canTrim(), now.canWriteZeroes()};
        for (int i = 0; i < names.length; i++) {
            if (had[i] && !has[i]) {
                lost.add("it no longer offers " + names[i]);
            }
        }
        if (minimumBlock % now.minimumBlock != 0) {
            lost.add("its minimum block was " + minimumBlock + " B and is now " + now.minimumBlock + " B");
        }
        if (now.maximumPayload < largestSent) {
            lost.add("its largest payload is now " + now.maximumPayload + " B, below the " + largestSent
                    + " B sent before");
        }
        return lost.isEmpty() ? null : String.join(", ", lost);
    }
}
