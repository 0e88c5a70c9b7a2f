package io.xendisk.xen.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.xendisk.RequiredTools;
import io.xendisk.xen.store.XsType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Debian's xenstore-utils (libxenstore 4.17) against SimXenstored via XENSTORED_PATH:
 * the real client library is the judge of our wire format. Fails without the tools.
 */
class XenstoreUtilsTest {
    private static final long WAIT_SECONDS = 20;

    /** Exit code and output of one tool run. */
    record Run(int exit, String out, String err) {
    }

    @TempDir
    Path dir;
    private SimXenstored xs;
    private XsTestClient dom0;

    @BeforeEach
    void start() throws IOException {
        RequiredTools.require(Path.of("/usr/bin/xenstore-read"), "xenstore-utils");
        xs = SimXenstored.start(dir.resolve("socket"));
        dom0 = XsTestClient.connect(xs.socketPath());
    }

    @AfterEach
    void stop() throws IOException {
        if (xs != null) {
            dom0.close();
            xs.close();
        }
    }

    private Run run(Path socket, String... cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("XENSTORED_PATH", socket.toString());
        Process p = pb.start();
        if (!p.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish");
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private Run run(String... cmd) throws IOException, InterruptedException {
        return run(xs.socketPath(), cmd);
    }

    @Test
    void writeTwoPathsThenReadListAndExists() throws Exception {
        assertEquals(new Run(0, "", ""), run("/usr/bin/xenstore-write", "/a/b", "1", "/a/c", "two words"));
        assertEquals(new Run(0, "1\ntwo words\n", ""), run("/usr/bin/xenstore-read", "/a/b", "/a/c"));
        assertEquals(new Run(0, "b\nc\n", ""), run("/usr/bin/xenstore-list", "/a"));
        assertEquals(0, run("/usr/bin/xenstore-exists", "/a/b").exit());
        assertEquals(1, run("/usr/bin/xenstore-exists", "/a/missing").exit());
        Run missing = run("/usr/bin/xenstore-read", "/a/missing");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("couldn't read path /a/missing"), missing.err());
    }

    @Test
    void relativePathsAreUnderDom0sHome() throws Exception {
        assertEquals(0, run("/usr/bin/xenstore-write", "name", "Domain-0").exit());
        assertEquals("Domain-0", dom0.read("/local/domain/0/name"));
        assertEquals(new Run(0, "Domain-0\n", ""), run("/usr/bin/xenstore-read", "name"));
    }

    @Test
    void lsShowsValuesAndPermissions() throws Exception {
        run("/usr/bin/xenstore-write", "/a/b", "1", "/a/c", "2");
        Run ls = run("/usr/bin/xenstore-ls", "-f", "/a");
        assertEquals(new Run(0, "/a/b = \"1\"\n/a/c = \"2\"\n", ""), ls);
        Run lsp = run("/usr/bin/xenstore-ls", "-p", "/");
        assertEquals(0, lsp.exit());
        List<String> lines = lsp.out().lines().toList();
        assertEquals(3, lines.size(), lsp.out());
        assertTrue(lines.get(0).startsWith("a = \"\"") && lines.get(0).endsWith("(n0)"), lines.get(0));
        assertTrue(lines.get(1).startsWith(" b = \"1\"") && lines.get(1).endsWith("(n0)"), lines.get(1));
    }

    @Test
    void chmodSetsThePermissionsList() throws Exception {
        run("/usr/bin/xenstore-write", "/a/b", "1");
        assertEquals(new Run(0, "", ""), run("/usr/bin/xenstore-chmod", "/a/b", "n0", "r5"));
        assertEquals("n0\0r5\0", dom0.ok(XsType.GET_PERMS, 0, "/a/b"));
        assertTrue(run("/usr/bin/xenstore-ls", "-p", "/a").out().contains("(n0,r5)"));
    }

    @Test
    void rmRemovesTheSubtree() throws Exception {
        run("/usr/bin/xenstore-write", "/r/a/b", "1", "/r/c", "2");
        assertEquals(new Run(0, "", ""), run("/usr/bin/xenstore-rm", "/r/a"));
        assertEquals(1, run("/usr/bin/xenstore-exists", "/r/a/b").exit());
        assertEquals(new Run(0, "c\n", ""), run("/usr/bin/xenstore-list", "/r"));
        assertEquals(0, run("/usr/bin/xenstore-rm", "/r/gone").exit(), "missing node, existing parent");
        assertEquals(1, run("/usr/bin/xenstore-rm", "/nowhere/at/all").exit());
    }

    @Test
    void longDirectoriesAreListedThroughDirectoryPart() throws Exception {
        for (int i = 0; i < 600; i++) {
            assertEquals("OK\0", dom0.write(String.format("/big/child-%05d", i), ""));
        }
        assertEquals("E2BIG", dom0.error(XsType.DIRECTORY, 0, "/big"), "more than one payload");
        Run list = run("/usr/bin/xenstore-list", "/big"); // libxenstore falls back to DIRECTORY_PART
        assertEquals(0, list.exit(), list.err());
        List<String> names = list.out().lines().toList();
        assertEquals(600, names.size());
        assertEquals("child-00000", names.get(0));
        assertEquals("child-00599", names.get(599));
    }

    @Test
    void watchPrintsTheWatchedPathThenEachChange() throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/xenstore-watch", "-n", "3", "/foo")
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("XENSTORED_PATH", xs.socketPath().toString());
        Process p = pb.start();
        try {
            LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null;) {
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // process gone
                }
            });
            reader.setDaemon(true);
            reader.start();
            // The first line is the initial event: the watch is registered from here on.
            assertEquals("/foo", lines.poll(WAIT_SECONDS, TimeUnit.SECONDS));
            dom0.write("/foo/x", "1");
            dom0.write("/elsewhere", "1");
            dom0.write("/foo", "2");
            List<String> rest = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String l = lines.poll(WAIT_SECONDS, TimeUnit.SECONDS);
                assertNotNull(l, "xenstore-watch printed " + rest);
                rest.add(l);
            }
            assertEquals(List.of("/foo/x", "/foo"), rest);
            assertTrue(p.waitFor(WAIT_SECONDS, TimeUnit.SECONDS), "xenstore-watch -n 3 exits after 3 events");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void anIntroducedDomainIsUnprivilegedOnItsOwnSocket() throws Exception {
        run("/usr/bin/xenstore-write", "/secret/key", "s");
        assertEquals("OK\0", dom0.ok(XsType.INTRODUCE, 0, "5", "123", "4"));
        Path dom5 = xs.domainSocketPath(5);

        Run read = run(dom5, "/usr/bin/xenstore-read", "/secret/key");
        assertNotEquals(0, read.exit());
        assertEquals("", read.out());
        Run ls = run(dom5, "/usr/bin/xenstore-ls", "/secret");
        assertNotEquals(0, ls.exit());
        assertTrue(ls.err().contains("Permission denied"), ls.err());
        Run chmod = run(dom5, "/usr/bin/xenstore-chmod", "/secret", "b5");
        assertNotEquals(0, chmod.exit());
        assertTrue(chmod.err().contains("Permission denied"), chmod.err());

        assertEquals(new Run(0, "", ""), run(dom5, "/usr/bin/xenstore-write", "/local/domain/5/name", "guest"));
        assertEquals(new Run(0, "guest\n", ""), run(dom5, "/usr/bin/xenstore-read", "name"));
        assertEquals("n5\0", dom0.ok(XsType.GET_PERMS, 0, "/local/domain/5/name"));
    }
}
