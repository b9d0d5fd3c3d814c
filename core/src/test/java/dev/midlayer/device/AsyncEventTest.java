package dev.midlayer.device;

import dev.midlayer.testsupport.Internal;
import static dev.midlayer.testsupport.EventFixtures.TIMEOUT;
import static dev.midlayer.testsupport.EventFixtures.await;
import static dev.midlayer.testsupport.EventFixtures.awaitFailure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.Midlayer;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortState;
import dev.midlayer.registry.NotRegisteredException;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.testsupport.EventFixtures;
import dev.midlayer.testsupport.EventJournal;
import dev.midlayer.testsupport.EventRecorder;
import dev.midlayer.testsupport.TestDriver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Unaffiliated async events ({@code ib_dispatch_event} / {@code ib_register_event_handler}): delivery,
 * ordering, the no-callback-from-the-call-chain rule (I6), one handler at a time, handler
 * (un)registration fences, validation, and what unregistering the device does to handlers.
 */
class AsyncEventTest {
  private static final int THREADS = 4;
  private static final int PER_THREAD = 500;
  private static final ThreadLocal<Boolean> IN_DISPATCH = ThreadLocal.withInitial(() -> false);

  private ActorTestKit kit;

  private ActorTestKit kit() {
    if (kit == null) {
      kit = ActorTestKit.create("AsyncEventTest");
    }
    return kit;
  }

  private Midlayer midlayer() {
    return Midlayer.get(kit().system());
  }

  @AfterEach
  void shutdown() {
    if (kit != null) {
      kit.shutdownTestKit();
      kit = null;
    }
  }

  private Device register(TestDriver driver) {
    Device d = await(midlayer().registerDevice("ev%d", driver.ops()));
    assertSame(d, driver.device(), "enable_driver got the same handle");
    return d;
  }

  private static EventRecorder handler(Device d, EventRecorder r) {
    await(d.registerEventHandler(r.name(), r));
    return r;
  }

  /** A marker event: a non-refreshing port event that is compared by identity. */
  private static AsyncEvent marker(Device d) {
    return AsyncEvent.ofPort(d, AsyncEventType.SM_CHANGE, 1);
  }

  /** Dispatches a fresh marker and waits until {@code last} got it: every earlier event was handled. */
  private static AsyncEvent flush(Device d, EventRecorder last) {
    AsyncEvent m = marker(d);
    Internal.dispatch(d, m);
    last.awaitEvent(m, TIMEOUT);
    return m;
  }

  // ---- the concurrent scenario: 4 threads x 500 events, 3 handlers ----

  private record Origin(int thread, int seq) {}

  private record Scenario(EventRecorder[] handlers, EventJournal journal, Map<AsyncEvent, Origin> origin,
      AsyncEvent marker, List<Throwable> dispatchErrors) {}

  private Scenario runConcurrentDispatch() throws InterruptedException {
    TestDriver driver = new TestDriver(THREADS);
    Device d = register(driver);
    EventJournal journal = new EventJournal();
    EventRecorder[] handlers = new EventRecorder[3];
    for (int i = 0; i < handlers.length; i++) {
      handlers[i] = handler(d, new EventRecorder("h" + (i + 1), journal, null));
    }
    // Thread t dispatches on port t+1; (thread, seq) is kept in a side table keyed by event identity.
    AsyncEvent[][] events = new AsyncEvent[THREADS][PER_THREAD];
    Map<AsyncEvent, Origin> origin = new IdentityHashMap<>();
    for (int t = 0; t < THREADS; t++) {
      for (int s = 0; s < PER_THREAD; s++) {
        AsyncEventType type = s % 2 == 0 ? AsyncEventType.LID_CHANGE : AsyncEventType.SM_CHANGE;
        events[t][s] = AsyncEvent.ofPort(d, type, t + 1);
        origin.put(events[t][s], new Origin(t, s));
      }
    }
    List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      AsyncEvent[] mine = events[t];
      Thread th = new Thread(() -> {
        try {
          start.await();
          for (AsyncEvent e : mine) {
            Internal.dispatch(d, e);
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      }, "dispatcher-" + t);
      threads.add(th);
      th.start();
    }
    start.countDown();
    for (Thread th : threads) {
      th.join(TIMEOUT.toMillis());
      assertFalse(th.isAlive(), th.getName() + " did not finish dispatching");
    }
    AsyncEvent m = flush(d, handlers[2]);
    return new Scenario(handlers, journal, origin, m, errors);
  }

  @Test
  @DisplayName("4 threads x 500 concurrent events: every event reaches every one of 3 handlers exactly once")
  void everyEventReachesEveryHandlerExactlyOnce() throws Exception {
    Scenario s = runConcurrentDispatch();
    assertTrue(s.dispatchErrors().isEmpty(), "dispatchEvent threw: " + s.dispatchErrors());
    for (EventRecorder h : s.handlers()) {
      List<AsyncEvent> got = h.events();
      assertEquals(THREADS * PER_THREAD + 1, got.size(), h.name() + " event count");
      Set<AsyncEvent> seen = Collections.newSetFromMap(new IdentityHashMap<>());
      for (AsyncEvent e : got) {
        assertTrue(seen.add(e), h.name() + " got " + e + " twice");
        assertTrue(e == s.marker() || s.origin().containsKey(e), h.name() + " got an event nobody dispatched");
      }
      assertEquals(s.origin().size() + 1, seen.size());
    }
  }

  @Test
  @DisplayName("4 threads x 500 concurrent events: each dispatching thread's order is kept for every handler")
  void perThreadDispatchOrderIsKept() throws Exception {
    Scenario s = runConcurrentDispatch();
    assertTrue(s.dispatchErrors().isEmpty(), "dispatchEvent threw: " + s.dispatchErrors());
    for (EventRecorder h : s.handlers()) {
      int[] next = new int[THREADS];
      for (AsyncEvent e : h.events()) {
        if (e == s.marker()) {
          continue;
        }
        Origin o = s.origin().get(e);
        assertEquals(next[o.thread()], o.seq(),
            h.name() + ": thread " + o.thread() + "'s events out of order");
        assertEquals(o.thread() + 1, e.portNum());
        next[o.thread()]++;
      }
      for (int t = 0; t < THREADS; t++) {
        assertEquals(PER_THREAD, next[t], h.name() + " missed events of thread " + t);
      }
      assertSame(s.marker(), h.events().get(h.size() - 1), "the marker dispatched last came last");
    }
  }

  @Test
  @DisplayName("handlers are called in registration order for each event (handler 1 sees it before handler 2)")
  void handlersAreCalledInRegistrationOrderForEachEvent() throws Exception {
    Scenario s = runConcurrentDispatch();
    List<EventJournal.Entry> entries = s.journal().entries();
    assertEquals(3 * (THREADS * PER_THREAD + 1), entries.size());
    for (int i = 0; i < entries.size(); i += 3) {
      AsyncEvent e = entries.get(i).event();
      for (int k = 0; k < 3; k++) {
        EventJournal.Entry entry = entries.get(i + k);
        assertEquals("h" + (k + 1), entry.handler(), "invocation " + (i + k) + " for " + e);
        assertSame(e, entry.event(), "all handlers see an event before any handler sees the next");
      }
    }
  }

  @Test
  @DisplayName("only one handler invocation runs at a time per device, even with 4 dispatching threads")
  void onlyOneHandlerInvocationRunsAtATimePerDevice() throws Exception {
    Scenario s = runConcurrentDispatch();
    assertEquals(1, s.journal().maxConcurrent(), "handler invocations overlapped");
  }

  @Test
  @DisplayName("dispatchEvent returns before any handler runs: no callback from the caller's call chain (I6)")
  void dispatchEventReturnsBeforeHandlerRuns() {
    Device d = register(new TestDriver());
    CountDownLatch dispatchReturned = new CountDownLatch(1);
    AtomicBoolean markerSetInHandler = new AtomicBoolean(true);
    AtomicBoolean handlerWaitedForReturn = new AtomicBoolean(false);
    AtomicBoolean atomicInHandler = new AtomicBoolean(false);
    AtomicReference<String> callbackInHandler = new AtomicReference<>();
    EventRecorder h = handler(d, new EventRecorder("deferred", e -> {
      markerSetInHandler.set(IN_DISPATCH.get());
      atomicInHandler.set(AtomicContext.isAtomic());
      callbackInHandler.set(AtomicContext.currentCallback());
      try {
        // Were the handler called from inside dispatchEvent, this would time out: the caller is stuck in it.
        handlerWaitedForReturn.set(dispatchReturned.await(5, TimeUnit.SECONDS));
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
    }));
    AsyncEvent e = AsyncEvent.ofPort(d, AsyncEventType.PORT_ACTIVE, 1);
    IN_DISPATCH.set(true);
    try {
      Internal.dispatch(d, e);
    } finally {
      IN_DISPATCH.set(false);
    }
    assertFalse(h.sawIdentical(e), "the handler ran inside dispatchEvent");
    dispatchReturned.countDown();
    h.awaitEvent(e, TIMEOUT);
    flush(d, h);
    assertNotSame(Thread.currentThread(), h.threads().get(0), "handler ran on the dispatching thread");
    assertFalse(markerSetInHandler.get(), "the handler saw the dispatching call chain's marker");
    assertTrue(handlerWaitedForReturn.get(), "the handler ran before dispatchEvent returned");
    assertTrue(atomicInHandler.get(), "handlers run in atomic context");
    assertEquals("event handler 'deferred' on " + d.name(), callbackInHandler.get());
    assertFalse(AtomicContext.isAtomic(), "the dispatching thread is not left in atomic context");
  }

  @Test
  @DisplayName("after unregisterEventHandler's stage completes the handler never runs again")
  void unregisteredHandlerNeverRunsAgain() throws Exception {
    Device d = register(new TestDriver());
    AtomicBoolean unregistered = new AtomicBoolean(false);
    ConcurrentLinkedQueue<AsyncEvent> lateCalls = new ConcurrentLinkedQueue<>();
    EventRecorder keeper = handler(d, new EventRecorder("keeper"));
    EventRecorder leaver = new EventRecorder("leaver", e -> {
      if (unregistered.get()) {
        lateCalls.add(e);
      }
    });
    EventHandlerRegistration reg = await(d.registerEventHandler("leaver", leaver));
    // Keep events flowing from another thread during and after the unregistration.
    AtomicBoolean stop = new AtomicBoolean(false);
    List<Throwable> pumpErrors = Collections.synchronizedList(new ArrayList<>());
    Thread pump = new Thread(() -> {
      try {
        int sent = 0;
        while (!stop.get()) {
          Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.SM_CHANGE, 1));
          if (++sent % 50 == 0) {
            keeper.waitForCount(sent - 200, Duration.ofMillis(20)); // bound the backlog
          }
        }
      } catch (Throwable t) {
        pumpErrors.add(t);
      }
    }, "pump");
    pump.start();
    try {
      leaver.awaitCount(50, TIMEOUT);
      // From the instant the stage completes, every call of the leaver is a late one.
      await(reg.unregister().whenComplete((v, e) -> unregistered.set(true)));
      int leaverCountAtUnregister = leaver.size();
      int keeperCountAtUnregister = keeper.size();
      keeper.awaitCount(keeperCountAtUnregister + 500, TIMEOUT);
      stop.set(true);
      pump.join(TIMEOUT.toMillis());
      AsyncEvent m = flush(d, keeper);
      assertTrue(pumpErrors.isEmpty(), "dispatchEvent threw: " + pumpErrors);
      assertTrue(lateCalls.isEmpty(), "unregistered handler ran " + lateCalls.size() + " times afterwards");
      assertEquals(leaverCountAtUnregister, leaver.size());
      assertFalse(leaver.sawIdentical(m));
    } finally {
      stop.set(true);
      pump.join(TIMEOUT.toMillis());
    }
    Throwable again = awaitFailure(d.unregisterEventHandler(reg));
    assertInstanceOf(NotRegisteredException.class, again, "unregistering twice");
  }

  @Test
  @DisplayName("a handler registered later gets only events dispatched after its registration")
  void laterRegisteredHandlerGetsOnlyLaterEvents() {
    Device d = register(new TestDriver(2));
    EventRecorder early = handler(d, new EventRecorder("early"));
    List<AsyncEvent> before = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      AsyncEvent e = AsyncEvent.ofPort(d, AsyncEventType.PKEY_CHANGE, 1 + i % 2);
      before.add(e);
      Internal.dispatch(d, e);
    }
    EventRecorder late = handler(d, new EventRecorder("late"));
    List<AsyncEvent> after = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      AsyncEvent e = AsyncEvent.ofPort(d, AsyncEventType.CLIENT_REREGISTER, 1 + i % 2);
      after.add(e);
      Internal.dispatch(d, e);
    }
    AsyncEvent m = flush(d, late);
    List<AsyncEvent> expectedLate = new ArrayList<>(after);
    expectedLate.add(m);
    assertIdentical(expectedLate, late.events(), "late handler");
    List<AsyncEvent> expectedEarly = new ArrayList<>(before);
    expectedEarly.addAll(expectedLate);
    assertIdentical(expectedEarly, early.events(), "early handler");
  }

  @Test
  @DisplayName("an exception thrown by one handler is logged and the other handlers still get the event")
  void exceptionInOneHandlerIsLoggedAndOthersStillGetTheEvent() {
    Device d = register(new TestDriver());
    EventJournal journal = new EventJournal();
    EventRecorder first = handler(d, new EventRecorder("first", journal, null));
    EventRecorder bad = handler(d, new EventRecorder("bad", journal, e -> {
      throw new IllegalStateException("boom from bad handler");
    }));
    EventRecorder third = handler(d, new EventRecorder("third", journal, null));
    List<AsyncEvent> sent = new ArrayList<>();
    LoggingTestKit.error("event handler 'bad' on " + d.name() + " threw on")
        .withCause(IllegalStateException.class)
        .withOccurrences(5)
        .expect(kit().system(), () -> {
          for (int i = 0; i < 5; i++) {
            AsyncEvent e = AsyncEvent.ofDevice(d, AsyncEventType.DEVICE_FATAL);
            sent.add(e);
            Internal.dispatch(d, e);
          }
          third.awaitEvent(sent.get(4), TIMEOUT);
          return null;
        });
    assertIdentical(sent, first.events(), "first handler");
    assertIdentical(sent, bad.events(), "the throwing handler keeps being called");
    assertIdentical(sent, third.events(), "third handler");
    List<EventJournal.Entry> entries = journal.entries();
    for (int i = 0; i < entries.size(); i += 3) {
      assertEquals(List.of("first", "bad", "third"),
          List.of(entries.get(i).handler(), entries.get(i + 1).handler(), entries.get(i + 2).handler()));
    }
  }

  @Test
  @DisplayName("a checked exception thrown by a handler is logged and the other handlers still get the event")
  void checkedExceptionInOneHandlerIsLoggedAndOthersStillGetTheEvent() {
    Device d = register(new TestDriver());
    EventRecorder bad = handler(d, new EventRecorder("bad", e -> {
      throw EventFixtures.sneakyThrow(new IOException("checked boom"));
    }));
    EventRecorder after = handler(d, new EventRecorder("after"));
    AsyncEvent e1 = AsyncEvent.ofPort(d, AsyncEventType.PORT_ERR, 1);
    LoggingTestKit.error("event handler 'bad' on " + d.name() + " threw on")
        .withCause(IOException.class)
        .expect(kit().system(), () -> {
          Internal.dispatch(d, e1);
          after.awaitEvent(e1, TIMEOUT);
          return null;
        });
    AsyncEvent m = flush(d, after);
    assertTrue(bad.sawIdentical(m), "the throwing handler is still called for later events");
    await(midlayer().unregisterDevice(d));
  }

  @Test
  @DisplayName("the port cache is already refreshed when a handler sees PORT_ERR / PORT_ACTIVE")
  void portCacheIsRefreshedBeforeHandlersSeePortStateEvents() {
    TestDriver driver = new TestDriver(2);
    Device d = register(driver);
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    EventRecorder h = handler(d, new EventRecorder("cache-reader", e -> {
      if (e.type() == AsyncEventType.PORT_ERR || e.type() == AsyncEventType.PORT_ACTIVE) {
        seen.add(e.type() + "@" + e.portNum() + "=" + d.cachedPort(e.portNum()).state()
            + "/other=" + d.cachedPort(3 - e.portNum()).state());
      }
    }));
    assertEquals(PortState.ACTIVE, d.cachedPort(1).state());
    // The refresh reads the driver when the event is handled, so change the link only after the
    // previous event was seen.
    driver.setLink(1, false);
    h.awaitCount(1, TIMEOUT);
    driver.setLink(2, false);
    h.awaitCount(2, TIMEOUT);
    driver.setLink(1, true);
    h.awaitCount(3, TIMEOUT);
    assertEquals(List.of(
        "PORT_ERR@1=DOWN/other=ACTIVE",
        "PORT_ERR@2=DOWN/other=DOWN",
        "PORT_ACTIVE@1=ACTIVE/other=DOWN"), seen);
    assertEquals(PortState.ACTIVE, d.cachedPort(1).state());
    assertEquals(PortState.DOWN, d.cachedPort(2).state());
  }

  @Test
  @DisplayName("the port cache is refreshed before handlers see LID_CHANGE, and not for SM_CHANGE")
  void portCacheIsRefreshedBeforeHandlersSeeLidChange() {
    AtomicInteger lid = new AtomicInteger(7);
    DeviceOps ops = DeviceOps.builder("lid-drv")
        .queryDevice(() -> DeviceAttributes.builder().build())
        .queryPort(p -> PortAttributes.builder().lid(lid.get()).build())
        .build();
    Device d = await(midlayer().registerDevice("lid%d", ops));
    List<Integer> lids = Collections.synchronizedList(new ArrayList<>());
    EventRecorder h = handler(d, new EventRecorder("lid-reader", e -> lids.add(d.cachedPort(1).lid())));
    assertEquals(7, d.cachedPort(1).lid());
    lid.set(9);
    Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.LID_CHANGE, 1));
    h.awaitCount(1, TIMEOUT);
    lid.set(11);
    Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.LID_CHANGE, 1));
    h.awaitCount(2, TIMEOUT);
    AsyncEvent m = marker(d); // SM_CHANGE does not refresh the cache
    lid.set(13);
    Internal.dispatch(d, m);
    h.awaitEvent(m, TIMEOUT);
    assertEquals(List.of(9, 11, 11), lids);
  }

  @Test
  @DisplayName("dispatchEvent rejects affiliated events (QP/CQ/SRQ/WQ) with InvalidArgumentException")
  void affiliatedEventsAreRejectedByDispatchEvent() {
    Device d = register(new TestDriver());
    EventRecorder h = handler(d, new EventRecorder("h"));
    int rejected = 0;
    for (AsyncEventType type : AsyncEventType.values()) {
      if (!type.affiliated()) {
        continue;
      }
      EventElement element = switch (type.element()) {
        case QP -> new EventElement.OfQp(17);
        case CQ -> new EventElement.OfCq(3);
        case SRQ -> new EventElement.OfSrq(4);
        case WQ -> new EventElement.OfWq(5);
        default -> throw new AssertionError(type);
      };
      AsyncEvent e = new AsyncEvent(d, type, element);
      InvalidArgumentException ex = assertThrows(InvalidArgumentException.class, () -> Internal.dispatch(d, e),
          type.toString());
      assertEquals("event.type", ex.field());
      assertTrue(ex.getMessage().contains(type.toString()), ex.getMessage());
      rejected++;
    }
    assertEquals(12, rejected, "CQ_ERR, 7 QP events, 2 SRQ events, QP_LAST_WQE_REACHED, WQ_FATAL");
    AsyncEvent m = flush(d, h);
    assertIdentical(List.of(m), h.events(), "no rejected event was delivered");
  }

  @Test
  @DisplayName("the AsyncEvent constructor rejects an element whose kind does not match the type")
  void mismatchedElementKindIsRejectedByConstructor() {
    Device d = register(new TestDriver());
    List<EventElement> all = List.of(new EventElement.OfDevice(), new EventElement.OfPort(1),
        new EventElement.OfCq(1), new EventElement.OfQp(1), new EventElement.OfSrq(1), new EventElement.OfWq(1));
    for (AsyncEventType type : AsyncEventType.values()) {
      for (EventElement element : all) {
        if (element.kind() == type.element()) {
          assertEquals(type, new AsyncEvent(d, type, element).type());
        } else {
          InvalidArgumentException ex = assertThrows(InvalidArgumentException.class,
              () -> new AsyncEvent(d, type, element), type + " with " + element);
          assertEquals("element", ex.field());
        }
      }
    }
    assertThrows(InvalidArgumentException.class,
        () -> new AsyncEvent(d, AsyncEventType.QP_FATAL, new EventElement.OfPort(1)));
    assertThrows(InvalidArgumentException.class, () -> AsyncEvent.ofDevice(d, AsyncEventType.PORT_ACTIVE));
    assertThrows(InvalidArgumentException.class, () -> AsyncEvent.ofPort(d, AsyncEventType.DEVICE_FATAL, 1));
    assertThrows(InvalidArgumentException.class, () -> AsyncEvent.ofPort(null, AsyncEventType.PORT_ERR, 1));
  }

  @Test
  @DisplayName("dispatchEvent rejects a port the device does not have")
  void portOutOfRangeIsRejected() {
    Device d = register(new TestDriver(4));
    EventRecorder h = handler(d, new EventRecorder("h"));
    for (int port : new int[] {0, -1, 5, 255}) {
      InvalidArgumentException ex = assertThrows(InvalidArgumentException.class,
          () -> Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.PORT_ACTIVE, port)), "port " + port);
      assertEquals("event.element.portNum", ex.field());
    }
    AsyncEvent ok = AsyncEvent.ofPort(d, AsyncEventType.PORT_ACTIVE, 4);
    Internal.dispatch(d, ok);
    AsyncEvent m = flush(d, h);
    assertIdentical(List.of(ok, m), h.events(), "only the valid event was delivered");
  }

  @Test
  @DisplayName("dispatchEvent rejects an event for another device")
  void eventForAnotherDeviceIsRejected() {
    Device a = register(new TestDriver());
    Device b = register(new TestDriver());
    EventRecorder ha = handler(a, new EventRecorder("ha"));
    EventRecorder hb = handler(b, new EventRecorder("hb"));
    AsyncEvent forB = AsyncEvent.ofPort(b, AsyncEventType.PORT_ERR, 1);
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class, () -> Internal.dispatch(a, forB));
    assertEquals("event.device", ex.field());
    assertTrue(ex.getMessage().contains(b.name()) && ex.getMessage().contains(a.name()), ex.getMessage());
    AsyncEvent ma = flush(a, ha);
    AsyncEvent mb = flush(b, hb);
    assertIdentical(List.of(ma), ha.events(), "device a");
    assertIdentical(List.of(mb), hb.events(), "device b");
  }

  @Test
  @DisplayName("dispatchEvent is callable from inside an event handler (non-sleeping, any context)")
  void dispatchEventIsCallableFromInsideAHandler() {
    Device d = register(new TestDriver());
    AsyncEvent trigger = AsyncEvent.ofPort(d, AsyncEventType.GID_CHANGE, 1);
    AsyncEvent followUp = AsyncEvent.ofDevice(d, AsyncEventType.DEVICE_FATAL);
    List<Throwable> problems = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean followUpSeenDuringTrigger = new AtomicBoolean(false);
    EventRecorder first = handler(d, new EventRecorder("redispatcher", e -> {
      if (e == trigger) {
        try {
          Internal.dispatch(d, followUp);
        } catch (Throwable t) {
          problems.add(t);
        }
      }
    }));
    EventRecorder second = handler(d, new EventRecorder("second", e -> {
      if (e == trigger && first.sawIdentical(followUp)) {
        followUpSeenDuringTrigger.set(true);
      }
    }));
    Internal.dispatch(d, trigger);
    second.awaitEvent(followUp, TIMEOUT);
    assertTrue(problems.isEmpty(), "dispatchEvent threw inside a handler: " + problems);
    assertIdentical(List.of(trigger, followUp), first.events(), "first handler");
    assertIdentical(List.of(trigger, followUp), second.events(), "second handler");
    assertFalse(followUpSeenDuringTrigger.get(), "the re-dispatched event was delivered re-entrantly");
  }

  @Test
  @DisplayName("handlers left registered at unregisterDevice are dropped (warned) and never run after it completes")
  void handlersLeftRegisteredAreDroppedByUnregisterDevice() throws Exception {
    TestDriver driver = new TestDriver();
    Device d = register(driver);
    AtomicBoolean gone = new AtomicBoolean(false);
    ConcurrentLinkedQueue<AsyncEvent> lateCalls = new ConcurrentLinkedQueue<>();
    EventRecorder leftover = handler(d, new EventRecorder("leftover", e -> {
      if (gone.get()) {
        lateCalls.add(e);
      }
    }));
    AtomicBoolean stop = new AtomicBoolean(false);
    AtomicReference<Throwable> pumpEnd = new AtomicReference<>();
    Thread pump = new Thread(() -> {
      try {
        int sent = 0;
        while (!stop.get()) {
          Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.SM_CHANGE, 1));
          if (++sent % 50 == 0) {
            leftover.waitForCount(sent - 200, Duration.ofMillis(20)); // bound the backlog
          }
        }
      } catch (Throwable t) {
        pumpEnd.set(t);
      }
    }, "pump");
    pump.start();
    try {
      leftover.awaitCount(20, TIMEOUT);
      // gone is set at the instant unregisterDevice completes: every call from then on is a late one. The
      // warning is the event actor's last act, logged as it stops after handling every event queued before:
      // once both happened, no handler call can follow, and lateCalls is final.
      LoggingTestKit.warn("event handler 'leftover' on " + d.name() + " was still registered")
          .expect(kit().system(), () -> await(midlayer().unregisterDevice(d).whenComplete((v, e) -> gone.set(true))));
      pump.join(TIMEOUT.toMillis());
      assertFalse(pump.isAlive(), "dispatchEvent kept succeeding after unregisterDevice completed");
    } finally {
      stop.set(true);
      pump.join(TIMEOUT.toMillis());
    }
    assertInstanceOf(DeviceUnregisteredException.class, pumpEnd.get());
    assertTrue(lateCalls.isEmpty(), "the dropped handler ran " + lateCalls.size()
        + " times after unregisterDevice completed");
    assertEquals(DeviceState.UNREGISTERED, d.state());
    assertEquals(1, driver.deallocCalls());
    assertThrows(DeviceUnregisteredException.class, () -> d.registerEventHandler("x", e -> {}));
  }

  @Test
  @DisplayName("dispatchEvent after unregisterDevice completed throws DeviceUnregisteredException")
  void dispatchEventAfterUnregisterDeviceThrows() {
    Device d = register(new TestDriver());
    await(midlayer().unregisterDevice(d));
    DeviceUnregisteredException ex = assertThrows(DeviceUnregisteredException.class,
        () -> Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.PORT_ERR, 1)));
    assertTrue(ex.getMessage().contains("dispatchEvent") && ex.getMessage().contains(d.name()), ex.getMessage());
    assertThrows(DeviceUnregisteredException.class,
        () -> Internal.dispatch(d, AsyncEvent.ofDevice(d, AsyncEventType.DEVICE_FATAL)));
  }

  @Test
  @DisplayName("unregisterEventHandler rejects a registration of another device")
  void unregisterEventHandlerRejectsARegistrationOfAnotherDevice() {
    Device a = register(new TestDriver());
    Device b = register(new TestDriver());
    EventHandlerRegistration onB = await(b.registerEventHandler("on-b", e -> {}));
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class, () -> a.unregisterEventHandler(onB));
    assertEquals("registration", ex.field());
    await(onB.unregister());
  }

  private static void assertIdentical(List<AsyncEvent> expected, List<AsyncEvent> actual, String what) {
    if (expected.size() != actual.size()) {
      fail(what + ": expected " + expected.size() + " events, got " + actual.size() + ": " + actual);
    }
    for (int i = 0; i < expected.size(); i++) {
      assertSame(expected.get(i), actual.get(i), what + ": event " + i);
    }
  }
}
