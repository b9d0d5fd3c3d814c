package dev.midlayer.testkit;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.IllegalContextException;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.monitor.Check;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.monitor.Violation;
import dev.midlayer.testkit.broken.BrokenDrivers;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Each check of the contract monitor, proven against a ULP that breaks its rule on purpose (checks 1, 2, 4 and 8
 * are also proven by the broken drivers of {@code BrokenDriversTest}); each test says which violation it
 * provokes and asserts the monitor named it, with rule, object and client.
 */
class ContractMonitorTest {
  private MidlayerTestKit kit;

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create();
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  private List<Violation> seen(Check check) {
    return kit.monitor().violations(check);
  }

  private void assertSeen(Check check, String text) {
    assertTrue(seen(check).stream().anyMatch(v -> v.headline().contains(text)),
        () -> "expected a " + check + " violation containing '" + text + "'; the monitor saw:\n" + kit.monitor().report());
  }

  @Test
  @DisplayName("check 3 (C4): a ULP calling allocPd in its event handler is refused, and the monitor records it")
  void maySleepVerbInAtomicContext() throws Exception {
    kit.expectViolations(Check.MAY_SLEEP_IN_ATOMIC);
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    CompletableFuture<Throwable> refused = new CompletableFuture<>();
    var h = await(lo.device().registerEventHandler("greedy", e -> {
      try {
        lo.device().allocPd();
        refused.complete(null);
      } catch (RuntimeException ex) {
        refused.complete(ex);
      }
    }));
    lo.linkDown(1);
    assertTrue(Await.result(refused) instanceof IllegalContextException);
    assertSeen(Check.MAY_SLEEP_IN_ATOMIC, "[C4 check 3 MAY_SLEEP_IN_ATOMIC] allocPd may sleep but was called inside "
        + "event handler 'greedy'");
    await(h.unregister());
  }

  @Test
  @DisplayName("check 4 (C10): a ULP sleeping in its completion handler is a BLOCKING violation naming the handler")
  void sleepingCompletionHandler() throws Exception {
    kit.expectViolations(Check.BLOCKING);
    CompletableFuture<Void> ran = new CompletableFuture<>();
    try (ConnectedPair p = ConnectedPair.rc(kit).completionHandlers(null, cq -> {
      try {
        Thread.sleep(1); // the bug under test
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      while (cq.poll() != null) {
        ran.complete(null);
      }
    }).build()) {
      p.b().qp().postRecv(RecvWr.of(1, Sge.of(p.b().mr(), 0, 8)));
      p.a().qp().postSend(SendWr.send(1, 0, Sge.of(p.a().mr(), 0, 8)));
      Await.result(ran);
    }
    assertSeen(Check.BLOCKING, "[C10 check 4 BLOCKING] blocking call java.lang.Thread");
    assertSeen(Check.BLOCKING, "inside completion handler of CQ");
  }

  private static DataPathOverlap.Lane udLane(ConnectedPair p) {
    return new DataPathOverlap.Lane(p.a().qp(), p.a().cq(), SendWr.udSend(1, 0, p.a().ahToPeer(),
        p.b().qp().qpNum(), p.qkey(), Sge.of(p.a().mr(), 0, 8)));
  }

  @Test
  @DisplayName("check 5 (C6): posts to two QPs and polls of two CQs from two threads overlap")
  void dataPathVerbsOverlap() {
    try (ConnectedPair p1 = ConnectedPair.ud(kit).build(); ConnectedPair p2 = ConnectedPair.ud(kit).build()) {
      DataPathOverlap.assertOverlap(kit.monitor(), udLane(p1), udLane(p2), 2_000_000);
    }
    assertTrue(kit.monitor().witness().postOverlaps() > 0 && kit.monitor().witness().pollOverlaps() > 0);
  }

  /** What a midlayer that took one global lock around every verb would be: the same objects, behind a lock. */
  private static final Object GLOBAL = new Object();

  @SuppressWarnings("unchecked")
  private static <T> T locked(T target, Class<T> type) {
    return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, m, args) -> {
      synchronized (GLOBAL) {
        try {
          return m.invoke(target, args);
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
      }
    });
  }

  @Test
  @DisplayName("check 5 (C6) fails on a midlayer that takes one lock around every verb: SERIALISED")
  void globalLockIsCaught() {
    kit.expectViolations(Check.SERIALISED);
    try (ConnectedPair p1 = ConnectedPair.ud(kit).build(); ConnectedPair p2 = ConnectedPair.ud(kit).build()) {
      DataPathOverlap.Lane a = udLane(p1);
      DataPathOverlap.Lane b = udLane(p2);
      DataPathOverlap.Lane la = new DataPathOverlap.Lane(locked(a.qp(), QueuePair.class),
          locked(a.cq(), CompletionQueue.class), a.wr());
      DataPathOverlap.Lane lb = new DataPathOverlap.Lane(locked(b.qp(), QueuePair.class),
          locked(b.cq(), CompletionQueue.class), b.wr());
      AssertionError e = assertThrows(AssertionError.class,
          () -> DataPathOverlap.assertOverlap(kit.monitor(), la, lb, 20_000));
      assertTrue(e.getMessage().startsWith("[C6 check 5 SERIALISED]"), e.getMessage());
    }
    assertEquals(1, seen(Check.SERIALISED).size());
  }

  /** A client that, in add, makes a UD QP with a handler-driven CQ, posts a receive and keeps it all (leaks). */
  private static final class HoardingClient implements Client {
    final AtomicReference<CompletionQueue> cq = new AtomicReference<>();

    @Override
    public String name() {
      return "hoarder";
    }

    @Override
    public boolean add(Device device, ClientId self) {
      ProtectionDomain pd = await(device.allocPd());
      CompletionQueue c = await(device.createCq(16, q -> { }, null, null));
      MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(256), AccessFlags.LOCAL_WRITE));
      QueuePair qp = await(pd.createQp(new QpInitAttr(QpType.UD, c, c, new QpCap(4, 4, 1, 1, 0), true, null,
          null)));
      await(QpConnect.ud(qp, 1, 0x1111, 0));
      qp.postRecv(RecvWr.of(1, Sge.of(mr, 0, 128)));
      cq.set(c);
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) {}
  }

  @Test
  @DisplayName("check 7 (C15): what a client leaves at remove is named, client and object, as a LEFTOVER")
  void leftovers() {
    kit.expectViolations(Check.LEFTOVER).allowLeftovers();
    kit.addDevice("lo%d", 1);
    ClientId leaker = kit.registerClient(HostileClients.leaking("leaker"));
    kit.unregisterClient(leaker);
    assertSeen(Check.LEFTOVER, "[C15 check 7 LEFTOVER] " + leaker + " left PD");
    assertSeen(Check.LEFTOVER, leaker + " left CQ");
  }

  @Test
  @DisplayName("check 6 (C15): a driver calling a client's handler after its remove returned is caught")
  void callbackAfterRemove() {
    // The broken driver calls the CQ's handler itself on its first completion: here the flush of the receive
    // the hoarder left, which the midlayer flushes when it reclaims the QP after remove returned.
    kit.expectViolations(Check.CALLBACK_AFTER_REMOVE, Check.CONCURRENT_CQ_HANDLERS, Check.BLOCKING, Check.LEFTOVER)
        .allowLeftovers();
    await(kit.fabric().addDevice("bad%d", 1, BrokenDrivers.CONCURRENT_HANDLERS.decorator()));
    HoardingClient hoarder = new HoardingClient();
    ClientId id = kit.registerClient(hoarder);
    kit.unregisterClient(id);
    Await.eventually(() -> assertSeen(Check.CALLBACK_AFTER_REMOVE, "[C15 check 6 CALLBACK_AFTER_REMOVE] completion "
        + "handler of CQ"));
    assertSeen(Check.CALLBACK_AFTER_REMOVE, "called back " + id + " after its remove of the device returned");
  }

  @Test
  @DisplayName("check 9 (C14): a client using a device in another device's add, before its own add, is caught")
  void verbBeforeAdd() {
    kit.expectViolations(Check.OUTSIDE_ADD_REMOVE);
    LoopbackDevice lo0 = kit.addDevice("lo%d", 1);
    LoopbackDevice lo1 = kit.addDevice("lo%d", 1);
    ClientId id = kit.registerClient(new Client() {
      @Override
      public String name() {
        return "eager";
      }

      @Override
      public boolean add(Device device, ClientId self) {
        if (device == lo0.device()) { // clients are added in device order: lo1's add has not run yet
          await(await(lo1.device().allocPd()).dealloc());
        }
        return true;
      }

      @Override
      public void remove(Device device, ClientId self, Object clientData) {}
    });
    assertSeen(Check.OUTSIDE_ADD_REMOVE, "[C14 check 9 OUTSIDE_ADD_REMOVE] " + id + " called allocPd on device "
        + lo1.name());
    assertSeen(Check.OUTSIDE_ADD_REMOVE, "before its add of that device");
    assertEquals(1, seen(Check.OUTSIDE_ADD_REMOVE).size(), () -> kit.monitor().report());
  }

  @Test
  @DisplayName("check 9 (C15): a ULP polling its CQ after its remove returned is caught (and refused)")
  void verbAfterRemove() {
    kit.expectViolations(Check.OUTSIDE_ADD_REMOVE, Check.LEFTOVER).allowLeftovers();
    kit.addDevice("lo%d", 1);
    HoardingClient hoarder = new HoardingClient();
    kit.unregisterClient(kit.registerClient(hoarder));
    CompletionQueue cq = hoarder.cq.get();
    assertThrows(RuntimeException.class, cq::poll); // reclaimed: refused with a typed error
    assertSeen(Check.OUTSIDE_ADD_REMOVE, "[C15 check 9 OUTSIDE_ADD_REMOVE] ib_poll_cq on CQ");
    assertSeen(Check.OUTSIDE_ADD_REMOVE, "after its client's remove of the device returned");
  }

  @Test
  @DisplayName("a well-behaved ULP on the loopback driver: no violation, and the ledger balances")
  void cleanRun() {
    try (ConnectedPair p = ConnectedPair.rc(kit).build()) {
      Traffic.pingPong(p, 50, 8, java.time.Duration.ofSeconds(30));
    }
    ContractMonitor m = kit.monitor();
    assertEquals(List.of(), m.verify(), m::report);
    assertTrue(m.ledger().accepted() >= 200, m.ledger()::toString);
    assertEquals(0, m.ledger().outstanding(), m.ledger()::toString);
  }
}
