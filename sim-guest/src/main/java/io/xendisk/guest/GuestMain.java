package io.xendisk.guest;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.ConsoleAppender;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.DefaultConfiguration;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilder;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilderFactory;
import org.apache.logging.log4j.core.config.builder.impl.BuiltConfiguration;

import io.xendisk.blkif.Abi;
import io.xendisk.xen.sim.domain.GuestProgram;
import io.xendisk.xen.store.XenStoreException;
import sun.misc.Signal;

/**
 * A simulated guest in its own process ({@link GuestProgram#MAIN_CLASS}, the
 * name the daemon starts it by): a domain whose RAM is a file, with a
 * userspace blkfront for each disk a toolstack gives it.
 * <pre>
 * GuestMain --name NAME --xenstore SOCKET --simdir DIR [--memory-mib 64]
 *           [--abi x86_64|x86_32] [--control SOCKET]
 * </pre>
 * Prints {@code guest NAME domid N ready} on stdout once it is up (logs go to
 * stderr), then serves its control socket until SIGTERM or SIGINT, when it
 * closes its disks, releases the domain and exits 0. Exit 1 when it cannot
 * start, 2 for a wrong command line.
 */
public final class GuestMain {
    static final String USAGE = "usage: xen-disk-java-guest --name NAME --xenstore SOCKET --simdir DIR"
            + " [--memory-mib 64] [--abi x86_64|x86_32] [--control SOCKET]"
            + " [--max-indirect-segments 32] [--queues 1] [--ring-page-order 0]";

    private GuestMain() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        Guest.Config config;
        try {
            config = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("guest: " + e.getMessage() + "\n" + USAGE);
            return 2;
        }
        if (config == null) {
            System.out.println(USAGE);
            return 0;
        }
        logToStderr();
        CountDownLatch stop = new CountDownLatch(1);
        // own handlers instead of a shutdown hook: the JVM would exit 143 on SIGTERM
        for (String sig : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(sig), s -> stop.countDown());
        }
        Guest guest;
        try {
            guest = Guest.start(config);
        } catch (IOException | XenStoreException | IllegalStateException | IllegalArgumentException e) {
            System.err.println("guest " + config.name() + ": cannot start: " + e.getMessage());
            return 1;
        }
        System.out.println(GuestProgram.readyLine(guest.name(), guest.domid()));
        System.out.flush();
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        guest.close();
        return 0;
    }

    /** The configuration, or null for --help. */
    static Guest.Config parse(String[] args) {
        String name = null;
        Path xenstore = null;
        Path simdir = null;
        Path control = null;
        int memory = GuestProgram.DEFAULT_MEMORY_MIB;
        Abi abi = Abi.X86_64;
        int indirect = GuestProgram.DEFAULT_MAX_INDIRECT_SEGMENTS;
        int queues = 1;
        int ringOrder = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                return null;
            }
            String key = a;
            String value;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                key = a.substring(0, eq);
                value = a.substring(eq + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("option " + a + " needs a value");
            }
            switch (key) {
                case GuestProgram.NAME -> name = value;
                case GuestProgram.XENSTORE -> xenstore = Path.of(value);
                case GuestProgram.SIMDIR -> simdir = Path.of(value);
                case GuestProgram.CONTROL -> control = Path.of(value);
                case GuestProgram.MEMORY_MIB -> {
                    try {
                        memory = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--memory-mib '" + value + "' is not a number");
                    }
                }
                case GuestProgram.MAX_INDIRECT_SEGMENTS -> {
                    try {
                        indirect = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--max-indirect-segments '" + value + "' is not a number");
                    }
                }
                case GuestProgram.QUEUES -> {
                    try {
                        queues = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--queues '" + value + "' is not a number");
                    }
                }
                case GuestProgram.RING_PAGE_ORDER -> {
                    try {
                        ringOrder = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--ring-page-order '" + value + "' is not a number");
                    }
                }
                case GuestProgram.ABI -> abi = switch (value) {
                    case "x86_64", "x86_64-abi" -> Abi.X86_64;
                    case "x86_32", "x86_32-abi" -> Abi.X86_32;
                    default -> throw new IllegalArgumentException("--abi '" + value + "': use x86_64 or x86_32");
                };
                default -> throw new IllegalArgumentException("unexpected argument '" + a + "'");
            }
        }
        if (name == null || xenstore == null || simdir == null) {
            throw new IllegalArgumentException("--name, --xenstore and --simdir are required");
        }
        return new Guest.Config(name, xenstore, simdir, memory, abi, control, indirect, queues, ringOrder);
    }

    /** Without a log4j2 configuration: INFO and up to stderr, keeping stdout for the ready line. */
    private static void logToStderr() {
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        if (!(ctx.getConfiguration() instanceof DefaultConfiguration)) {
            return;
        }
        ConfigurationBuilder<BuiltConfiguration> b = ConfigurationBuilderFactory.newConfigurationBuilder();
        b.add(b.newAppender("stderr", "Console")
                .addAttribute("target", ConsoleAppender.Target.SYSTEM_ERR)
                .add(b.newLayout("PatternLayout").addAttribute("pattern", "%d{HH:mm:ss.SSS} %-5level %c{1}: %msg%n")));
        b.add(b.newRootLogger(Level.INFO).add(b.newAppenderRef("stderr")));
        Configurator.reconfigure(b.build());
    }
}
