package io.xendisk.storage.qcow2;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** Runs QEMU's own tools (Debian's qemu-utils), the judges of our qcow2 images. */
final class QemuImg {
    record Result(int exit, String output) {
    }

    private QemuImg() {
    }

    /** Runs qemu-img with {@code args}; fails the test when it is not installed. */
    static Result img(String... args) {
        return run("qemu-img", args);
    }

    /** Runs qemu-io with {@code args} (writes patterns and zeros into images as QEMU would). */
    static Result io(String... args) {
        return run("qemu-io", args);
    }

    /** Like {@link #img}, and fails the test unless it exits 0. */
    static String ok(String... args) {
        Result r = img(args);
        if (r.exit != 0) {
            fail("qemu-img " + String.join(" ", args) + " exited " + r.exit + ":\n" + r.output);
        }
        return r.output;
    }

    static void qemuIo(Path image, String format, String command) {
        Result r = io("-f", format, "-c", command, image.toString());
        if (r.exit != 0 || r.output.contains("error") || r.output.contains("failed")) {
            fail("qemu-io -c '" + command + "' " + image + " exited " + r.exit + ":\n" + r.output);
        }
    }

    private static Result run(String tool, String... args) {
        Path bin = Path.of("/usr/bin", tool);
        if (!Files.isExecutable(bin)) {
            fail(bin + " is missing: install Debian's qemu-utils (bash .ci/setup does)");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(bin.toString());
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", cmd) + " did not finish in 120 s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError("running " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + cmd, e);
        }
    }
}
