package dev.midlayer.registry;

import dev.midlayer.testsupport.Internal;
import static dev.midlayer.testsupport.RegistryAwait.assertFailsWith;
import static dev.midlayer.testsupport.RegistryAwait.assertNotDone;
import static dev.midlayer.testsupport.RegistryAwait.assertVerbFails;
import static dev.midlayer.testsupport.RegistryAwait.await;
import static dev.midlayer.testsupport.RegistryAwait.block;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage.AddReply;
import dev.midlayer.client.ClientMessage.DeviceAdded;
import dev.midlayer.client.ClientMessage.DeviceRemoved;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.testsupport.RegistryEventLog;
import dev.midlayer.testsupport.RegistryRecordingClient;
import dev.midlayer.testsupport.TestDriver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What clients may do in and around their callbacks (reference 1.3, 1.4, 1.7, 9.2, seed "Hot-plug"):
 * call back into the device, sleep, use client data; and how the registry copes with clients that
 * fail, decline or die.
 */
class ClientCallbackTest {

  private ActorTestKit testKit;
  private Midlayer midlayer;
  private RegistryEventLog log;
  /** Latches a test blocks clients on; all released after each test so no thread stays blocked. */
  private final List<CountDownLatch> latches = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create();
    midlayer = Midlayer.get(testKit.system());
    log = new RegistryEventLog();
  }

  @AfterEach
  void stop() {
    latches.forEach(CountDownLatch::countDown);
    testKit.shutdownTestKit();
  }

  private CountDownLatch latch() {
    CountDownLatch l = new CountDownLatch(1);
    latches.add(l);
    return l;
  }

  private Device registerDevice(String name) {
    return await(midlayer.registerDevice(name, new TestDriver().ops()), "registerDevice " + name);
  }

  private static <T> T join(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  // ---- calling back into the device ----

  @Test
  @DisplayName("a client's add may call back into the device being registered without deadlock")
  void addMayCallBackIntoTheDevice() throws Exception {
    AtomicReference<PortAttributes> port = new AtomicReference<>();
    AtomicReference<DeviceAttributes> attrs = new AtomicReference<>();
    AtomicReference<Object> dataSeenInAdd = new AtomicReference<>();
    AtomicReference<DeviceState> stateInAdd = new AtomicReference<>();
    AtomicReference<EventHandlerRegistration> handler = new AtomicReference<>();
    CompletableFuture<AsyncEvent> event = new CompletableFuture<>();

    await(midlayer.registerClient(new RegistryRecordingClient("ipoib", log)
        .onAdd((d, self) -> {
          stateInAdd.set(d.state());
          port.set(d.queryPort(1).toCompletableFuture().join());
          attrs.set(d.queryDevice().toCompletableFuture().join());
          handler.set(d.registerEventHandler("ipoib", event::complete).toCompletableFuture().join());
          d.setClientData(self, "ipoib-state");
          dataSeenInAdd.set(d.getClientData(self));
          return true;
        })
        .onRemove((d, self, data) -> handler.get().unregister().toCompletableFuture().join())));

    TestDriver driver = new TestDriver(2);
    Device dev = await(midlayer.registerDevice("lo%d", driver.ops()), "registerDevice with a calling-back client");

    assertEquals(DeviceState.REGISTERED, stateInAdd.get());
    assertNotNull(port.get());
    assertEquals(2, attrs.get().physPortCount());
    assertEquals("ipoib-state", dataSeenInAdd.get());
    assertSame(dev, handler.get().device());

    // The handler registered from inside add is live.
    driver.setLink(2, false);
    AsyncEvent e = event.get(10, TimeUnit.SECONDS);
    assertEquals(AsyncEventType.PORT_ERR, e.type());
    assertEquals(2, e.portNum());

    await(midlayer.unregisterDevice(dev));
    assertEquals(List.of("add ipoib lo0", "remove ipoib lo0"), log.callbacks());
  }

  @Test
  @DisplayName("a typed client may call back into the device while handling DeviceAdded")
  void typedClientMayCallBackIntoTheDevice() {
    CompletableFuture<PortAttributes> port = new CompletableFuture<>();
    Behavior<ClientMessage> typed = Behaviors.receive(ClientMessage.class)
        .onMessage(DeviceAdded.class, m -> {
          port.complete(m.device().queryPort(1).toCompletableFuture().join());
          m.replyTo().tell(AddReply.added());
          return Behaviors.same();
        })
        .onMessage(DeviceRemoved.class, m -> {
          m.device().queryPort(1).toCompletableFuture().join();
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .build();
    await(midlayer.registerClient("typed", typed));
    Device dev = registerDevice("lo0");
    assertTrue(port.isDone(), "the add's queryPort completed before the add replied");
    assertEquals(dev.cachedPort(1), port.join(), "queryPort from inside DeviceAdded answered with the port");
    await(midlayer.unregisterDevice(dev));
  }

  // ---- blocking clients ----

  @Test
  @DisplayName("a client blocking in add delays registration but does not block other actors' dispatchers")
  void blockingAddDelaysRegistrationOnly() throws Exception {
    Device other = registerDevice("other0");
    CountDownLatch inAdd = latch();
    CountDownLatch release = latch();
    await(midlayer.registerClient(new RegistryRecordingClient("sleepy", log).onAdd((d, self) -> {
      if (d.name().equals("slow0")) {
        inAdd.countDown();
        block(release);
      }
      return true;
    })));

    CompletionStage<Device> registering = midlayer.registerDevice("slow0", new TestDriver().ops());
    await(inAdd, "sleepy's add of slow0");
    assertNotDone(registering, "registerDevice while a client's add blocks");

    // An actor on the default dispatcher still answers.
    TestProbe<String> probe = testKit.createTestProbe();
    ActorRef<ActorRef<String>> pinger = testKit.spawn(
        Behaviors.<ActorRef<String>>receiveMessage(replyTo -> {
          replyTo.tell("pong");
          return Behaviors.same();
        }), "pinger", DispatcherSelector.defaultDispatcher());
    pinger.tell(probe.ref());
    probe.expectMessage("pong");

    // The device actors (control dispatcher) still answer: a verb on an already registered device completes.
    assertNotNull(await(other.queryPort(1), "queryPort on another device while a client blocks"));
    // Lookups never wait on the registry; the device being registered is already listed.
    assertEquals(List.of("other0", "slow0"), midlayer.devices().stream().map(Device::name).toList());

    // Another registration queues behind the blocked one.
    CompletionStage<ClientId> later = midlayer.registerClient(new RegistryRecordingClient("later", log));
    assertNotDone(registering, "registerDevice while a client's add blocks");
    assertNotDone(later, "registerClient queued behind a blocked add");

    release.countDown();
    Device slow = await(registering);
    assertEquals("slow0", slow.name());
    await(later);
    assertEquals(List.of("add sleepy other0", "add sleepy slow0", "add later other0", "add later slow0"),
        log.callbacks());
  }

  @Test
  @DisplayName("the device stays usable in a client's remove, and unregisterDevice completes")
  void deviceUsableDuringRemove() {
    AtomicReference<PortAttributes> port = new AtomicReference<>();
    AtomicReference<DeviceState> state = new AtomicReference<>();
    AtomicReference<EventHandlerRegistration> lateHandler = new AtomicReference<>();
    await(midlayer.registerClient(new RegistryRecordingClient("ulp", log).onRemove((d, self, data) -> {
      state.set(d.state());
      port.set(d.queryPort(1).toCompletableFuture().join());
      // Even a may-sleep verb that creates something works; the client undoes it before returning.
      EventHandlerRegistration r = d.registerEventHandler("late", ev -> { }).toCompletableFuture().join();
      r.unregister().toCompletableFuture().join();
      lateHandler.set(r);
    })));
    Device dev = registerDevice("lo0");

    await(midlayer.unregisterDevice(dev), "unregisterDevice with a remove that uses the device");
    assertEquals(DeviceState.UNREGISTERING, state.get());
    assertNotNull(port.get());
    assertNotNull(lateHandler.get());
    assertEquals(DeviceState.UNREGISTERED, dev.state());
  }

  @Test
  @DisplayName("after unregisterDevice completes, verbs fail with DeviceUnregisteredException and the state is UNREGISTERED")
  void verbsFailAfterUnregistration() {
    TestDriver driver = new TestDriver();
    Device dev = await(midlayer.registerDevice("lo0", driver.ops()));
    EventHandlerRegistration h = await(dev.registerEventHandler("h", e -> { }));
    await(midlayer.unregisterDevice(dev));

    assertEquals(DeviceState.UNREGISTERED, dev.state());
    assertVerbFails(DeviceUnregisteredException.class, () -> dev.queryPort(1));
    assertVerbFails(DeviceUnregisteredException.class, dev::queryDevice);
    assertVerbFails(DeviceUnregisteredException.class, () -> dev.registerEventHandler("late", e -> { }));
    assertVerbFails(DeviceUnregisteredException.class, h::unregister);
    assertThrows(DeviceUnregisteredException.class,
        () -> Internal.dispatch(dev, AsyncEvent.ofPort(dev, AsyncEventType.PORT_ACTIVE, 1)));
    assertThrows(DeviceUnregisteredException.class,
        () -> Internal.dispatch(dev, AsyncEvent.ofDevice(dev, AsyncEventType.DEVICE_FATAL)));
    assertThrows(DeviceUnregisteredException.class, () -> driver.setLink(1, false));
    assertTrue(midlayer.device("lo0").isEmpty());
    assertEquals(1, driver.deallocCalls());
  }

  @Test
  @DisplayName("concurrent unregisterDevice calls for one device both complete when the unregistration is done")
  void concurrentUnregisterDeviceCallsBothComplete() {
    CountDownLatch inRemove = latch();
    CountDownLatch release = latch();
    await(midlayer.registerClient(new RegistryRecordingClient("ulp", log).onRemove((d, self, data) -> {
      inRemove.countDown();
      block(release);
    })));
    Device dev = registerDevice("lo0");

    CompletableFuture<Done> first = midlayer.unregisterDevice(dev).toCompletableFuture();
    await(inRemove, "remove of lo0");
    CompletableFuture<Done> second = midlayer.unregisterDevice(dev).toCompletableFuture();
    CompletableFuture<Done> third = midlayer.unregisterDevice(dev).toCompletableFuture();
    assertNotDone(first, "first unregisterDevice");
    // Barrier: the registry answers a request for an unknown client at once. Once that answer is in,
    // the registry has handled the two joined calls sent before it (same sender, FIFO mailbox); they
    // must still be pending.
    assertFailsWith(NotRegisteredException.class, midlayer.unregisterClient(new ClientId(999, "barrier")));
    assertNotDone(second, "second unregisterDevice while the first is in progress");
    assertNotDone(third, "third unregisterDevice while the first is in progress");
    assertNotDone(first, "first unregisterDevice");
    assertEquals(DeviceState.UNREGISTERING, dev.state());

    release.countDown();
    await(first, "first unregisterDevice");
    await(second, "second unregisterDevice");
    await(third, "third unregisterDevice");
    assertEquals(DeviceState.UNREGISTERED, dev.state());
    assertEquals(List.of("add ulp lo0", "remove ulp lo0"), log.callbacks(), "remove ran once");

    assertFailsWith(NotRegisteredException.class, midlayer.unregisterDevice(dev));
  }

  @Test
  @DisplayName("a client may call registration verbs from its add without waiting for them, and they complete")
  void registrationVerbsFromAddWithoutWaiting() {
    List<CompletionStage<?>> fromAdd = new CopyOnWriteArrayList<>();
    ClientId[] selfId = new ClientId[1];
    await(midlayer.registerClient(new RegistryRecordingClient("spawner", log).onAdd((d, self) -> {
      if (d.name().equals("lo0")) {
        // A driver-like client announcing a child device, then leaving: queued behind this operation.
        fromAdd.add(midlayer.registerDevice("lo%d", new TestDriver().ops()));
        fromAdd.add(midlayer.unregisterClient(self));
        selfId[0] = self;
      }
      return true;
    })));
    await(midlayer.registerClient(new RegistryRecordingClient("other", log)));

    Device lo0 = registerDevice("lo0");
    assertEquals(2, fromAdd.size());
    Device lo1 = (Device) await(fromAdd.get(0), "registerDevice called from add");
    await(fromAdd.get(1), "unregisterClient called from add");
    assertEquals("lo1", lo1.name());
    assertEquals(List.of("other"), midlayer.clients().stream().map(ClientId::name).toList());

    // Every device the spawner was added to got its remove, and the other client saw both devices.
    List<String> cbs = log.callbacks();
    for (String dev : List.of("lo0", "lo1")) {
      boolean added = cbs.contains("add spawner " + dev);
      assertEquals(added, cbs.contains("remove spawner " + dev), dev + ": " + cbs);
      assertTrue(cbs.contains("add other " + dev), cbs.toString());
    }
    assertTrue(cbs.contains("add spawner lo0"), cbs.toString());
    int mark = log.size();
    await(midlayer.unregisterDevice(lo0));
    await(midlayer.unregisterDevice(lo1));
    assertEquals(List.of("remove other lo0", "remove other lo1"), log.callbacksSince(mark));
    assertThrows(IllegalStateException.class, () -> lo0.setClientData(selfId[0], "late"));
  }

  // ---- client data ----

  @Test
  @DisplayName("client data set in add is returned by get, passed to remove, and null after remove")
  void clientDataLifecycle() {
    ConcurrentHashMap<String, Object> seenInRemove = new ConcurrentHashMap<>();
    ConcurrentHashMap<String, Object> getInRemove = new ConcurrentHashMap<>();
    RegistryRecordingClient client = new RegistryRecordingClient("ulp", log)
        .onAdd((d, self) -> {
          d.setClientData(self, "ctx-" + d.name());
          return true;
        })
        .onRemove((d, self, data) -> {
          seenInRemove.put(d.name(), data);
          getInRemove.put(d.name(), d.getClientData(self));
        });
    ClientId id = await(midlayer.registerClient(client));
    Device lo0 = registerDevice("lo0");
    Device lo1 = registerDevice("lo1");

    assertEquals("ctx-lo0", lo0.getClientData(id), "get after add (from another thread)");
    assertEquals("ctx-lo1", lo1.getClientData(id));

    // Path 1: the device goes away.
    await(midlayer.unregisterDevice(lo0));
    assertEquals("ctx-lo0", seenInRemove.get("lo0"), "remove receives the data as clientData");
    assertEquals("ctx-lo0", getInRemove.get("lo0"), "get inside remove still returns it");
    assertNull(lo0.getClientData(id), "get after remove");

    // Path 2: the client goes away.
    await(midlayer.unregisterClient(id));
    assertEquals("ctx-lo1", seenInRemove.get("lo1"));
    assertNull(lo1.getClientData(id), "get after remove");
  }

  @Test
  @DisplayName("client data may be replaced between add and remove; remove receives the latest value")
  void clientDataReplacedBetweenAddAndRemove() {
    AtomicReference<Object> seen = new AtomicReference<>("unset");
    ClientId id = await(midlayer.registerClient(new RegistryRecordingClient("ulp", log)
        .onRemove((d, self, data) -> seen.set(data))));
    Device dev = registerDevice("lo0");
    assertNull(dev.getClientData(id), "nothing set in add: null");

    dev.setClientData(id, "later"); // inside the add..remove window, from the test thread
    assertEquals("later", dev.getClientData(id));
    dev.setClientData(id, null);
    assertNull(dev.getClientData(id));
    dev.setClientData(id, "latest");

    await(midlayer.unregisterDevice(dev));
    assertEquals("latest", seen.get());
  }

  @Test
  @DisplayName("setClientData outside a client's add..remove window throws IllegalStateException")
  void setClientDataOutsideWindowThrows() {
    Device dev = registerDevice("lo0");
    ClientId decliner = await(midlayer.registerClient(
        new RegistryRecordingClient("decliner", log).onAdd((d, self) -> false)));
    ClientId ulp = await(midlayer.registerClient(new RegistryRecordingClient("ulp", log)));

    assertThrows(IllegalStateException.class, () -> dev.setClientData(new ClientId(999, "x"), "data"),
        "a client that was never registered");
    assertThrows(IllegalStateException.class, () -> dev.setClientData(decliner, "data"),
        "a client that declined the device");
    assertNull(dev.getClientData(decliner));

    dev.setClientData(ulp, "ok"); // inside the window
    await(midlayer.unregisterClient(ulp));
    assertThrows(IllegalStateException.class, () -> dev.setClientData(ulp, "data"), "after remove returned");
    assertNull(dev.getClientData(ulp));
  }

  @Test
  @DisplayName("setClientData in an add that then fails is dropped")
  void clientDataOfFailedAddIsDropped() {
    ClientId id = await(midlayer.registerClient(new RegistryRecordingClient("ulp", log).onAdd((d, self) -> {
      d.setClientData(self, "half-done");
      throw new IllegalStateException("boom (expected by the test)");
    })));
    Device dev = registerDevice("lo0");
    assertNull(dev.getClientData(id));
    assertThrows(IllegalStateException.class, () -> dev.setClientData(id, "x"));
  }

  // ---- failing and declining clients ----

  @Test
  @DisplayName("a client whose add throws or returns false never gets remove, and registration still succeeds")
  void failedOrDecliningAddNeverGetsRemove() {
    await(midlayer.registerClient(new RegistryRecordingClient("thrower", log).onAdd((d, self) -> {
      throw new Exception("add failed (expected by the test)");
    })));
    await(midlayer.registerClient(new RegistryRecordingClient("decliner", log).onAdd((d, self) -> false)));
    ClientId normal = await(midlayer.registerClient(new RegistryRecordingClient("normal", log)));

    Device d0 = await(midlayer.registerDevice("lo0", new TestDriver().ops()), "registerDevice with failing clients");
    Device d1 = registerDevice("lo1");
    assertEquals(DeviceState.REGISTERED, d0.state());
    assertEquals(List.of(
        "add thrower lo0", "add decliner lo0", "add normal lo0",
        "add thrower lo1", "add decliner lo1", "add normal lo1"), log.callbacks());

    int mark = log.size();
    await(midlayer.unregisterDevice(d0));
    assertEquals(List.of("remove normal lo0"), log.callbacksSince(mark));

    // A client registering after the devices: add fails there too, and registerClient still succeeds.
    ClientId late = await(midlayer.registerClient(new RegistryRecordingClient("late", log).onAdd((d, self) -> {
      throw new RuntimeException("late add failed (expected by the test)");
    })));
    mark = log.size();
    await(midlayer.unregisterClient(late));
    await(midlayer.unregisterClient(normal));
    await(midlayer.unregisterDevice(d1));
    assertEquals(List.of("remove normal lo1"), log.callbacksSince(mark));
  }

  @Test
  @DisplayName("a client whose remove throws: the device is still removed and unregistration completes")
  void removeThatThrowsStillRemoves() {
    ClientId id = await(midlayer.registerClient(new RegistryRecordingClient("ulp", log).onRemove((d, self, data) -> {
      throw new Exception("remove failed (expected by the test)");
    })));
    Device lo0 = registerDevice("lo0");
    Device lo1 = registerDevice("lo1");
    await(midlayer.unregisterDevice(lo0));
    assertEquals(DeviceState.UNREGISTERED, lo0.state());
    await(midlayer.unregisterClient(id));
    assertEquals(List.of("add ulp lo0", "add ulp lo1", "remove ulp lo0", "remove ulp lo1"), log.callbacks());
    await(midlayer.unregisterDevice(lo1));
    assertEquals(4, log.callbacks().size(), "no second remove");
  }

  // ---- typed and existing-actor clients ----

  /** A typed client that records into the log and replies with {@code reply} to every add. */
  private Behavior<ClientMessage> recordingBehavior(AddReply reply, CountDownLatch stopped) {
    return Behaviors.setup(ctx -> Behaviors.receive(ClientMessage.class)
        .onMessage(DeviceAdded.class, m -> {
          log.record(RegistryEventLog.Kind.ADD, m.client(), m.device(), null, false);
          m.replyTo().tell(reply);
          return Behaviors.same();
        })
        .onMessage(DeviceRemoved.class, m -> {
          log.record(RegistryEventLog.Kind.REMOVE, m.client(), m.device(), m.clientData(), false);
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .onSignal(PostStop.class, s -> {
          stopped.countDown();
          return Behaviors.same();
        })
        .build());
  }

  @Test
  @DisplayName("a typed Behavior<ClientMessage> client gets add and remove, and is stopped after unregisterClient")
  void typedBehaviorClientWorks() {
    CountDownLatch stopped = latch();
    Device lo0 = registerDevice("lo0");
    ClientId id = await(midlayer.registerClient("typed", recordingBehavior(AddReply.added(), stopped)));
    assertEquals("typed", id.name());
    Device lo1 = registerDevice("lo1");
    await(midlayer.unregisterDevice(lo1));
    await(midlayer.unregisterClient(id));
    assertEquals(List.of("add typed lo0", "add typed lo1", "remove typed lo1", "remove typed lo0"), log.callbacks());
    await(stopped, "the spawned client actor stops after its unregistration");
    await(midlayer.unregisterDevice(lo0));
  }

  @Test
  @DisplayName("an existing ActorRef client gets add and remove, and is not stopped by the midlayer")
  void existingActorRefClientWorks() {
    Device lo0 = registerDevice("lo0");
    TestProbe<Object> pings = testKit.createTestProbe();
    ActorRef<Object> actor = testKit.spawn(Behaviors.receive(Object.class)
        .onMessage(DeviceAdded.class, m -> {
          log.record(RegistryEventLog.Kind.ADD, m.client(), m.device(), null, false);
          m.device().setClientData(m.client(), "actor-data");
          m.replyTo().tell(AddReply.added());
          return Behaviors.same();
        })
        .onMessage(DeviceRemoved.class, m -> {
          log.record(RegistryEventLog.Kind.REMOVE, m.client(), m.device(), m.clientData(), false);
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(String.class, s -> {
          pings.ref().tell("alive:" + s);
          return Behaviors.same();
        })
        .build(), "existing-client");
    ActorRef<ClientMessage> asClient = actor.narrow();

    ClientId id = await(midlayer.registerClient("existing", asClient));
    Device lo1 = registerDevice("lo1");
    assertEquals("actor-data", lo1.getClientData(id));
    await(midlayer.unregisterDevice(lo1));
    await(midlayer.unregisterClient(id));
    assertEquals(List.of("add existing lo0", "add existing lo1", "remove existing lo1", "remove existing lo0"),
        log.callbacks());
    List<RegistryEventLog.Event> removes = log.filter(e -> e.kind() == RegistryEventLog.Kind.REMOVE);
    assertEquals("actor-data", removes.get(0).data(), "remove carries the client data");

    actor.tell("ping");
    pings.expectMessage("alive:ping");
    await(midlayer.unregisterDevice(lo0));
  }

  @Test
  @DisplayName("an existing ActorRef client driven by a TestProbe: the registry waits for each reply")
  void probeClientRegistryWaitsForReplies() {
    TestProbe<ClientMessage> probe = testKit.createTestProbe();
    ClientId id = await(midlayer.registerClient("probe", probe.ref()));

    CompletionStage<Device> registering = midlayer.registerDevice("lo0", new TestDriver().ops());
    DeviceAdded added = probe.expectMessageClass(DeviceAdded.class);
    assertEquals(id, added.client());
    assertEquals("lo0", added.device().name());
    assertNotDone(registering, "registerDevice before the client replied");
    added.replyTo().tell(AddReply.added());
    Device dev = await(registering);
    assertSame(dev, added.device());

    CompletionStage<Done> unregistering = midlayer.unregisterDevice(dev);
    DeviceRemoved removed = probe.expectMessageClass(DeviceRemoved.class);
    assertSame(dev, removed.device());
    assertEquals(id, removed.client());
    assertNotDone(unregistering, "unregisterDevice before the client replied");
    removed.replyTo().tell(Done.getInstance());
    await(unregistering);
    await(midlayer.unregisterClient(id));
  }

  @Test
  @DisplayName("a typed client that replies AddReply.declined is never removed")
  void typedClientThatDeclinesIsNotRemoved() {
    CountDownLatch stopped = latch();
    ClientId id = await(midlayer.registerClient("typed-decliner",
        recordingBehavior(AddReply.declined("not my kind of device"), stopped)));
    Device lo0 = registerDevice("lo0");
    Device lo1 = registerDevice("lo1");
    await(midlayer.unregisterDevice(lo0));
    await(midlayer.unregisterClient(id));
    await(midlayer.unregisterDevice(lo1));
    assertEquals(List.of("add typed-decliner lo0", "add typed-decliner lo1"), log.callbacks());
  }

  @Test
  @DisplayName("a typed client that replies AddReply.failed is never removed")
  void typedClientThatFailsIsNotRemoved() {
    CountDownLatch stopped = latch();
    ClientId id = await(midlayer.registerClient("typed-failer",
        recordingBehavior(AddReply.failed(new RuntimeException("expected by the test")), stopped)));
    Device lo0 = registerDevice("lo0");
    await(midlayer.unregisterDevice(lo0));
    await(midlayer.unregisterClient(id));
    assertEquals(List.of("add typed-failer lo0"), log.callbacks());
  }

  // ---- clients that die ----

  @Test
  @DisplayName("a typed client whose actor stops while handling DeviceAdded does not hang registration (failed add)")
  void typedClientStoppingInAddDoesNotHang() {
    AtomicInteger deadAdds = new AtomicInteger();
    Behavior<ClientMessage> dying = Behaviors.receive(ClientMessage.class)
        .onMessage(DeviceAdded.class, m -> {
          deadAdds.incrementAndGet();
          return Behaviors.stopped(); // no reply
        })
        .onMessage(DeviceRemoved.class, m -> {
          throw new AssertionError("a failed add must not get remove");
        })
        .build();
    ClientId deadId = await(midlayer.registerClient("dying", dying));
    ClientId after = await(midlayer.registerClient(new RegistryRecordingClient("after", log)));

    Device lo0 = await(midlayer.registerDevice("lo0", new TestDriver().ops()), "registerDevice with a dying client");
    assertEquals(1, deadAdds.get());
    assertEquals(List.of("add after lo0"), log.callbacks(), "registration went on with the next client");

    // A later device does not go to the dead client; its unregistration and the device's complete.
    Device lo1 = registerDevice("lo1");
    assertEquals(1, deadAdds.get());
    await(midlayer.unregisterDevice(lo0));
    await(midlayer.unregisterClient(deadId));
    await(midlayer.unregisterClient(after));
    await(midlayer.unregisterDevice(lo1));
    assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot());
  }

  @Test
  @DisplayName("a typed client that stops in its first add during registerClient does not hang registerClient")
  void typedClientStoppingInAddDuringRegisterClient() {
    Device lo0 = registerDevice("lo0");
    Device lo1 = registerDevice("lo1");
    AtomicInteger adds = new AtomicInteger();
    ClientId id = await(midlayer.registerClient("dying", Behaviors.receive(ClientMessage.class)
        .onMessage(DeviceAdded.class, m -> {
          adds.incrementAndGet();
          return Behaviors.stopped();
        })
        .build()), "registerClient of a client that dies in add");
    assertEquals(1, adds.get(), "no add for lo1 after the actor died");
    await(midlayer.unregisterClient(id));
    await(midlayer.unregisterDevice(lo0));
    await(midlayer.unregisterDevice(lo1));
  }

  @Test
  @DisplayName("an existing client actor that stops while handling DeviceAdded does not hang registration")
  void existingClientStoppingInAddDoesNotHang() {
    ActorRef<ClientMessage> dying = testKit.spawn(Behaviors.receive(ClientMessage.class)
        .onMessage(DeviceAdded.class, m -> Behaviors.stopped())
        .build(), "dying-existing");
    ClientId id = await(midlayer.registerClient("dying", dying));
    Device lo0 = await(midlayer.registerDevice("lo0", new TestDriver().ops()), "registerDevice with a dying client");
    await(midlayer.unregisterDevice(lo0));
    await(midlayer.unregisterClient(id));
  }

  @Test
  @DisplayName("a client actor that stops while handling DeviceRemoved does not hang unregisterDevice")
  void clientStoppingInRemoveDoesNotHang() {
    AtomicInteger removes = new AtomicInteger();
    ClientId id = await(midlayer.registerClient("dying", Behaviors.receive(ClientMessage.class)
        .onMessage(DeviceAdded.class, m -> {
          m.replyTo().tell(AddReply.added());
          return Behaviors.same();
        })
        .onMessage(DeviceRemoved.class, m -> {
          removes.incrementAndGet();
          return Behaviors.stopped();
        })
        .build()));
    Device lo0 = registerDevice("lo0");
    Device lo1 = registerDevice("lo1");
    await(midlayer.unregisterDevice(lo0), "unregisterDevice with a client dying in remove");
    assertEquals(1, removes.get());
    assertEquals(DeviceState.UNREGISTERED, lo0.state());
    // The dead client's hold on lo1 is dropped without calling it; both unregistrations complete.
    await(midlayer.unregisterDevice(lo1));
    await(midlayer.unregisterClient(id));
    assertEquals(1, removes.get());
  }
}
