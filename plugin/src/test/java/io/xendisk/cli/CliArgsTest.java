package io.xendisk.cli;

import org.junit.jupiter.api.Test;

import java.util.List;

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
        assertEquals("unknown option '--frob'", usageError("status", "--frob"));
        assertEquals("unknown option '-x'", usageError("-x", "status"));
    }

    @Test
    void platformValueIsChecked() {
        assertTrue(usageError("--platform").contains("needs a value"));
        assertTrue(usageError("--platform", "kvm", "status").contains("unknown platform 'kvm'"));
    }

    @Test
    void verbArgumentsAreChecked() {
        assertTrue(usageError("status", "now").contains("'status' takes no arguments"));
        assertTrue(usageError("sim").contains("start, stop or status"));
        assertTrue(usageError("sim", "restart").contains("unknown 'sim' action 'restart'"));
    }

    @Test
    void doubleDashEndsOptions() throws UsageException {
        assertNull(parse("--", "status").platform());
        assertEquals("unknown verb '--version'", usageError("--", "--version"));
    }
}
