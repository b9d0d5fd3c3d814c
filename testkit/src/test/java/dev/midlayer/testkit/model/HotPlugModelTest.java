package dev.midlayer.testkit.model;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.testkit.CallbackLog;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.RecordingClient;
import dev.midlayer.testkit.Seeds;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.Sge;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A seeded random model of hot-plug: devices come and go, recording clients register and unregister, and a
 * posting client keeps receives outstanding on every device. After every step the model says which (client,
 * device) pairs are added, and the clients' callbacks must match it exactly (one add per pair, a remove for
 * every add, nothing else: the lifecycle contract); every receive the posting client had on an unplugged
 * device must have ended exactly once (flushed by its drain); the monitor checks the rest at the end.
 */
class HotPlugModelTest {
  @RegisterExtension
  final Seeds seeds = new Seeds();

  /** On every device: a UD QP with receives posted, drained and freed in remove; counts the flushes. */
  private static final class PostingClient implements Client {
    private record State(ProtectionDomain pd, CompletionQueue cq, MemoryRegion mr, QueuePair qp) {}

    final Map<Integer, State> perDevice = new ConcurrentHashMap<>();
    final AtomicInteger posted = new AtomicInteger();
    final AtomicInteger ended = new AtomicInteger();

    @Override
    public String name() {
      return "poster";
    }

    @Override
    public boolean add(Device device, ClientId self) {
      ProtectionDomain pd = await(device.allocPd());
      CompletionQueue cq = await(device.allocCq(16, PollContext.ACTOR));
      MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(8 * 128), AccessFlags.LOCAL_WRITE));
      QueuePair qp = await(pd.createQp(new QpInitAttr(QpType.UD, cq, cq, new QpCap(1, 9, 1, 1, 0), true, null,
          null)));
      await(QpConnect.ud(qp, 1, 0x3333, 0));
      for (int i = 0; i < 8; i++) {
        qp.postRecv(RecvWr.of((c, wc) -> {
          if (wc.status() == WcStatus.WR_FLUSH_ERR) {
            ended.incrementAndGet();
          }
        }, Sge.of(mr, i * 128L, 128)));
        posted.incrementAndGet();
      }
      perDevice.put(device.index(), new State(pd, cq, mr, qp));
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) {
      State s = perDevice.remove(device.index());
      await(s.qp().drainRq());
      await(s.qp().destroy());
      await(s.cq().destroy());
      await(s.mr().deregister());
      await(s.pd().dealloc());
    }
  }

  @Test
  @DisplayName("random hot-plug: callbacks match the model after every step, every posted receive ends once")
  void randomHotPlug() {
    Random random = seeds.random();
    for (int it = 0; it < ModelBudget.iterations(3); it++) {
      iteration(it, random.nextLong());
    }
  }

  private void iteration(int it, long seed) {
    Random r = new Random(seed);
    MidlayerTestKit kit = MidlayerTestKit.create();
    try {
      CallbackLog log = new CallbackLog();
      PostingClient poster = new PostingClient();
      kit.registerClient(poster);
      List<LoopbackDevice> devices = new ArrayList<>();
      Map<String, ClientId> clients = new ConcurrentHashMap<>();
      int names = 0;
      int steps = 20 + r.nextInt(30);
      for (int step = 0; step < steps; step++) {
        String op;
        int pick = r.nextInt(4);
        if (pick == 0 || devices.isEmpty()) {
          LoopbackDevice d = kit.addDevice("lo%d", 1 + r.nextInt(2));
          devices.add(d);
          op = "add device " + d.name();
        } else if (pick == 1) {
          LoopbackDevice d = devices.remove(r.nextInt(devices.size()));
          kit.removeDevice(d);
          op = "remove device " + d.name();
        } else if (pick == 2 || clients.isEmpty()) {
          String name = "c" + names++;
          clients.put(name, kit.registerClient(new RecordingClient(name, log)));
          op = "register client " + name;
        } else {
          String name = new ArrayList<>(new TreeSet<>(clients.keySet())).get(r.nextInt(clients.size()));
          kit.unregisterClient(clients.remove(name));
          op = "unregister client " + name;
        }
        String where = "iteration " + it + " (seed " + seed + "), step " + step + " (" + op + ")";
        log.assertLifecycleContract();
        assertEquals(model(clients.keySet(), devices), addedNow(log), where + ": the added pairs");
        assertEquals(devices.size(), poster.perDevice.size(), where + ": the posting client is on every device");
        assertEquals(poster.posted.get() - 8 * devices.size(), poster.ended.get(),
            where + ": every receive posted on a device that went ended exactly once");
      }
    } finally {
      kit.shutdown();
    }
  }

  private static Set<String> model(Set<String> clients, List<LoopbackDevice> devices) {
    Set<String> pairs = new TreeSet<>();
    for (String c : clients) {
      for (LoopbackDevice d : devices) {
        pairs.add(c + " on " + d.name() + "#" + d.device().index());
      }
    }
    return pairs;
  }

  /** The pairs the log says are added now: an add not followed by a remove. */
  private static Set<String> addedNow(CallbackLog log) {
    Set<String> now = new LinkedHashSet<>();
    for (CallbackLog.Entry e : log.entries()) {
      String pair = e.client() + " on " + e.device() + "#" + e.deviceIndex();
      if (e.kind() == CallbackLog.Kind.ADD && e.accepted()) {
        now.add(pair);
      } else {
        now.remove(pair);
      }
    }
    return now.stream().sorted().collect(Collectors.toCollection(TreeSet::new));
  }
}
