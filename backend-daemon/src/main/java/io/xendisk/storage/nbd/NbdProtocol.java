package io.xendisk.storage.nbd;

/**
 * The numbers of the NBD protocol (NetworkBlockDevice/nbd, doc/proto.md) that
 * this client speaks, and their names for messages. Magic numbers and flags
 * are sent big-endian; the names are the document's own so that a message can
 * be looked up there.
 */
public final class NbdProtocol {
    /** The IANA-assigned port, and the default of an {@code nbd://} URI. */
    public static final int DEFAULT_PORT = 10809;

    // -- handshake
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    /** The second magic of an oldstyle server (cliserv_magic). */
    static final long CLISERV_MAGIC = 0x00420281861253L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;
    static final int FLAG_C_FIXED_NEWSTYLE = 1;
    static final int FLAG_C_NO_ZEROES = 1 << 1;

    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_STARTTLS = 5;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;

    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_FLAG_ERROR = 1 << 31;
    static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
    static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
    static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
    static final int REP_ERR_PLATFORM = REP_FLAG_ERROR | 4;
    static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR | 5;
    static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
    static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
    static final int REP_ERR_BLOCK_SIZE_REQD = REP_FLAG_ERROR | 8;
    static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;

    static final int INFO_EXPORT = 0;
    static final int INFO_BLOCK_SIZE = 3;

    // -- transmission flags (16 bits, sent with the export's size)
    static final int FLAG_HAS_FLAGS = 1;
    static final int FLAG_READ_ONLY = 1 << 1;
    static final int FLAG_SEND_FLUSH = 1 << 2;
    static final int FLAG_SEND_FUA = 1 << 3;
    static final int FLAG_ROTATIONAL = 1 << 4;
    static final int FLAG_SEND_TRIM = 1 << 5;
    static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    static final int FLAG_CAN_MULTI_CONN = 1 << 8;

    // -- transmission
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    static final int REQUEST_HEADER_SIZE = 28;
    static final int SIMPLE_REPLY_SIZE = 16;
    /** A structured reply's header: the simple reply's 16 bytes (magic, flags, type, handle), then the length. */
    static final int STRUCTURED_REPLY_SIZE = 20;

    /** The last chunk of a structured reply. */
    static final int REPLY_FLAG_DONE = 1;
    static final int REPLY_TYPE_NONE = 0;
    static final int REPLY_TYPE_OFFSET_DATA = 1;
    static final int REPLY_TYPE_OFFSET_HOLE = 2;
    /** Chunk types with this bit set carry an error: a 32-bit value, then a message. */
    static final int REPLY_TYPE_FLAG_ERROR = 1 << 15;
    static final int REPLY_TYPE_ERROR = REPLY_TYPE_FLAG_ERROR | 1;
    static final int REPLY_TYPE_ERROR_OFFSET = REPLY_TYPE_FLAG_ERROR | 2;

    static final short CMD_READ = 0;
    static final short CMD_WRITE = 1;
    static final short CMD_DISC = 2;
    static final short CMD_FLUSH = 3;
    static final short CMD_TRIM = 4;
    static final short CMD_WRITE_ZEROES = 6;

    static final short CMD_FLAG_FUA = 1;
    static final short CMD_FLAG_NO_HOLE = 1 << 1;

    // -- the error values of replies, as a Completion reports them
    /** Success. */
    public static final int OK = 0;
    /** NBD_EPERM: a write or trim on a read-only export. */
    public static final int EPERM = 1;
    /** NBD_EIO: the server's I/O failed; also what the client reports when it has no answer. */
    public static final int EIO = 5;
    /** NBD_ENOMEM. */
    public static final int ENOMEM = 12;
    /** NBD_EINVAL: a request the server finds invalid (unaligned, beyond the end, too large). */
    public static final int EINVAL = 22;
    /** NBD_ENOSPC: the server's storage is full. */
    public static final int ENOSPC = 28;
    /** NBD_EOVERFLOW: a request too large for the server. */
    public static final int EOVERFLOW = 75;
    /** NBD_ENOTSUP. */
    public static final int ENOTSUP = 95;
    /** NBD_ESHUTDOWN: the server is shutting down. */
    public static final int ESHUTDOWN = 108;

    /** Payloads up to this many bytes are safe with any server (the protocol's default maximum). */
    public static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    private NbdProtocol() {
    }

    /** {@code NBD_EIO (5)} and the like; unknown values by number. */
    public static String errorName(int error) {
        String name = switch (error) {
            case OK -> "OK";
            case EPERM -> "NBD_EPERM";
            case EIO -> "NBD_EIO";
            case ENOMEM -> "NBD_ENOMEM";
            case EINVAL -> "NBD_EINVAL";
            case ENOSPC -> "NBD_ENOSPC";
            case EOVERFLOW -> "NBD_EOVERFLOW";
            case ENOTSUP -> "NBD_ENOTSUP";
            case ESHUTDOWN -> "NBD_ESHUTDOWN";
            default -> "error";
        };
        return name + " (" + error + ")";
    }

    /** {@code NBD_REP_ERR_POLICY (0x80000002)} and the like. */
    static String replyName(int reply) {
        String name = switch (reply) {
            case REP_ACK -> "NBD_REP_ACK";
            case REP_INFO -> "NBD_REP_INFO";
            case REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
            case REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
            case REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
            case REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
            case REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
            case REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
            case REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
            case REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
            default -> (reply & REP_FLAG_ERROR) != 0 ? "an error reply" : "reply type";
        };
        return name + " (0x" + Integer.toHexString(reply) + ")";
    }

    static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "NBD_CMD_READ";
            case CMD_WRITE -> "NBD_CMD_WRITE";
            case CMD_DISC -> "NBD_CMD_DISC";
            case CMD_FLUSH -> "NBD_CMD_FLUSH";
            case CMD_TRIM -> "NBD_CMD_TRIM";
            case CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
            default -> "command " + type;
        };
    }
}
