package io.xendisk.cli.libvirt;

import io.xendisk.cli.FakeDaemon;
import io.xendisk.cli.hook.LibvirtHook;
import io.xendisk.xml.MetadataDisks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Domain;
import org.libvirt.event.DomainEventType;
import org.libvirt.event.LifecycleListener;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * A domain's life in libvirt's test driver, seen through lifecycle events
 * (our event loop delivers them), drives the hook as libvirtd would: the
 * XML libvirt gives at start attaches our disk, the XML after the stop
 * detaches it.
 */
class LifecycleHookTest {
    @TempDir
    Path dir;

    private record Event(String domain, DomainEventType type) {
    }

    @Test
    void defineStartStopUndefineAttachAndDetachThroughTheHook() throws Exception {
        Path image = Files.write(dir.resolve("data.img"), new byte[4096]);
        String name = TestDriver.name("life");
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        LifecycleListener listener = (domain, event) -> {
            try {
                events.add(new Event(domain.getName(), event.getType()));
            } catch (org.libvirt.LibvirtException e) {
                events.add(new Event("?", event.getType()));
            }
            return 0;
        };
        FakeDaemon daemon = new FakeDaemon();
        try (TestDriver libvirt = new TestDriver()) {
            libvirt.conn.addLifecycleListener(listener);
            Domain d = libvirt.define(name, "    <xdj:disks xmlns:xdj='" + MetadataDisks.NAMESPACE + "'>\n"
                    + "      <xdj:disk target='xvdb' source='" + image + "' engine='cow'/>\n"
                    + "    </xdj:disks>\n");
            try {
                assertEquals(DomainEventType.DEFINED, next(events, name));
                String atStart = d.getXMLDesc(0);
                assertEquals(0, hook(daemon, name, "prepare", "begin", atStart));
                assertEquals(0, hook(daemon, name, "start", "begin", atStart));
                d.create();
                assertEquals(DomainEventType.STARTED, next(events, name));
                assertEquals(List.of("connect " + name + " at-start=600 no-wait=true path=" + image + " storage=cow vdev=xvdb"),
                        daemon.summary());

                d.destroy();
                assertEquals(DomainEventType.STOPPED, next(events, name));
                assertEquals(0, hook(daemon, name, "stopped", "end", d.getXMLDesc(0)));
                assertEquals("disconnect " + name + " xvdb", daemon.summary().get(1));
                d.undefine();
                assertEquals(DomainEventType.UNDEFINED, next(events, name));
            } finally {
                TestDriver.remove(d);
                libvirt.conn.removeLifecycleListener(listener);
            }
        }
    }

    /** The next event of this domain (others' are skipped), waiting at most 10 s. */
    private static DomainEventType next(BlockingQueue<Event> events, String name) throws InterruptedException {
        List<Event> skipped = new ArrayList<>();
        while (true) {
            Event e = events.poll(10, TimeUnit.SECONDS);
            assertNotNull(e, "no lifecycle event for " + name + " within 10 s (others: " + skipped + ")");
            if (e.domain().equals(name)) {
                return e.type();
            }
            skipped.add(e);
        }
    }

    private static int hook(FakeDaemon daemon, String name, String op, String subOp, String xml) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = new LibvirtHook(daemon, new PrintStream(err, true, StandardCharsets.UTF_8))
                .run(List.of(name, op, subOp, "-"), new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
        // the hook passes the daemon's connect reply on to libvirt's log, nothing else
        assertEquals(op.equals("start") ? "connect done\n" : "", err.toString(StandardCharsets.UTF_8), op + " " + subOp);
        return rc;
    }
}
