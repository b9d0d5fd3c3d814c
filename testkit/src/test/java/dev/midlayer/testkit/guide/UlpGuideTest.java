package dev.midlayer.testkit.guide;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.testkit.MidlayerFabric;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.Sge;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The example of {@code testkit/README.md}, "Testing a ULP": a ULP (a registered client) tested under hot-unplug
 * on a fabric of two loopback devices; the extension fails the test on leftovers and on any monitor violation.
 */
class UlpGuideTest {
  /** The ULP under test: on every device, a UD QP with {@code depth} receives posted; drained and freed in remove. */
  static final class ReceiverUlp implements Client {
    private record State(ProtectionDomain pd, CompletionQueue cq, MemoryRegion mr, QueuePair qp) {}

    private final int depth;
    private final Map<String, State> perDevice = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> flushed = new ConcurrentHashMap<>();

    ReceiverUlp(int depth) {
      this.depth = depth;
    }

    @Override
    public String name() {
      return "receiver";
    }

    @Override
    public boolean add(Device device, ClientId self) { // may sleep (C16): wait for each verb
      ProtectionDomain pd = await(device.allocPd());
      CompletionQueue cq = await(device.allocCq(2 * depth, PollContext.ACTOR));
      MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(depth * 256), AccessFlags.LOCAL_WRITE));
      // One receive slot more than it posts: drainRq needs room for its marker, as ib_drain_rq does.
      QueuePair qp = await(pd.createQp(new QpInitAttr(QpType.UD, cq, cq, new QpCap(1, depth + 1, 1, 1, 0), true,
          null, null)));
      await(QpConnect.ud(qp, 1, 0x2222, 0));
      AtomicInteger flushes = flushed.computeIfAbsent(device.name(), n -> new AtomicInteger());
      for (int i = 0; i < depth; i++) {
        qp.postRecv(RecvWr.of((c, wc) -> { // a done callback: atomic context, never sleeps
          if (wc.status() == WcStatus.WR_FLUSH_ERR) {
            flushes.incrementAndGet();
          }
        }, Sge.of(mr, i * 256, 256)));
      }
      perDevice.put(device.name(), new State(pd, cq, mr, qp));
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) {
      State s = perDevice.remove(device.name());
      await(s.qp().drainRq()); // every posted receive ends (flushed) before the QP goes
      await(s.qp().destroy());
      await(s.cq().destroy());
      await(s.mr().deregister());
      await(s.pd().dealloc());
    }
  }

  // README: testing-a-ulp
  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(2).build();

  @Test
  @DisplayName("hot-unplug: every receive the ULP posted ends exactly once, as a flush, and nothing is left")
  void everyReceiveEndsOnceWhenItsDeviceGoes() {
    ReceiverUlp ulp = new ReceiverUlp(16);
    fabric.kit().registerClient(ulp);      // its add runs for both devices before this returns
    String gone = fabric.device(1).name();
    fabric.unplug(1);                      // its remove drains and frees what it made on that device
    assertEquals(16, ulp.flushed.get(gone).get());
    // The monitor's ledger saw the same: 16 flushes and the drain's marker, nothing outstanding on lo1.
    assertEquals(17, fabric.kit().monitor().ledger().flushed(), fabric.kit().monitor().ledger()::toString);
  } // afterwards the extension removes the devices and fails the test on leftovers or monitor violations
  // README: end
}
