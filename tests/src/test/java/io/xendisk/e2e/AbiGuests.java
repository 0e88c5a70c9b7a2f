package io.xendisk.e2e;

import java.util.List;

/**
 * A daemon and two simulated guests, one of each ABI, for the tests that run
 * each case on both: the x86_32 one small and without INDIRECT requests, as a
 * 32-bit guest's blkfront is at its simplest.
 */
final class AbiGuests implements AutoCloseable {
    private static final String[] SMALL_32 = {"--memory-mib", "32", "--max-indirect-segments", "0"};

    final Dist dist;
    final Dist.Guest g64;
    final Dist.Guest g32;

    private AbiGuests(Dist dist, Dist.Guest g64, Dist.Guest g32) {
        this.dist = dist;
        this.g64 = g64;
        this.g32 = g32;
    }

    /** Guests {@code prefix}64 and {@code prefix}32, started with the guest's defaults and the small 32-bit one. */
    static AbiGuests start(String prefix) throws Exception {
        return start(prefix, new String[0], SMALL_32);
    }

    /** Guests {@code prefix}64 and {@code prefix}32 with these {@code sim guest} options. */
    static AbiGuests start(String prefix, String[] options64, String[] options32) throws Exception {
        Dist.assertBuilt("bin/xen-disk-java");
        Tools.requireXenstoreUtils();
        Dist dist = new Dist();
        try {
            Dist.Guest g64 = dist.guest(prefix + "64", options64);
            String[] o32 = new String[options32.length + 2];
            o32[0] = "--abi";
            o32[1] = "x86_32";
            System.arraycopy(options32, 0, o32, 2, options32.length);
            return new AbiGuests(dist, g64, dist.guest(prefix + "32", o32));
        } catch (Exception | Error e) {
            dist.close();
            throw e;
        }
    }

    /** The guest of {@code abi}: "x86_64" or "x86_32". */
    Dist.Guest of(String abi) {
        return abi.equals("x86_64") ? g64 : g32;
    }

    @Override
    public void close() throws Exception {
        try {
            dist.stopAll(List.of(g64, g32));
        } finally {
            dist.close();
        }
    }
}
