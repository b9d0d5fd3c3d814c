package dev.midlayer.context;

import static dev.midlayer.testsupport.EventFixtures.TIMEOUT;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortState;
import dev.midlayer.monitor.Check;
import dev.midlayer.testsupport.ContextTestClient;
import dev.midlayer.testsupport.EventRecorder;
import dev.midlayer.testsupport.ExpectViolations;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.TestDriver;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The context rule (seed: "Upper level protocol consumers may not sleep in a callback"; reference 9.1):
 * may-sleep verbs are refused in atomic context (inside an event handler) and allowed in a client's
 * {@code add}; non-sleeping verbs work anywhere; {@code midlayer.context-check} selects strict, warn or
 * off.
 */
class ContextRuleTest {
  private static final String HANDLER = "ctx-handler";
  private static final Object NO_EXCEPTION = "no exception";

  private ActorTestKit kit;

  private ActorTestKit kit() {
    if (kit == null) {
      kit = ActorTestKit.create("ContextRuleTest");
    }
    return kit;
  }

  private ActorTestKit kit(String contextCheck) {
    kit = ActorTestKit.create("ContextRuleTest" + contextCheck,
        ConfigFactory.parseString("midlayer.context-check = " + contextCheck).withFallback(ConfigFactory.load()));
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

  /** Runs each call inside the handler on {@code trigger}, recording what it threw (or NO_EXCEPTION). */
  private static EventRecorder callingHandler(AsyncEvent[] trigger, Map<String, Supplier<?>> calls,
      Map<String, Object> outcome) {
    return new EventRecorder(HANDLER, e -> {
      if (e != trigger[0]) {
        return;
      }
      for (Map.Entry<String, Supplier<?>> c : calls.entrySet()) {
        try {
          Object result = c.getValue().get();
          outcome.put(c.getKey(), result == null ? NO_EXCEPTION : result);
        } catch (Throwable t) {
          outcome.put(c.getKey(), t);
        }
      }
    });
  }

  @Test
  @DisplayName("inside an event handler the registry's and the device's may-sleep verbs throw IllegalContextException "
      + "naming the verb and the handler (every verb of the API, on a driver with QPs: MaySleepVerbsInCallbacksTest)")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void maySleepVerbsInsideAnEventHandlerThrowIllegalContextException() {
    Midlayer ml = midlayer();
    TestDriver driver = new TestDriver();
    Device dev = await(ml.registerDevice("ctx%d", driver.ops()));
    ClientId victim = await(ml.registerClient(new ContextTestClient("victim")));
    AtomicReference<EventHandlerRegistration> self = new AtomicReference<>();
    Map<String, Supplier<?>> calls = new LinkedHashMap<>();
    calls.put("registerDevice", () -> ml.registerDevice("never%d", new TestDriver().ops()));
    calls.put("unregisterDevice", () -> ml.unregisterDevice(dev));
    calls.put("registerClient(Client)", () -> ml.registerClient(new ContextTestClient("never")));
    calls.put("registerClient(String, Behavior)", () -> ml.registerClient("never-b",
        Behaviors.<ClientMessage>ignore()));
    ActorRef<ClientMessage> existing = kit().<ClientMessage>createTestProbe().getRef();
    calls.put("registerClient(String, ActorRef)", () -> ml.registerClient("never-r", existing));
    calls.put("unregisterClient", () -> ml.unregisterClient(victim));
    calls.put("queryDevice", dev::queryDevice);
    calls.put("queryPort", () -> dev.queryPort(1));
    calls.put("registerEventHandler", () -> dev.registerEventHandler("never", e -> {}));
    calls.put("unregisterEventHandler", () -> dev.unregisterEventHandler(self.get()));
    Map<String, Object> outcome = new ConcurrentHashMap<>();
    AsyncEvent[] trigger = {AsyncEvent.ofPort(dev, AsyncEventType.PORT_ACTIVE, 1)};
    EventRecorder h = callingHandler(trigger, calls, outcome);
    self.set(await(dev.registerEventHandler(HANDLER, h)));

    Internal.dispatch(dev, trigger[0]);
    h.awaitEvent(trigger[0], TIMEOUT);

    assertEquals(calls.keySet(), outcome.keySet());
    List<org.junit.jupiter.api.function.Executable> checks = new ArrayList<>();
    for (String key : calls.keySet()) {
      String verb = key.contains("(") ? key.substring(0, key.indexOf('(')) : key;
      checks.add(() -> {
        IllegalContextException ex = assertInstanceOf(IllegalContextException.class, outcome.get(key), key);
        assertEquals(verb, ex.verb(), key);
        assertTrue(ex.callback().contains("'" + HANDLER + "'"), key + ": " + ex.callback());
        assertTrue(ex.callback().contains(dev.name()), key + ": " + ex.callback());
        assertTrue(ex.getMessage().contains(verb) && ex.getMessage().contains(ex.callback()), ex.getMessage());
      });
    }
    assertAll(checks);

    // Nothing happened: refused verbs change nothing, and the handler is still registered.
    assertEquals(List.of(dev), ml.devices());
    assertEquals(List.of(victim), ml.clients());
    AsyncEvent again = AsyncEvent.ofPort(dev, AsyncEventType.SM_CHANGE, 1);
    Internal.dispatch(dev, again);
    h.awaitEvent(again, TIMEOUT);
  }

  @Test
  @DisplayName("the same may-sleep verbs succeed when called from a client's add")
  void maySleepVerbsSucceedFromAClientsAdd() throws Exception {
    Midlayer ml = midlayer();
    Device dev = await(ml.registerDevice("ctx%d", new TestDriver().ops()));
    Device doomed = await(ml.registerDevice("doomed%d", new TestDriver().ops()));
    ClientId victim = await(ml.registerClient(new ContextTestClient("victim")));
    TestDriver lateDriver = new TestDriver();
    Map<String, Object> outcome = new ConcurrentHashMap<>();
    AtomicBoolean atomicInAdd = new AtomicBoolean(true);
    AtomicBoolean first = new AtomicBoolean(true);
    EventRecorder fromAdd = new EventRecorder("from-add");
    ContextTestClient adder = new ContextTestClient("adder", (device, self) -> {
      if (device != dev || !first.compareAndSet(true, false)) {
        return;
      }
      atomicInAdd.set(AtomicContext.isAtomic());
      // Verbs served by the device actor may be waited for here (add may sleep) ...
      outcome.put("queryDevice", call(() -> device.queryDevice().toCompletableFuture().get(5, TimeUnit.SECONDS)));
      outcome.put("queryPort", call(() -> device.queryPort(1).toCompletableFuture().get(5, TimeUnit.SECONDS)));
      Object reg = call(() -> device.registerEventHandler("from-add", fromAdd)
          .toCompletableFuture().get(5, TimeUnit.SECONDS));
      outcome.put("registerEventHandler", reg);
      if (reg instanceof EventHandlerRegistration r) {
        outcome.put("unregisterEventHandler", call(() -> device.unregisterEventHandler(r)
            .toCompletableFuture().get(5, TimeUnit.SECONDS)));
      }
      // ... registry verbs only return a stage: waiting for it in add would deadlock the registry.
      outcome.put("registerDevice", call(() -> ml.registerDevice("late%d", lateDriver.ops())));
      outcome.put("registerClient", call(() -> ml.registerClient(new ContextTestClient("from-add-client"))));
      outcome.put("unregisterClient", call(() -> ml.unregisterClient(victim)));
      outcome.put("unregisterDevice", call(() -> ml.unregisterDevice(doomed)));
    });
    ClientId adderId = await(ml.registerClient(adder));

    assertFalse(atomicInAdd.get(), "add does not run in atomic context");
    for (String verb : List.of("queryDevice", "queryPort", "registerEventHandler", "unregisterEventHandler",
        "registerDevice", "registerClient", "unregisterClient", "unregisterDevice")) {
      Object result = outcome.get(verb);
      assertFalse(result == null || result instanceof Throwable, verb + " from add: " + result);
    }
    assertEquals(PortState.ACTIVE, ((PortAttributes) outcome.get("queryPort")).state());
    Device late = await(asStage(outcome.get("registerDevice")));
    ClientId other = await(asStage(outcome.get("registerClient")));
    await(asStage(outcome.get("unregisterClient")));
    await(asStage(outcome.get("unregisterDevice")));
    assertEquals(List.of(dev, late), ml.devices());
    assertEquals(List.of(adderId, other), ml.clients());
    assertTrue(adder.added().contains(late.name()), "adder got add for the device it registered: " + adder.added());
  }

  @SuppressWarnings("unchecked")
  private static <T> CompletionStage<T> asStage(Object o) {
    return (CompletionStage<T>) o;
  }

  private interface Call {
    Object run() throws Exception;
  }

  private static Object call(Call c) {
    try {
      Object r = c.run();
      return r == null ? NO_EXCEPTION : r;
    } catch (Throwable t) {
      return t;
    }
  }

  @Test
  @DisplayName("non-sleeping verbs (dispatchEvent, getClientData, cachedPort, devices, ...) work inside an event handler")
  void nonSleepingVerbsWorkInsideAnEventHandler() {
    Midlayer ml = midlayer();
    Device dev = await(ml.registerDevice("ctx%d", new TestDriver(2).ops()));
    ClientId holder = await(ml.registerClient(new ContextTestClient("holder",
        (device, self) -> device.setClientData(self, "payload of " + device.name()))));
    AsyncEvent followUp = AsyncEvent.ofDevice(dev, AsyncEventType.DEVICE_FATAL);
    Map<String, Supplier<?>> calls = new LinkedHashMap<>();
    calls.put("dispatchEvent", () -> {
      Internal.dispatch(dev, followUp);
      return null;
    });
    calls.put("getClientData", () -> dev.getClientData(holder));
    calls.put("cachedPort", () -> dev.cachedPort(2).state());
    calls.put("devices", ml::devices);
    calls.put("device", () -> ml.device(dev.name()).orElse(null));
    calls.put("clients", ml::clients);
    calls.put("snapshot", () -> ml.snapshot().devices());
    calls.put("attributes", () -> dev.attributes().physPortCount());
    calls.put("state", dev::state);
    calls.put("isAtomic", AtomicContext::isAtomic);
    Map<String, Object> outcome = new ConcurrentHashMap<>();
    AsyncEvent[] trigger = {AsyncEvent.ofPort(dev, AsyncEventType.PORT_ERR, 2)};
    EventRecorder h = callingHandler(trigger, calls, outcome);
    await(dev.registerEventHandler(HANDLER, h));

    Internal.dispatch(dev, trigger[0]);
    h.awaitEvent(followUp, TIMEOUT);

    assertAll(
        () -> assertSame(NO_EXCEPTION, outcome.get("dispatchEvent")),
        () -> assertEquals("payload of " + dev.name(), outcome.get("getClientData")),
        () -> assertEquals(PortState.ACTIVE, outcome.get("cachedPort")),
        () -> assertEquals(List.of(dev), outcome.get("devices")),
        () -> assertSame(dev, outcome.get("device")),
        () -> assertEquals(List.of(holder), outcome.get("clients")),
        () -> assertEquals(List.of(dev), outcome.get("snapshot")),
        () -> assertEquals(2, outcome.get("attributes")),
        () -> assertEquals(dev.state(), outcome.get("state")),
        () -> assertEquals(true, outcome.get("isAtomic")));
  }

  @Test
  @DisplayName("AtomicContext.run marks the thread, nests (inner name reported) and restores the outer mark")
  void atomicContextRunNestsAndRestores() {
    assertFalse(AtomicContext.isAtomic());
    assertNull(AtomicContext.currentCallback());
    List<String> seen = new ArrayList<>();
    AtomicContext.run("outer", () -> {
      seen.add(AtomicContext.currentCallback() + ":" + AtomicContext.isAtomic());
      AtomicContext.run("inner", () -> seen.add(AtomicContext.currentCallback() + ":" + AtomicContext.isAtomic()));
      seen.add(AtomicContext.currentCallback());
    });
    assertEquals(List.of("outer:true", "inner:true", "outer"), seen);
    assertFalse(AtomicContext.isAtomic());
    assertNull(AtomicContext.currentCallback());
  }

  @Test
  @DisplayName("AtomicContext.run restores the outer mark when the body throws, and the exception propagates")
  void atomicContextRunRestoresWhenTheBodyThrows() {
    AtomicReference<String> afterInner = new AtomicReference<>();
    IllegalStateException ex = assertThrows(IllegalStateException.class, () -> AtomicContext.run("outer", () -> {
      try {
        AtomicContext.run("inner", () -> {
          throw new IllegalStateException("inner failed");
        });
      } finally {
        afterInner.set(AtomicContext.currentCallback());
      }
    }));
    assertEquals("inner failed", ex.getMessage());
    assertEquals("outer", afterInner.get());
    assertFalse(AtomicContext.isAtomic());
  }

  @Test
  @DisplayName("the atomic-context mark is per thread: another thread is not atomic")
  void atomicContextIsPerThread() throws Exception {
    AtomicReference<Boolean> other = new AtomicReference<>();
    AtomicContext.run("here", () -> {
      Thread t = new Thread(() -> other.set(AtomicContext.isAtomic()));
      t.start();
      try {
        t.join(TIMEOUT.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    assertEquals(false, other.get());
  }

  @Test
  @DisplayName("ContextChecker: strict throws only in atomic context, warn and off never throw")
  void contextCheckerModes() {
    ContextChecker strict = new ContextChecker(ContextCheckMode.STRICT);
    strict.mightSleep("verbOutside"); // not atomic: fine
    IllegalContextException ex = assertThrows(IllegalContextException.class,
        () -> AtomicContext.run("cq handler 'x'", () -> strict.mightSleep("createQp")));
    assertEquals("createQp", ex.verb());
    assertEquals("cq handler 'x'", ex.callback());
    AtomicContext.run("cb", () -> new ContextChecker(ContextCheckMode.WARN).mightSleep("v"));
    AtomicContext.run("cb", () -> new ContextChecker(ContextCheckMode.OFF).mightSleep("v"));
  }

  @Test
  @DisplayName("with midlayer.context-check = warn a may-sleep verb in a handler logs a warning and runs")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void warnModeLogsAndRunsTheVerb() {
    ActorTestKit warn = kit("warn");
    Midlayer ml = Midlayer.get(warn.system());
    assertEquals(ContextCheckMode.WARN, ml.contextChecker().mode());
    Device dev = await(ml.registerDevice("warn%d", new TestDriver().ops()));
    EventRecorder lateHandler = new EventRecorder("registered-in-handler");
    Map<String, Supplier<?>> calls = new LinkedHashMap<>();
    calls.put("queryPort", () -> dev.queryPort(1));
    calls.put("registerEventHandler", () -> dev.registerEventHandler("registered-in-handler", lateHandler));
    Map<String, Object> outcome = new ConcurrentHashMap<>();
    AsyncEvent[] trigger = {AsyncEvent.ofPort(dev, AsyncEventType.PORT_ACTIVE, 1)};
    EventRecorder h = callingHandler(trigger, calls, outcome);
    await(dev.registerEventHandler(HANDLER, h));

    LoggingTestKit.warn("queryPort may sleep but was called from atomic context (inside event handler '"
            + HANDLER + "' on " + dev.name() + ")")
        .expect(warn.system(), () -> {
          Internal.dispatch(dev, trigger[0]);
          h.awaitEvent(trigger[0], TIMEOUT);
          return null;
        });

    PortAttributes port = (PortAttributes) await(asStage(outcome.get("queryPort")));
    assertEquals(PortState.ACTIVE, port.state());
    EventHandlerRegistration reg = (EventHandlerRegistration) await(asStage(outcome.get("registerEventHandler")));
    assertEquals("registered-in-handler", reg.name());
    AsyncEvent later = AsyncEvent.ofPort(dev, AsyncEventType.SM_CHANGE, 1);
    Internal.dispatch(dev, later);
    lateHandler.awaitEvent(later, TIMEOUT);
  }

  @Test
  @DisplayName("with midlayer.context-check = off a may-sleep verb in a handler runs without exception or warning")
  void offModeRunsTheVerbUnchecked() {
    ActorTestKit off = kit("off");
    Midlayer ml = Midlayer.get(off.system());
    assertEquals(ContextCheckMode.OFF, ml.contextChecker().mode());
    Device dev = await(ml.registerDevice("off%d", new TestDriver().ops()));
    Map<String, Supplier<?>> calls = new LinkedHashMap<>();
    calls.put("queryPort", () -> dev.queryPort(1));
    calls.put("registerClient", () -> ml.registerClient(new ContextTestClient("from-handler")));
    Map<String, Object> outcome = new ConcurrentHashMap<>();
    AsyncEvent[] trigger = {AsyncEvent.ofPort(dev, AsyncEventType.PORT_ACTIVE, 1)};
    EventRecorder h = callingHandler(trigger, calls, outcome);
    await(dev.registerEventHandler(HANDLER, h));

    LoggingTestKit.warn("may sleep but was called from atomic context").withOccurrences(0)
        .expect(off.system(), () -> {
          Internal.dispatch(dev, trigger[0]);
          h.awaitEvent(trigger[0], TIMEOUT);
          return null;
        });

    PortAttributes port = (PortAttributes) await(asStage(outcome.get("queryPort")));
    assertEquals(PortState.ACTIVE, port.state());
    ClientId id = (ClientId) await(asStage(outcome.get("registerClient")));
    assertEquals(List.of(id), ml.clients());
  }

  @ParameterizedTest
  @ValueSource(strings = {"strict", "STRICT", " Warn ", "off", "oFF"})
  @DisplayName("ContextCheckMode.parse accepts strict, warn and off in any case")
  void contextCheckModeParseAcceptsKnownValues(String value) {
    assertEquals(value.trim().toUpperCase(), ContextCheckMode.parse(value).name());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "maybe", "strictly", "on", "true", "warning"})
  @DisplayName("ContextCheckMode.parse rejects bad values with a message naming the key and the value")
  void contextCheckModeParseRejectsBadValues(String value) {
    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> ContextCheckMode.parse(value));
    assertTrue(ex.getMessage().contains("midlayer.context-check"), ex.getMessage());
    assertTrue(ex.getMessage().contains("'" + value + "'"), ex.getMessage());
  }

  @Test
  @DisplayName("the default context-check mode is strict (reference.conf)")
  void defaultModeIsStrict() {
    assertEquals(ContextCheckMode.STRICT, midlayer().contextChecker().mode());
  }
}
