package io.xendisk.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.xendisk.api.ControlRequest;
import io.xendisk.api.ControlResponse;

/**
 * {@code xen-disk-java demo}: the seed's walkthrough on the simulated
 * platform. A gold image with recognisable content is served copy-on-write
 * to a simulated guest, which writes and verifies; after disconnect the gold
 * image is unchanged. Then an mmap'd image keeps what the guest wrote, as a
 * second connection proves. Every step is an ordinary CLI verb, printed as
 * such, so the demo doubles as a tutorial.
 */
final class Demo {
    static final String MARKER = "xen-disk-java demo gold image: if a guest reads this, the disk works";
    private static final String GUEST = "demo-vm";
    private static final long IMAGE_BYTES = 64L << 20;

    /** Sends one request to the daemon (starting it when needed) and returns its answer. */
    interface Daemon {
        ControlResponse call(ControlRequest request) throws IOException;
    }

    private final Daemon daemon;
    private final PrintStream out;
    private final PrintStream err;
    private final Path dir;
    private final List<String> results = new ArrayList<>();

    Demo(Daemon daemon, PrintStream out, PrintStream err, Path dir) {
        this.daemon = daemon;
        this.out = out;
        this.err = err;
        this.dir = dir;
    }

    int run() throws IOException {
        Files.createDirectories(dir);
        Path gold = dir.resolve("gold.img");
        Path persistent = dir.resolve("persistent.img");
        out.println("== xen-disk-java demo on the simulated Xen platform (images in " + dir + ")");
        makeGoldImage(gold);
        String goldBefore = sha256(gold);
        out.println("made " + gold + " (" + (IMAGE_BYTES >> 20) + " MiB, marker at offset 0), sha256 " + goldBefore);

        if (step("sim", List.of("guests"), Map.of()).stdout().contains(GUEST + " ")) {
            step("sim", List.of("destroy", GUEST), Map.of());
        }
        if (!ok(step("sim", List.of("guest", GUEST), Map.of()))) {
            return ControlResponse.FAILED;
        }
        try {
            out.println();
            out.println("== 1. copy-on-write: the guest's changes vanish on disconnect (the VDI case)");
            if (!ok(step("connect", List.of(GUEST), Map.of("path", gold.toString(), "storage", "cow", "vdev", "xvdb")))) {
                return ControlResponse.FAILED;
            }
            ControlResponse marker = step("sim", List.of("run", GUEST, "xvdb", "read-at", "0", "1"), Map.of());
            boolean sawMarker = asciiColumn(marker.stdout()).startsWith(MARKER);
            out.println(sawMarker ? "the guest read the gold image's marker at offset 0" : "the guest did NOT read the marker");
            boolean verified = ok(step("sim", List.of("run", GUEST, "xvdb", "verify", "--size", "16M", "--seed", "1"), Map.of()));
            throughput("cow", "seq-read", "--bs", "1M", "--size", "64M");
            throughput("cow", "rand-read", "--bs", "4k", "--qd", "32", "--time", "2");
            step("disconnect", List.of(GUEST, "xvdb"), Map.of());
            String goldAfter = sha256(gold);
            boolean unchanged = goldAfter.equals(goldBefore);
            out.println("gold image sha256 after the guest wrote 16 MiB: " + goldAfter
                    + (unchanged ? "  (unchanged)" : "  (CHANGED!)"));

            out.println();
            out.println("== 2. mmap: the guest's writes persist in the image");
            Files.copy(gold, persistent, StandardCopyOption.REPLACE_EXISTING);
            String before = sha256(persistent);
            if (!ok(step("connect", List.of(GUEST), Map.of("path", persistent.toString(), "storage", "mmap", "vdev", "xvdb")))) {
                return ControlResponse.FAILED;
            }
            boolean wrote = ok(step("sim", List.of("run", GUEST, "xvdb", "verify", "--size", "16M", "--seed", "7"), Map.of()));
            throughput("mmap", "seq-write", "--bs", "1M", "--size", "32M", "--offset", "32M");
            step("disconnect", List.of(GUEST, "xvdb"), Map.of());
            String after = sha256(persistent);
            out.println("image sha256 before " + before + ", after " + after + (after.equals(before) ? "  (UNCHANGED!)" : "  (changed)"));
            out.println("-- a fresh connection reads back what the guest wrote before:");
            step("connect", List.of(GUEST), Map.of("path", persistent.toString(), "storage", "file", "vdev", "xvdb"));
            boolean persisted = ok(step("sim", List.of("run", GUEST, "xvdb", "verify", "--size", "16M", "--seed", "7", "--read-only"), Map.of()));
            step("disconnect", List.of(GUEST, "xvdb"), Map.of());

            out.println();
            out.println("== guest throughput (simulated guest <-> daemon, separate processes, shared memory)");
            for (String r : results) {
                out.println("  " + r);
            }
            boolean all = sawMarker && verified && unchanged && wrote && !after.equals(before) && persisted;
            out.println();
            out.println(all ? "demo OK: marker read, cow left the gold image unchanged, mmap kept the guest's data"
                    : "demo FAILED: marker " + sawMarker + ", cow verify " + verified + ", gold unchanged " + unchanged
                    + ", mmap verify " + wrote + ", persisted " + persisted);
            return all ? ControlResponse.OK : ControlResponse.FAILED;
        } finally {
            step("sim", List.of("destroy", GUEST), Map.of());
        }
    }

    private void throughput(String engine, String workload, String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of("run", GUEST, "xvdb", workload));
        a.addAll(List.of(args));
        ControlResponse r = step("sim", a, Map.of());
        String line = r.stdout().lines().filter(l -> l.startsWith(workload)).findFirst().orElse("");
        results.add(String.format("%-5s %-10s %s", engine, workload, pick(line, "MB/s=", "IOPS=", "lat_p50_us=", "lat_p99_us=")));
    }

    /** The text of a {@code hexdump -C} listing: its |...| columns joined. */
    static String asciiColumn(String hexdump) {
        StringBuilder sb = new StringBuilder();
        hexdump.lines().forEach(l -> {
            int a = l.indexOf('|');
            int b = l.lastIndexOf('|');
            if (a >= 0 && b > a) {
                sb.append(l, a + 1, b);
            }
        });
        return sb.toString();
    }

    private static String pick(String line, String... keys) {
        StringBuilder sb = new StringBuilder();
        for (String k : keys) {
            int i = line.indexOf(" " + k);
            if (i >= 0) {
                int e = line.indexOf(' ', i + 1);
                sb.append(line, i + 1, e < 0 ? line.length() : e).append("  ");
            }
        }
        return sb.toString().trim();
    }

    private ControlResponse step(String verb, List<String> args, Map<String, String> options) throws IOException {
        StringBuilder cmd = new StringBuilder("$ xen-disk-java ").append(verb);
        args.forEach(a -> cmd.append(' ').append(a));
        options.forEach((k, v) -> cmd.append(" --").append(k).append(' ').append(v));
        out.println(cmd);
        ControlResponse r = daemon.call(new ControlRequest(verb, args, options));
        r.stdout().lines().limit(8).forEach(l -> out.println("  " + l));
        r.stderr().lines().forEach(l -> err.println("  " + l));
        return r;
    }

    private static boolean ok(ControlResponse r) {
        return r.exitCode() == ControlResponse.OK;
    }

    /** 64 MiB: the marker in sector 0, then seeded random bytes, so every sector is recognisable. */
    private static void makeGoldImage(Path gold) throws IOException {
        try (FileChannel ch = FileChannel.open(gold, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Random rnd = new Random(42);
            byte[] block = new byte[1 << 20];
            for (long off = 0; off < IMAGE_BYTES; off += block.length) {
                rnd.nextBytes(block);
                if (off == 0) {
                    byte[] m = MARKER.getBytes(StandardCharsets.US_ASCII);
                    System.arraycopy(m, 0, block, 0, m.length);
                    block[m.length] = '\n';
                }
                ByteBuffer b = ByteBuffer.wrap(block);
                while (b.hasRemaining()) {
                    ch.write(b, off + b.position());
                }
            }
        }
    }

    static String sha256(Path f) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                ByteBuffer b = ByteBuffer.allocate(1 << 20);
                while (ch.read(b) > 0) {
                    b.flip();
                    md.update(b);
                    b.clear();
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
