package dev.midlayer.ulp.fetch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.conformance.DriverUnderTest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The fetch template across two cluster nodes (two actor systems on Artery in one JVM), connected through the
 * connection manager: the initiator's fast-registered pages on one node are written by the target on the other
 * (RDMA WRITE of up to 4 pages, segmented by the path MTU on the wire), and each key invalidated by the target's
 * SEND_WITH_INV. The kit's shutdown fails on leftovers and on monitor violations.
 */
class FetchClusterTest {
  private static final int STORE = 1 << 20;
  private static final long SERVICE = 0x4645_5443_4800_0001L;

  @Test
  @DisplayName("300 fetches of random ranges, 8 in flight, from a target on the other node: every byte right, "
      + "every key invalidated by the target")
  void fetchesAcrossNodes() throws Exception {
    DriverUnderTest cluster = DriverUnderTest.cluster();
    MidlayerTestKit kit = MidlayerTestKit.create(cluster.config());
    try {
      Device targetDevice = cluster.addDevice(kit, 1); // on the kit's node
      Device initiatorDevice = cluster.addDevice(kit, 1); // on the peer node
      Midlayer targetSide = cluster.midlayerOf(kit, targetDevice);
      Midlayer initiatorSide = cluster.midlayerOf(kit, initiatorDevice);
      assertTrue(targetSide != initiatorSide, "the devices are on two nodes");
      byte[] store = new byte[STORE];
      new Random(11).nextBytes(store);
      FetchTarget target = new FetchTarget(targetDevice, ByteBuffer.allocateDirect(STORE).put(store).flip(), 8);
      FetchInitiator initiator = new FetchInitiator(initiatorDevice, 8, 4);
      try {
        CompletionStage<CmConnection> accepted = target.listen(targetSide.connectionManager(), SERVICE);
        initiator.connect(initiatorSide.connectionManager(), CmDestination.gid(target.gid()), SERVICE);
        accepted.toCompletableFuture().get(30, TimeUnit.SECONDS);

        Random rnd = new Random(3);
        List<CompletableFuture<Void>> window = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
          int length = 1 + rnd.nextInt(initiator.maxLength());
          int offset = rnd.nextInt(STORE - length + 1);
          window.add(initiator.fetch(offset, length).toCompletableFuture().thenAccept(data ->
              assertArrayEquals(Arrays.copyOfRange(store, offset, offset + length), data,
                  "bytes of [" + offset + ", +" + length + ")")));
          if (window.size() == 8) {
            for (CompletableFuture<Void> f : window) {
              f.get(30, TimeUnit.SECONDS);
            }
            window.clear();
          }
        }
        for (CompletableFuture<Void> f : window) {
          f.get(30, TimeUnit.SECONDS);
        }
        assertEquals(300, initiator.invalidatedByTarget());
      } finally {
        initiator.close();
        target.close();
      }
      cluster.removeDevice(kit, initiatorDevice);
      cluster.removeDevice(kit, targetDevice);
    } finally {
      cluster.close(kit);
    }
  }
}
