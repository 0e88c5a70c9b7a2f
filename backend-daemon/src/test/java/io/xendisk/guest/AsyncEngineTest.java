package io.xendisk.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import io.xendisk.backend.BlkifFeatures;
import io.xendisk.blkif.Abi;

/**
 * An engine that completes out of order, from threads of its own, after
 * random delays (as a remote store does) serves the guest's verify workload
 * with a ring's worth of requests in flight: the bytes the guest reads back
 * and the bytes in the image are what it wrote, on both ABIs, with the data
 * in bounce buffers (no persistent grants) and in the guest's kept pages.
 */
class AsyncEngineTest {
    private static final int XVDB = 51728;
    private static final long IMAGE_BYTES = 8L << 20;

    private SimBackend platform;
    private Guest guest;
    private OutOfOrderEngine engine;
    private final List<String> out = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        if (guest != null) {
            guest.close();
        }
        if (platform != null) {
            platform.close();
        }
    }

    static Stream<Arguments> layouts() {
        return Stream.of(Abi.values()).flatMap(abi -> Stream.of(
                Arguments.of(abi, BlkifFeatures.BASIC),
                Arguments.of(abi, BlkifFeatures.DEFAULT.withQueues(1))));
    }

    @ParameterizedTest
    @MethodSource("layouts")
    void verifyPassesWithARingOfRequestsCompletingOutOfOrder(Abi abi, BlkifFeatures features) throws Exception {
        platform = new SimBackend();
        guest = Guest.start(new Guest.Config("async-vm", platform.socket(), platform.simdir, 32, abi, null));
        Path image = platform.dir.resolve("async.img");
        Files.write(image, new byte[(int) IMAGE_BYTES]);
        engine = new OutOfOrderEngine(image, 2_000);
        SimBackend.Disk disk = platform.addDisk(guest.domid(), XVDB, engine, false, features);
        Blkfront fe = guest.awaitConnected(XVDB, 20, TimeUnit.SECONDS);
        assertNotNull(fe, "frontend connected");

        assertTrue(Workloads.run(fe, "verify", List.of("--size", "4M", "--bs", "4k", "--qd", "32", "--seed", "11"),
                out::add), out.toString());
        assertTrue(out.get(0).endsWith(" OK"), out.get(0));
        assertEquals(0, disk.stats.errors(), disk.stats.rejections().toString());
        assertTrue(engine.maxInFlight() >= 16, "requests in flight at once: " + engine.maxInFlight());
        assertTrue(engine.overtaken() > 0, "completions out of order: " + engine.overtaken());
        assertEquals(4L << 20, disk.stats.writeBytes());

        // what the guest wrote is in the image, read by other means
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(image)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1, Pattern.firstMismatch(b, 0, 0, (int) ((4L << 20) / 512), 11), "the image holds the pattern");
    }
}
