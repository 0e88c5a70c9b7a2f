package io.xendisk.api;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command that starts another JVM on this process's java and class path:
 * how our programs start one another by main class name (the CLI its daemon,
 * the daemon the sim xenstored and simulated guests) without depending on
 * each other's code.
 */
public final class JavaCommand {
    private JavaCommand() {
    }

    /** {@code [java, jvmOptions..., -cp, <our class path>, mainClass, args...]}. */
    public static List<String> of(List<String> jvmOptions, String mainClass, List<String> args) {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        return cmd;
    }
}
