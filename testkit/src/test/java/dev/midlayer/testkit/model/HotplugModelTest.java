package dev.midlayer.testkit.model;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.testkit.CallbackLog;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.Seeds;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Randomized hot-plug model: seeded random sequences of device additions and removals (some after a fatal
 * device error), client registrations and unregistrations, link flaps, and traffic on every live (client,
 * device) pair, also while a device is being removed. Each client takes or declines a device (or throws in
 * {@code add}, which counts as declining) by a seeded rule, and on every device it takes connects two RC QPs
 * and carries traffic on them; in {@code remove} it moves them to ERR, polls until every WR it posted has
 * completed, and destroys everything. The model predicts, after each operation, the exact callbacks the
 * operation causes: a new device is added to the clients in their registration order, a new client gets the
 * devices in their registration order, a removed device is removed from the clients that took it in reverse
 * registration order, an unregistered client loses its devices in their registration order; never a remove
 * without a successful add. Per QP queue every WR completes exactly once, in posting order, SUCCESS and then
 * only WR_FLUSH_ERR; every message arrives once, in order, intact, while the pair lives. The contract monitor
 * (its ledger included) must find nothing, and {@link MidlayerTestKit#shutdown()} no leftovers.
 */
class HotplugModelTest {
  private static final int CI_ITERATIONS = 30;
  private static final int STEPS = 30;
  private static final int SQ = 8;
  private static final int RQ = 16;
  private static final int MSG = 32;

  @RegisterExtension
  final Seeds seeds = new Seeds();

  private MidlayerTestKit kit;
  private long seed;
  private final CallbackLog log = new CallbackLog();
  private final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
  private final int[] stats = new int[8];

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  /** What a client does with a device: a pure function of the seed, the client and the device's index. */
  private int decision(String client, int deviceIndex) {
    long h = seed ^ client.hashCode() * 0x9E3779B97F4A7C15L ^ deviceIndex * 0xC2B2AE3D27D4EB4FL;
    h ^= h >>> 29;
    h *= 0xBF58476D1CE4E5B9L;
    h ^= h >>> 32;
    int r = (int) Math.floorMod(h, 6);
    return r == 0 ? 1 : r == 1 ? 2 : 0; // 0 take, 1 decline, 2 throw
  }

  // ---------------------------------------------------------------- the client

  /** Two connected RC QPs of one client on one device, and the model of their queues. */
  private final class Pair {
    final String name;
    ProtectionDomain pd;
    CompletionQueue cq;
    MemoryRegion mr;
    QueuePair tx;
    QueuePair rx;
    boolean closed;
    final ArrayDeque<Long> txq = new ArrayDeque<>();
    final ArrayDeque<Long> rxq = new ArrayDeque<>();
    boolean txError;
    boolean rxError;
    /** WR ids per queue, in posting order; a WR's buffer slot is its id modulo the queue's depth. */
    long nextTxId;
    long nextRxId;
    int nextSeq;
    int expectSeq;
    long posted;
    long completed;

    Pair(String name) {
      this.name = name;
    }

    /** Posts a few sends and receives and polls: the test's thread, while the pair lives. */
    synchronized void pump(int sends, int recvs) {
      if (closed) {
        return;
      }
      for (int i = 0; i < recvs && rxq.size() < RQ; i++) {
        long id = nextRxId;
        try {
          rx.postRecv(RecvWr.of(id, Sge.of(mr, 4096 + (id % RQ) * MSG, MSG)));
        } catch (PostException e) {
          problems.add(name + ": receive refused with " + rxq.size() + " outstanding: " + e.getMessage());
          return;
        }
        nextRxId++;
        rxq.addLast(id);
        posted++;
      }
      for (int i = 0; i < sends && txq.size() < SQ && nextSeq - expectSeq < rxq.size(); i++) {
        long id = nextTxId;
        int slot = (int) (id % SQ) * MSG;
        ByteBuffer b = mr.buffer();
        for (int k = 0; k < MSG; k += 4) {
          b.putInt(slot + k, nextSeq);
        }
        try {
          tx.postSend(SendWr.sendWithImm(id, 0, nextSeq, Sge.of(mr, slot, MSG)));
        } catch (PostException e) {
          problems.add(name + ": send refused with " + txq.size() + " outstanding: " + e.getMessage());
          return;
        }
        nextTxId++;
        nextSeq++;
        txq.addLast(id);
        posted++;
        stats[0]++;
      }
      poll();
    }

    /** Takes the completions there are; checks order, exactly once, statuses and payloads. */
    void poll() {
      WorkCompletion[] batch = new WorkCompletion[16];
      int k;
      while ((k = cq.poll(batch)) > 0) {
        for (int i = 0; i < k; i++) {
          take(batch[i]);
        }
      }
    }

    private void take(WorkCompletion wc) {
      completed++;
      boolean isRx = wc.qpNum() == rx.qpNum();
      ArrayDeque<Long> q = isRx ? rxq : txq;
      Long head = q.pollFirst();
      if (head == null || head != wc.wrId()) {
        problems.add(name + ": " + (isRx ? "receive" : "send") + " completion " + wc + " but the oldest "
            + "outstanding is " + head + " (out of order, twice, or never posted)");
        return;
      }
      boolean error = isRx ? rxError : txError;
      if (wc.status() == WcStatus.SUCCESS) {
        if (error) {
          problems.add(name + ": SUCCESS after an error: " + wc);
        }
        if (isRx) {
          int seq = mr.buffer().getInt(4096 + (int) (wc.wrId() % RQ) * MSG);
          for (int k = 4; k < MSG; k += 4) {
            if (mr.buffer().getInt(4096 + (int) (wc.wrId() % RQ) * MSG + k) != seq) {
              problems.add(name + ": message " + seq + " torn at byte " + k);
            }
          }
          if (seq != expectSeq || wc.immData() != seq || wc.byteLen() != MSG) {
            problems.add(name + ": received message " + seq + " (imm " + wc.immData() + ", " + wc.byteLen()
                + " bytes), expected message " + expectSeq + " of " + MSG + " bytes");
          }
          expectSeq = seq + 1;
          stats[1]++;
        }
      } else if (wc.status() == WcStatus.WR_FLUSH_ERR || !error && !isRx && wc.status() == WcStatus.RETRY_EXC_ERR) {
        // the QPs go to ERR in remove, or the device died, or (a flap) a send ran out of retries
        if (isRx) {
          rxError = true;
        } else {
          txError = true;
        }
        stats[2]++;
      } else {
        problems.add(name + ": unexpected status " + wc);
      }
    }

    /** In the client's remove (may sleep): ERR, every WR completed, destroy. */
    void close() throws Exception {
      synchronized (this) {
        closed = true;
      }
      for (QueuePair qp : new QueuePair[] {tx, rx}) {
        await(qp.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      int spins = 0;
      while (!txq.isEmpty() || !rxq.isEmpty()) {
        poll();
        if (System.nanoTime() > deadline) {
          problems.add(name + ": in remove, not every WR completed after ERR: sends " + txq + ", receives " + rxq);
          break;
        }
        if (spins++ > 100) {
          Thread.yield();
        } else {
          Thread.onSpinWait();
        }
      }
      if (posted != completed) {
        problems.add(name + ": " + posted + " WRs posted but " + completed + " completions");
      }
      await(tx.destroy());
      await(rx.destroy());
      await(mr.deregister());
      await(cq.destroy());
      await(pd.dealloc());
    }
  }

  /** A client that takes, declines or throws by {@link #decision} and runs a {@link Pair} on each device it takes. */
  private final class ModelClient implements Client {
    final String name;
    final Map<Device, Pair> pairs = new ConcurrentHashMap<>();
    ClientId id;

    ModelClient(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public boolean add(Device device, ClientId self) throws Exception {
      int d = decision(name, device.index());
      log.record(name, device.name(), device.index(), CallbackLog.Kind.ADD, d == 0);
      if (d == 2) {
        throw new IllegalStateException("model client " + name + " refuses " + device.name() + " by throwing");
      }
      if (d == 1) {
        return false;
      }
      Pair p = new Pair(name + "@" + device.name() + "#" + device.index());
      p.pd = await(device.allocPd());
      p.cq = await(device.createCq(4 * (SQ + RQ), null, null, null));
      p.mr = await(p.pd.registerMr(ByteBuffer.allocateDirect(8192), AccessFlags.LOCAL_WRITE));
      QpCap cap = new QpCap(SQ, RQ, 1, 1, 0);
      p.tx = await(p.pd.createQp(new QpInitAttr(QpType.RC, p.cq, p.cq, cap, true, null, null)));
      p.rx = await(p.pd.createQp(new QpInitAttr(QpType.RC, p.cq, p.cq, cap, true, null, null)));
      AhAttr self1 = AhAttr.ofLid(1, device.cachedPort(1).lid());
      QpConnect.Params params = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);
      await(QpConnect.connect(p.tx, self1, p.rx.qpNum(), 0x10, 0x20, params));
      await(QpConnect.connect(p.rx, self1, p.tx.qpNum(), 0x20, 0x10, params));
      pairs.put(device, p);
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) throws Exception {
      Pair p = pairs.remove(device);
      if (p == null) {
        problems.add(name + ": remove of " + device.name() + " that it never took");
      } else {
        p.close();
      }
      log.record(name, device.name(), device.index(), CallbackLog.Kind.REMOVE, true);
    }
  }

  // ---------------------------------------------------------------- the model and the test

  private final List<ModelClient> clients = new ArrayList<>(); // registration order
  private final List<LoopbackDevice> devices = new ArrayList<>(); // registration order
  private int clientNames;
  private String at = "setup";

  @Test
  @DisplayName("random device hot-plug, client registration and traffic: callbacks in the documented order, "
      + "every WR completed exactly once")
  void randomHotplug() throws Exception {
    seed = seeds.seed();
    Gen g = new Gen(seed);
    int iterations = Budget.iterations(CI_ITERATIONS);
    try {
      for (int it = 0; it < iterations; it++) {
        for (int step = 0; step < STEPS; step++) {
          at = "iteration " + it + " step " + step;
          step(g);
          assertNoProblems();
        }
        at = "iteration " + it + " end";
        while (!devices.isEmpty()) {
          removeDevice(devices.get(devices.size() - 1), false, g);
        }
        while (!clients.isEmpty()) {
          unregister(clients.get(0));
        }
        assertEquals(0, kit.monitor().ledger().outstanding(), at + ": the ledger: " + kit.monitor().ledger());
      }
      log.assertLifecycleContract();
    } catch (Throwable t) {
      kit.allowLeftovers();
      throw t;
    }
    System.out.printf("[model] hot-plug: %d iterations; %d devices added, %d removed (%d after a fatal error), %d "
        + "clients registered, %d sends, %d messages received, %d flushed or failed%n", iterations, stats[3],
        stats[4], stats[5], stats[6], stats[0], stats[1], stats[2]);
  }

  private void step(Gen g) throws Exception {
    int op = g.weighted(devices.size() < 4 ? 5 : 0, devices.isEmpty() ? 0 : 3, clients.size() < 4 ? 4 : 0,
        clients.isEmpty() ? 0 : 2, 6, devices.isEmpty() ? 0 : 1, devices.isEmpty() ? 0 : 1);
    switch (op) {
      case 0 -> addDevice();
      case 1 -> removeDevice(g.pick(devices), false, g);
      case 2 -> register();
      case 3 -> unregister(g.pick(clients));
      case 4 -> pump(g, g.between(1, 4));
      case 5 -> removeDevice(g.pick(devices), true, g);
      default -> {
        LoopbackDevice d = g.pick(devices);
        CompletableFuture<?> up = d.flap(1, Duration.ofSeconds(g.between(1, 5))).toCompletableFuture();
        pump(g, 2);
        await(up);
      }
    }
  }

  private void pump(Gen g, int rounds) {
    for (int r = 0; r < rounds; r++) {
      for (ModelClient c : clients) {
        for (Pair p : c.pairs.values()) {
          p.pump(g.between(0, 4), g.between(0, 4));
        }
      }
    }
  }

  private void addDevice() {
    int before = log.entries().size();
    LoopbackDevice d = kit.addDevice("hp%d", 1);
    devices.add(d);
    stats[3]++;
    List<String> expected = new ArrayList<>();
    for (ModelClient c : clients) {
      expected.add(c.name + (decision(c.name, d.device().index()) == 0 ? "+" : "~") + d.device().name());
    }
    expectCallbacks(before, expected, "add device " + d.device().name());
  }

  private void removeDevice(LoopbackDevice d, boolean fatal, Gen g) {
    int before = log.entries().size();
    List<String> expected = new ArrayList<>();
    for (int i = clients.size() - 1; i >= 0; i--) {
      ModelClient c = clients.get(i);
      if (decision(c.name, d.device().index()) == 0) {
        expected.add(c.name + "-" + d.device().name());
      }
    }
    String name = d.device().name();
    if (fatal) {
      d.raiseFatal();
      stats[5]++;
    }
    // Traffic on every live pair while the removal runs (the pairs on d close one by one in their removes).
    CompletableFuture<?> removal = kit.fabric().removeDevice(d).toCompletableFuture();
    long deadline = System.nanoTime() + MidlayerTestKit.DEFAULT_TIMEOUT.toNanos();
    while (!removal.isDone()) {
      // no draws here: how many rounds fit in the removal is timing, and the seed's sequence must not depend on it
      for (ModelClient c : clients) {
        for (Pair p : c.pairs.values()) {
          p.pump(2, 2);
        }
      }
      Thread.yield();
      if (System.nanoTime() > deadline) {
        fail(at + ": the removal of " + name + " did not finish");
      }
    }
    await(removal);
    devices.remove(d);
    stats[4]++;
    expectCallbacks(before, expected, (fatal ? "fatal error and removal of " : "remove device ") + name);
  }

  private void register() {
    int before = log.entries().size();
    ModelClient c = new ModelClient("c" + clientNames++);
    c.id = kit.registerClient(c);
    clients.add(c);
    stats[6]++;
    List<String> expected = new ArrayList<>();
    for (LoopbackDevice d : devices) {
      expected.add(c.name + (decision(c.name, d.device().index()) == 0 ? "+" : "~") + d.device().name());
    }
    expectCallbacks(before, expected, "register client " + c.name);
  }

  private void unregister(ModelClient c) {
    int before = log.entries().size();
    List<String> expected = new ArrayList<>();
    for (LoopbackDevice d : devices) {
      if (decision(c.name, d.device().index()) == 0) {
        expected.add(c.name + "-" + d.device().name());
      }
    }
    kit.unregisterClient(c.id);
    clients.remove(c);
    expectCallbacks(before, expected, "unregister client " + c.name);
  }

  private void expectCallbacks(int before, List<String> expected, String op) {
    List<String> seq = log.sequence();
    assertEquals(expected, seq.subList(before, seq.size()), at + ": " + op + ": the callbacks it causes, in order "
        + "(all so far: " + seq + ")");
  }

  private void assertNoProblems() {
    if (!problems.isEmpty()) {
      fail(at + ": " + String.join("\n  ", problems));
    }
  }
}
