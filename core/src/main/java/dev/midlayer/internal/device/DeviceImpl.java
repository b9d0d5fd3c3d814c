package dev.midlayer.internal.device;

import dev.midlayer.device.DeviceResourceInfo;
import dev.midlayer.internal.MonitorSlot;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.MidlayerSettings;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.device.EventHandler;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.ClientFuture;
import dev.midlayer.internal.cq.CqImpl;
import dev.midlayer.internal.verbs.DeviceVerbs;
import dev.midlayer.internal.verbs.PdImpl;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.verbs.ProtectionDomain;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API. The {@link Device} handle: the consumer's verbs, the device's cached attributes and port
 * cache, its client data, and its verbs state ({@link DeviceVerbs}). The device actor serves its may-sleep
 * verbs and its event actor delivers its events; {@link DriverDeviceImpl} is the driver's view of the same
 * device.
 */
public final class DeviceImpl implements Device {
  private final String name;
  private final int index;
  private final DeviceOps ops;
  private final ContextChecker contextChecker;
  private final MidlayerSettings settings;
  private final ConcurrentHashMap<ClientId, Object> clientData = new ConcurrentHashMap<>();
  private final DriverDeviceImpl driverView = new DriverDeviceImpl(this);
  private final CallbackWatchdog watchdog;
  private final MonitorSlot monitor;
  private volatile ActorRef<DeviceActor.Command> actor;
  private volatile ActorRef<EventActor.Command> events;
  private volatile DeviceState state = DeviceState.REGISTERING;
  private volatile DeviceAttributes attributes;
  private volatile AtomicReferenceArray<PortAttributes> portCache = new AtomicReferenceArray<>(0);
  private volatile DeviceVerbs verbs;

  /** Marks an open client-data slot that holds no value yet (the map cannot hold null). */
  private static final Object EMPTY_SLOT = new Object();

  DeviceImpl(String name, int index, DeviceOps ops, ContextChecker contextChecker, MidlayerSettings settings,
      CallbackWatchdog watchdog, MonitorSlot monitor) {
    this.watchdog = watchdog;
    this.monitor = monitor;
    this.name = name;
    this.index = index;
    this.ops = ops;
    this.contextChecker = contextChecker;
    this.settings = settings;
  }

  /** The implementation behind a consumer's handle. */
  public static DeviceImpl of(Device device) {
    return (DeviceImpl) device;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int index() {
    return index;
  }

  @Override
  public String driverName() {
    return ops.driverName();
  }

  @Override
  public DeviceState state() {
    return state;
  }

  @Override
  public DeviceAttributes attributes() {
    return attributes;
  }

  @Override
  public PortAttributes cachedPort(int portNum) {
    checkPort(portNum, "portNum");
    return portCache.get(portNum - 1);
  }

  @Override
  public TransportCounters portCounters(int portNum) {
    checkPort(portNum, "portNum");
    return verbs.portCounters(portNum);
  }

  @Override
  public CompletionStage<DeviceAttributes> queryDevice() {
    mightSleep("queryDevice");
    DeviceActorThread.refuseSelfWait(this, "queryDevice");
    checkUsable("queryDevice");
    CompletableFuture<DeviceAttributes> result = new ClientFuture<>();
    actor.tell(new DeviceActor.QueryDevice(result));
    return result;
  }

  @Override
  public CompletionStage<List<DeviceResourceInfo>> listResources() {
    mightSleep("listResources");
    CompletableFuture<List<DeviceResourceInfo>> result = new ClientFuture<>();
    actor.tell(new DeviceActor.ListResources(result));
    return result;
  }

  @Override
  public CompletionStage<PortAttributes> queryPort(int portNum) {
    mightSleep("queryPort");
    DeviceActorThread.refuseSelfWait(this, "queryPort");
    checkUsable("queryPort");
    checkPort(portNum, "portNum");
    CompletableFuture<PortAttributes> result = new ClientFuture<>();
    actor.tell(new DeviceActor.QueryPort(portNum, result));
    return result;
  }

  @Override
  public CompletionStage<ProtectionDomain> allocPd() {
    return PdImpl.alloc(this);
  }

  @Override
  public CompletionStage<CompletionQueue> createCq(int cqe, CompletionHandler handler, EventHandler eventHandler,
      Object context) {
    return CqImpl.create(this, cqe, handler, eventHandler, context);
  }

  @Override
  public CompletionStage<CompletionQueue> allocCq(int cqe, PollContext pollContext) {
    return CqImpl.alloc(this, cqe, pollContext, null);
  }

  @Override
  public CompletionStage<EventHandlerRegistration> registerEventHandler(String name, EventHandler handler) {
    mightSleep("registerEventHandler");
    DeviceActorThread.refuseSelfWait(this, "registerEventHandler");
    InvalidArgumentException.requireNonBlank(name, "name");
    InvalidArgumentException.requireNonNull(handler, "handler");
    checkUsable("registerEventHandler");
    EventHandlerRegistrationImpl registration = new EventHandlerRegistrationImpl(this, name, handler);
    CompletableFuture<EventHandlerRegistration> result = new ClientFuture<>();
    actor.tell(new DeviceActor.RegisterEventHandler(registration, result));
    return result;
  }

  @Override
  public CompletionStage<Done> unregisterEventHandler(EventHandlerRegistration registration) {
    mightSleep("unregisterEventHandler");
    DeviceActorThread.refuseSelfWait(this, "unregisterEventHandler");
    InvalidArgumentException.requireNonNull(registration, "registration");
    if (registration.device() != this) {
      throw new InvalidArgumentException("registration",
          registration + " belongs to device " + registration.device().name() + ", not " + name);
    }
    checkUsable("unregisterEventHandler");
    CompletableFuture<Done> result = new ClientFuture<>();
    actor.tell(new DeviceActor.UnregisterEventHandler((EventHandlerRegistrationImpl) registration, result));
    return result;
  }

  /**
   * Dispatches an unaffiliated event (device or port) to every handler registered on this device
   * ({@code ib_dispatch_event}); what {@link DriverDeviceImpl#dispatchPortEvent} does. <b>Never blocks and is
   * callable from any context</b>, callbacks included: it only enqueues. Handlers are called later, events
   * in FIFO order per device (per dispatching thread), handlers in registration order. For port-state
   * events the port cache is refreshed from the driver first.
   *
   * @throws InvalidArgumentException if the event is for another device, is affiliated (a CQ, QP, SRQ
   *     or WQ event goes to that object's own handler), or names a port the device does not have
   * @throws DeviceUnregisteredException if the device's unregistration has completed
   */
  public void dispatchEvent(AsyncEvent event) {
    InvalidArgumentException.requireNonNull(event, "event");
    if (event.device() != this) {
      throw new InvalidArgumentException("event.device",
          "event for " + event.device().name() + " dispatched on " + name);
    }
    if (event.type().affiliated()) {
      throw new InvalidArgumentException("event.type", event.type() + " is affiliated with a "
          + event.type().element() + ": the driver delivers it to that object's event handler");
    }
    if (event.element() instanceof EventElement.OfPort p) {
      checkPort(p.portNum(), "event.element.portNum");
    }
    checkUsable("dispatchEvent");
    events.tell(new EventActor.Dispatch(event));
  }

  @Override
  public void setClientData(ClientId client, Object data) {
    InvalidArgumentException.requireNonNull(client, "client");
    Object value = data == null ? EMPTY_SLOT : data;
    if (clientData.computeIfPresent(client, (k, old) -> value) == null) {
      throw new IllegalStateException(client + " has no data slot on " + name
          + ": client data is valid only from the client's add until its remove returns");
    }
  }

  @Override
  public Object getClientData(ClientId client) {
    Object value = clientData.get(client);
    return value == EMPTY_SLOT ? null : value;
  }

  @Override
  public String toString() {
    return "device " + name + " (" + ops.driverName() + ", " + state + ")";
  }

  // ---- for the midlayer's actors and verbs ----

  /** The driver's view of this device. */
  public DriverDeviceImpl driverView() {
    return driverView;
  }

  /** The driver's ops table. */
  public DeviceOps ops() {
    return ops;
  }

  /** The device's actor. */
  public ActorRef<DeviceActor.Command> actor() {
    return actor;
  }

  void bind(ActorRef<DeviceActor.Command> actorRef) {
    this.actor = actorRef;
  }

  void bindEvents(ActorRef<EventActor.Command> eventActor) {
    this.events = eventActor;
  }

  /**
   * Raises an affiliated event for an object's handler ({@code callbackName} names it in logs): delivered
   * later by the device's event actor, in raise order, unless {@code alive} says the object is gone by then.
   * Never blocks; any thread (drivers raise from their actors).
   */
  public void raise(AsyncEvent event, EventHandler handler, String callbackName, ClientId owner,
      java.util.function.BooleanSupplier alive) {
    events.tell(new EventActor.Raise(event, handler, callbackName, owner, alive));
  }

  /** The midlayer's watchdog of consumer callbacks. */
  public CallbackWatchdog watchdog() {
    return watchdog;
  }

  /** Moves the device to {@code newState} (the registry owns REGISTERED and UNREGISTERING). */
  public void setState(DeviceState newState) {
    this.state = newState;
    ContractMonitor m = monitor.get();
    if (m != null && newState == DeviceState.UNREGISTERED) {
      m.deviceUnregistered(this);
    }
  }

  void setAttributes(DeviceAttributes attrs, PortAttributes[] ports) {
    AtomicReferenceArray<PortAttributes> cache = new AtomicReferenceArray<>(ports);
    this.portCache = cache;
    this.verbs = new DeviceVerbs(attrs.maxMr());
    this.attributes = attrs;
  }

  void updatePortCache(int portNum, PortAttributes attrs) {
    portCache.set(portNum - 1, attrs);
  }

  /** Opens the client's data slot; called just before the client's add. */
  public void openClientData(ClientId client) {
    clientData.put(client, EMPTY_SLOT);
  }

  /** True while the client's add or remove runs, or it is added: the (client, device) pair is open. */
  public boolean hasClient(ClientId client) {
    return clientData.containsKey(client);
  }

  /** Drops the client's data; called after its remove returned or its add failed. */
  public void closeClientData(ClientId client) {
    clientData.remove(client);
  }

  /** The verbs layer's state of the device. */
  public DeviceVerbs verbs() {
    return verbs;
  }

  /** The settings of the device's midlayer. */
  public MidlayerSettings settings() {
    return settings;
  }

  /** The context checker of the device's midlayer. */
  public ContextChecker contextChecker() {
    return contextChecker;
  }

  private volatile scala.concurrent.ExecutionContextExecutor callbackExecutor;
  private volatile java.util.concurrent.Executor replyExecutor;
  private volatile org.apache.pekko.actor.typed.Scheduler scheduler;

  /**
   * Set by the device actor at its start: the callback dispatcher, the executor replies complete on, and the actor
   * system's scheduler.
   */
  void bindExecutors(scala.concurrent.ExecutionContextExecutor callbacks, java.util.concurrent.Executor replies,
      org.apache.pekko.actor.typed.Scheduler systemScheduler) {
    this.callbackExecutor = callbacks;
    this.replyExecutor = replies;
    this.scheduler = systemScheduler;
  }

  /**
   * Runs {@code task} on the callback dispatcher after {@code delay} (the actor system's scheduler): for midlayer
   * work that calls consumer callbacks later, such as a drain polling a DIRECT CQ, which must not run them on a
   * pool of no one's (the common pool). Never blocks; any thread.
   */
  public void onCallbackDispatcherAfter(java.time.Duration delay, Runnable task) {
    scheduler.scheduleOnce(delay, task, callbackExecutor);
  }

  /**
   * Moves a continuation out of atomic context without starting a thread there: one hop on the callback
   * dispatcher (whose executor never starts threads, checked at start), then {@code future} is completed on the
   * reply executor, where the caller's continuations may sleep.
   */
  public <T> java.util.concurrent.CompletionStage<T> leaveAtomic(java.util.concurrent.CompletableFuture<T> source) {
    java.util.concurrent.CompletableFuture<T> reply = new java.util.concurrent.CompletableFuture<>();
    source.whenCompleteAsync((v, e) -> {
      if (e != null) {
        dev.midlayer.internal.Replies.fail(replyExecutor, reply, e);
      } else {
        dev.midlayer.internal.Replies.complete(replyExecutor, reply, v);
      }
    }, callbackExecutor);
    return reply;
  }

  /** The midlayer's contract monitor, or null (one volatile read). */
  public ContractMonitor monitor() {
    return monitor.get();
  }

  /**
   * The context rule of a may-sleep verb of this device ({@link ContextChecker#mightSleep}), reported to the
   * contract monitor first: a refusal in atomic context (check 3), and a client that uses the device outside its
   * add/remove (check 9).
   */
  public void mightSleep(String verb) {
    ContractMonitor m = monitor.get();
    if (m != null) {
      String callback = dev.midlayer.context.AtomicContext.currentCallback();
      if (callback != null && contextChecker.mode() != dev.midlayer.context.ContextCheckMode.OFF) {
        m.maySleepInAtomic(verb, callback, this);
      }
      m.maySleepVerb(verb, this);
    }
    contextChecker.mightSleep(verb);
  }

  /** Throws {@link DeviceUnregisteredException} if the device's unregistration completed. */
  public void checkUsable(String verb) {
    if (state == DeviceState.UNREGISTERED) {
      throw new DeviceUnregisteredException(name, verb);
    }
  }

  /** Throws {@link dev.midlayer.spi.DriverSelfWaitException} if called from this device's own actor. */
  public void refuseSelfWait(String verb) {
    DeviceActorThread.refuseSelfWait(this, verb);
  }

  /** True once the device's unregistration completed. */
  public boolean unregistered() {
    return state == DeviceState.UNREGISTERED;
  }

  void checkPort(int portNum, String field) {
    int count = attributes.physPortCount();
    if (portNum < 1 || portNum > count) {
      throw new InvalidArgumentException(field, "port " + portNum + " does not exist on " + name
          + " (ports are 1.." + count + ")");
    }
  }
}
