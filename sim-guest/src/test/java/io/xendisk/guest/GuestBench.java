package io.xendisk.guest;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.xendisk.blkif.Abi;
import io.xendisk.storage.IoEngine;
import io.xendisk.storage.StorageSpec;
import io.xendisk.storage.Storages;
import io.xendisk.xen.sim.domain.GuestControl;

/**
 * The workload matrix of TESTING.md over the simulated platform, printed, not
 * asserted: sequential 1 MiB and random 4 KiB at queue depths 1/8/32, read
 * and write, the backend (VbdBackend + BlkifConnector) in this JVM and the
 * guest in this JVM ({@code inproc}) or in its own ({@code process}, as in
 * production).
 *
 * <p>Run: {@code mvn -o -q -pl sim-guest -am test-compile}, then
 * {@code java -cp backend-daemon/target/classes:sim-guest/target/classes:sim-guest/target/test-classes:JARS
 * io.xendisk.guest.GuestBench [inproc|process] [discard|file|mmap] [sizeMiB=256] [seconds=2]}
 * (JARS: jna, log4j-api, log4j-core from ~/.m2). Everything lives under /dev/shm.
 */
public final class GuestBench {
    private static final int XVDB = 51728;

    private GuestBench() {
    }

    public static void main(String[] args) throws Exception {
        boolean process = args.length > 0 && args[0].equals("process");
        String engine = args.length > 1 ? args[1] : "discard";
        long size = (args.length > 2 ? Long.parseLong(args[2]) : 256) << 20;
        String seconds = args.length > 3 ? args[3] : "2";
        try (SimBackend platform = new SimBackend(Path.of("/dev/shm"))) {
            IoEngine storage;
            if (engine.equals("discard")) {
                storage = Storages.open(StorageSpec.discard(size));
            } else {
                Path img = platform.dir.resolve("bench.img");
                try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
                    f.setLength(size);
                }
                storage = Storages.open(StorageSpec.of(engine, img, false));
            }
            List<String> commands = new ArrayList<>();
            commands.add("run xvdb seq-write --bs 1M");
            commands.add("run xvdb seq-read --bs 1M");
            for (int qd : new int[] {1, 8, 32}) {
                commands.add("run xvdb rand-read --bs 4k --qd " + qd + " --time " + seconds);
                commands.add("run xvdb rand-write --bs 4k --qd " + qd + " --time " + seconds);
            }
            System.out.printf("guest %s, storage %s (%d MiB) in /dev/shm, backend in this JVM%n",
                    process ? "in its own JVM" : "in this JVM", engine, size >> 20);
            Process proc = null;
            Guest guest = null;
            Path control;
            int domid;
            if (process) {
                String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
                proc = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), GuestMain.class.getName(),
                        "--name", "bench", "--xenstore", platform.socket().toString(), "--simdir",
                        platform.simdir.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
                BufferedReader out = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8));
                String ready = out.readLine();
                domid = Integer.parseInt(ready.split(" ")[3]);
                control = GuestControl.socket(platform.simdir, domid);
            } else {
                guest = Guest.start(new Guest.Config("bench", platform.socket(), platform.simdir, 64, Abi.X86_64, null));
                domid = guest.domid();
                control = guest.controlSocket();
            }
            SimBackend.Disk disk = platform.addDisk(domid, XVDB, storage, false);
            SimBackend.await(() -> "4".equals(platform.read(disk.fe + "/state")), "connected");
            // warm-up (JIT)
            GuestControl.send(control, "run xvdb seq-write --bs 1M");
            for (String c : commands) {
                GuestControl.Reply r = GuestControl.send(control, c);
                System.out.println(r.ok() ? r.text() : c + ": ERROR " + r.error());
            }
            System.out.printf("backend: %d batches, mean batch %.2f, %d notifications%n",
                    disk.stats.batches(), disk.stats.meanBatch(), disk.stats.notifications());
            if (proc != null) {
                proc.destroy();
                proc.waitFor(30, TimeUnit.SECONDS);
            } else {
                guest.close();
            }
            Files.deleteIfExists(platform.dir.resolve("bench.img"));
        }
    }
}
