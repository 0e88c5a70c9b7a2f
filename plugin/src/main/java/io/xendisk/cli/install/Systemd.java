package io.xendisk.cli.install;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** systemctl, when systemd runs this host (tests give a fake). */
interface Systemd {
    /** Whether systemd is the running init (sd_booted(3): /run/systemd/system exists). */
    boolean running();

    /**
     * Runs {@code systemctl ARGS}.
     *
     * @return its combined output; throws when it fails
     */
    String systemctl(String... args) throws IOException;

    /** The host's. */
    static Systemd host() {
        return new Systemd() {
            @Override
            public boolean running() {
                return Files.isDirectory(Path.of("/run/systemd/system"));
            }

            @Override
            public String systemctl(String... args) throws IOException {
                List<String> cmd = new ArrayList<>(List.of("systemctl"));
                cmd.addAll(List.of(args));
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
                try {
                    if (!p.waitFor(60, TimeUnit.SECONDS)) {
                        p.destroyForcibly();
                        throw new IOException(String.join(" ", cmd) + " did not finish within 60 s");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while running " + String.join(" ", cmd), e);
                }
                String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                if (p.exitValue() != 0) {
                    throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + output);
                }
                return output;
            }
        };
    }
}
