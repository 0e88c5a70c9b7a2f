package io.xendisk.daemon;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import io.xendisk.api.ControlPaths;
import io.xendisk.api.JavaCommand;
import io.xendisk.api.LogTail;
import io.xendisk.xen.sim.domain.GuestControl;
import io.xendisk.xen.sim.domain.GuestProgram;
import io.xendisk.xen.sim.domain.SimPaths;

/**
 * Simulated guests as separate processes, started detached like the sim
 * xenstored so they outlive the CLI; each logs to {@code guest-NAME.log} in
 * the log directory. The guest program is another module's: it is started
 * by its class name ({@link GuestProgram#MAIN_CLASS}) from the class path
 * and spoken to through {@link GuestControl}, so the daemon is built without it.
 */
public final class SimGuests {
    private static final Logger LOG = LogManager.getLogger(SimGuests.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final long START_TIMEOUT_MS = 30_000;
    private static final long STOP_TIMEOUT_MS = 15_000;

    /** A running guest: name, domain id, process id. */
    public record Guest(String name, int domid, long pid) {
    }

    private final ControlPaths paths;

    public SimGuests(ControlPaths paths) {
        this.paths = paths;
    }

    /** Starts guest {@code name} and waits until it is ready (its domain exists in xenstore). */
    public synchronized Guest start(String name, int memoryMib, String abi, int maxIndirectSegments)
            throws SimXenstoredProcess.SimException {
        return start(name, memoryMib, abi, maxIndirectSegments, 1);
    }

    /** The same, with frontends that set up to {@code queues} rings per disk. */
    public synchronized Guest start(String name, int memoryMib, String abi, int maxIndirectSegments, int queues)
            throws SimXenstoredProcess.SimException {
        return start(name, memoryMib, abi, maxIndirectSegments, queues, 0);
    }

    /** The same, with rings of up to 2^{@code ringPageOrder} pages. */
    public synchronized Guest start(String name, int memoryMib, String abi, int maxIndirectSegments, int queues,
                                    int ringPageOrder) throws SimXenstoredProcess.SimException {
        if (!NAME.matcher(name).matches()) {
            throw new SimXenstoredProcess.SimException("'" + name + "' is not a usable guest name: letters, digits, '.', '_', '-'");
        }
        if (find(name).isPresent()) {
            throw new SimXenstoredProcess.SimException("a simulated guest named '" + name + "' is already running");
        }
        Path log = paths.logDir().resolve("guest-" + name + ".log");
        if (!available()) {
            throw new SimXenstoredProcess.SimException("the simulated guest (" + GuestProgram.MAIN_CLASS
                    + ") is not on the class path; the distribution ships it as lib/sim-guest-*.jar");
        }
        List<String> args = GuestProgram.args(name, paths.simXenstoredSocket(), paths.simDir(), memoryMib, abi,
                maxIndirectSegments, queues, ringPageOrder);
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid");
        cmd.addAll(JavaCommand.of(List.of("-XX:+UseSerialGC", "-Xshare:auto"), GuestProgram.MAIN_CLASS, args));
        long startOffset;
        Process p;
        try {
            Files.createDirectories(paths.logDir());
            startOffset = Files.exists(log) ? Files.size(log) : 0;
            p = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new SimXenstoredProcess.SimException("cannot start guest " + name + ": " + e);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
        while (System.nanoTime() < deadline) {
            Optional<GuestProgram.Ready> ready = GuestProgram.findReady(since(log, startOffset));
            if (ready.isPresent()) {
                LOG.info("sim guest {} started: domain {}, pid {}", name, ready.get().domid(), p.pid());
                return new Guest(name, ready.get().domid(), p.pid());
            }
            if (!p.isAlive()) {
                throw new SimXenstoredProcess.SimException("guest " + name + " exited with status " + p.exitValue()
                        + " before it was ready; last lines of " + log + ":\n" + LogTail.of(log, 15));
            }
            SimXenstoredProcess.sleep(50);
        }
        p.destroy();
        throw new SimXenstoredProcess.SimException("guest " + name + " was not ready within " + START_TIMEOUT_MS / 1000
                + " s; see " + log);
    }

    /** Running guests, from the domain directories they keep. */
    public List<Guest> list() {
        List<Guest> out = new ArrayList<>();
        try {
            for (int domid : SimPaths.guestDomids(paths.simDir())) {
                Optional<ProcessHandle> proc = process(domid);
                String name = read(SimPaths.domain(paths.simDir(), domid).resolve(SimPaths.NAME)).orElse("?");
                proc.ifPresent(h -> out.add(new Guest(name, domid, h.pid())));
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    public Optional<Guest> find(String nameOrDomid) {
        return list().stream().filter(g -> g.name().equals(nameOrDomid) || Integer.toString(g.domid()).equals(nameOrDomid))
                .findFirst();
    }

    /** Shuts a guest down with SIGTERM (it closes its disks and leaves xenstore), SIGKILL after a timeout. */
    public synchronized Guest destroy(String nameOrDomid) throws SimXenstoredProcess.SimException {
        Guest g = find(nameOrDomid).orElseThrow(() -> new SimXenstoredProcess.SimException(
                "no simulated guest '" + nameOrDomid + "' is running (see 'xen-disk-java sim guests')"));
        ProcessHandle h = ProcessHandle.of(g.pid()).orElse(null);
        if (h != null) {
            h.destroy();
            if (!SimXenstoredProcess.awaitExit(h, STOP_TIMEOUT_MS)) {
                LOG.warn("guest {} (pid {}) ignored SIGTERM; killing it", g.name(), g.pid());
                h.destroyForcibly();
                SimXenstoredProcess.awaitExit(h, STOP_TIMEOUT_MS);
            }
        }
        return g;
    }

    /** The control socket of a running guest, for workloads. */
    public Path controlSocket(String nameOrDomid) {
        OptionalInt d = nameOrDomid.matches("\\d+") ? OptionalInt.of(Integer.parseInt(nameOrDomid))
                : GuestControl.findDomid(paths.simDir(), nameOrDomid);
        if (d.isEmpty()) {
            throw new IllegalArgumentException("no simulated guest named '" + nameOrDomid + "'");
        }
        return GuestControl.socket(paths.simDir(), d.getAsInt());
    }

    /** Whether the guest program is on our class path (it is another module's jar). */
    static boolean available() {
        try {
            Class.forName(GuestProgram.MAIN_CLASS, false, SimGuests.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private Optional<ProcessHandle> process(int domid) {
        return read(SimPaths.pid(paths.simDir(), domid)).flatMap(s -> {
            try {
                return ProcessHandle.of(Long.parseLong(s));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }).filter(ProcessHandle::isAlive);
    }

    private static Optional<String> read(Path f) {
        try {
            return Optional.of(Files.readString(f, StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String since(Path log, long offset) {
        try {
            byte[] all = Files.readAllBytes(log);
            return offset >= all.length ? "" : new String(all, (int) offset, all.length - (int) offset, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
