package io.xendisk.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliArgsTest {

    private static CliArgs parse(String... argv) throws UsageException {
        return CliArgs.parse(List.of(argv));
    }

    private static String usageError(String... argv) {
        return assertThrows(UsageException.class, () -> parse(argv)).getMessage();
    }

    @Test
    void verbsAndGlobalOptionsAnywhere() throws UsageException {
        assertEquals(new CliArgs("status", List.of(), null), parse("status"));
        assertEquals(new CliArgs("sim", List.of("start"), "sim"), parse("--platform", "sim", "sim", "start"));
        assertEquals(new CliArgs("list", List.of(), "xen"), parse("list", "--platform=xen"));
        assertEquals("daemon", parse("daemon").verb());
    }

    @Test
    void helpAndVersion() throws UsageException {
        assertEquals("help", parse("--help").verb());
        assertEquals("help", parse("-h", "status").verb());
        assertEquals("help", parse("help").verb());
        assertEquals("version", parse("--version").verb());
        assertEquals("", parse().verb());
    }

    @Test
    void unknownVerbIsNamed() {
        assertEquals("unknown verb 'frobnicate'", usageError("frobnicate"));
    }

    @Test
    void unknownOptionIsNamed() {
        assertEquals("unknown option '--frob' for 'status'", usageError("status", "--frob"));
        assertEquals("unknown option '-x'", usageError("-x", "status"));
    }

    @Test
    void connectTakesItsOptionsInAnyForm() throws UsageException {
        CliArgs a = CliArgs.parse(List.of("connect", "vm1", "--path", "/img", "--storage=cow", "--readonly",
                "--vdev", "xvdc", "--foreground", "--platform", "sim"));
        assertEquals("connect", a.verb());
        assertEquals(List.of("vm1"), a.args());
        assertEquals("sim", a.platform());
        assertEquals(Map.of("path", "/img", "storage", "cow", "readonly", "true", "vdev", "xvdc", "foreground", "true"),
                a.options());
    }

    @Test
    void connectOptionErrorsAreNamed() {
        assertTrue(usageError("connect", "vm", "--size", "1").startsWith("unknown option '--size' for 'connect'"));
        assertEquals("option --path of 'connect' needs a value", usageError("connect", "vm", "--path"));
        assertEquals("option --readonly of 'connect' takes no value", usageError("connect", "vm", "--readonly=yes"));
        assertEquals("option --path given twice", usageError("connect", "vm", "--path", "a", "--path", "b"));
        assertTrue(usageError("connect").startsWith("'connect' needs one guest"));
        assertTrue(usageError("disconnect", "vm").startsWith("'disconnect' needs the guest and the disk"));
        assertEquals("unknown option '--path' for 'disconnect'", usageError("disconnect", "vm", "xvdb", "--path", "x"));
    }

    @Test
    void platformValueIsChecked() {
        assertTrue(usageError("--platform").contains("needs a value"));
        assertTrue(usageError("--platform", "kvm", "status").contains("unknown platform 'kvm'"));
    }

    @Test
    void verbArgumentsAreChecked() {
        assertTrue(usageError("status", "now").contains("'status' takes no arguments"));
        assertTrue(usageError("sim").contains("start, stop, status, guest, guests, destroy or run"));
        assertTrue(usageError("sim", "restart").contains("unknown 'sim' action 'restart'"));
        assertTrue(usageError("sim", "guest").startsWith("'sim guest' needs a name"));
        assertTrue(usageError("sim", "run", "vm", "xvdb").startsWith("'sim run' needs"));
        assertTrue(usageError("sim", "start", "--abi", "x86_32").contains("for 'sim guest' only"));
    }

    @Test
    void simRunPassesWorkloadArgumentsThrough() throws UsageException {
        CliArgs a = parse("sim", "run", "vm1", "xvdb", "rand-read", "--qd", "32", "--bs", "4k");
        assertEquals(List.of("run", "vm1", "xvdb", "rand-read", "--qd", "32", "--bs", "4k"), a.args());
        CliArgs g = parse("sim", "guest", "vm1", "--memory-mib", "128", "--abi", "x86_32", "--max-indirect-segments", "0");
        assertEquals(Map.of("memory-mib", "128", "abi", "x86_32", "max-indirect-segments", "0"), g.options());
        CliArgs c = parse("connect", "vm1", "--path", "/i.img", "--vdev", "xvdc", "--no-wait", "--at-start", "60");
        assertEquals("60", c.options().get("at-start"));
        assertTrue(c.options().containsKey("no-wait"));
    }

    @Test
    void doubleDashEndsOptions() throws UsageException {
        assertNull(parse("--", "status").platform());
        assertEquals("unknown verb '--version'", usageError("--", "--version"));
    }

    @Test
    void virshVerbsTakePositionalOrNamedArguments() throws UsageException {
        CliArgs a = parse("attach-disk", "vm1", "/img/a.img", "xvdb", "--driver-type", "cow", "--mode", "readonly",
                "--persistent", "--connect", "test:///default");
        assertEquals(List.of("vm1", "/img/a.img", "xvdb"), a.args());
        assertEquals(Map.of("driver-type", "cow", "mode", "readonly", "persistent", "true", "connect", "test:///default"),
                a.options());
        // virsh's --domain/--source/--target fill the gaps in order; --subdriver is --driver-type
        CliArgs named = parse("attach-disk", "--target", "xvdc", "vm1", "--source", "/b", "--subdriver", "mmap");
        assertEquals(List.of("vm1", "/b", "xvdc"), named.args());
        assertEquals(Map.of("driver-type", "mmap"), named.options());
        assertEquals(List.of("vm1", "xvdb"), parse("detach-disk", "--domain", "vm1", "xvdb", "--config").args());
        assertEquals(Map.of("inactive", "true"), parse("domblklist", "vm1", "--inactive").options());
    }

    @Test
    void virshVerbErrorsAreNamed() {
        assertTrue(usageError("attach-disk", "vm1", "/img").startsWith("'attach-disk' needs <domain> <source> <target>: attach-disk"));
        assertTrue(usageError("detach-disk", "vm1", "xvdb", "extra").startsWith("'detach-disk' needs <domain> <target>"));
        assertEquals("--current cannot be combined with --live, --config or --persistent",
                usageError("attach-disk", "vm1", "/a", "xvdb", "--current", "--live"));
        assertEquals("give --driver-type or --subdriver (the same thing), not both",
                usageError("attach-disk", "vm1", "/a", "xvdb", "--subdriver", "cow", "--driver-type", "cow"));
        assertTrue(usageError("domblklist", "vm1", "--details").startsWith("unknown option '--details' for 'domblklist'"));
    }

    @Test
    void hookAndInstallArguments() throws UsageException {
        assertEquals(List.of("vm1", "prepare", "begin", "-"), parse("libvirt-hook", "vm1", "prepare", "begin", "-").args());
        assertTrue(usageError("libvirt-hook", "vm1").startsWith("'libvirt-hook' is run by libvirt as"));
        assertEquals(Map.of("root", "/tmp/stage"), parse("install", "--root", "/tmp/stage").options());
        assertTrue(usageError("uninstall", "now").startsWith("'uninstall' takes no arguments"));
    }

    @Test
    void blockresizeIsResizeWithVirshsKiB() throws UsageException {
        CliArgs a = parse("blockresize", "vm1", "xvdb", "98304");
        assertEquals("resize", a.verb());
        assertEquals(List.of("vm1", "xvdb", "98304K"), a.args());
        assertEquals(List.of("vm1", "xvdb", "2G"), parse("blockresize", "vm1", "xvdb", "2G").args());
        assertEquals(List.of("vm1", "xvdb", "64M"), parse("resize", "vm1", "xvdb", "64M").args());
        assertTrue(usageError("resize", "vm1", "xvdb").contains("'resize' needs the guest, the disk and the new size"));
    }
}
