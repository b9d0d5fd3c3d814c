package dev.midlayer.device;

import dev.midlayer.MidlayerSettings;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.verbs.DeviceVerbs;
import dev.midlayer.verbs.ProtectionDomain;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A registered RDMA device as consumers see it ({@code struct ib_device}). Clients receive it in their
 * {@code add}; drivers receive it from {@link dev.midlayer.Midlayer#registerDevice} and in
 * {@link DeviceOps.EnableDriver}. Each device is served by its own device actor, which owns its event
 * handlers and the record of resources created on it.
 *
 * <p>Threading: every method is safe from any thread. Methods documented "may sleep" return a
 * {@link CompletionStage} and must not be called from atomic context (inside a midlayer callback); the
 * others never block and may be called from anywhere, callbacks included.
 *
 * <p>Lifetime (the seed's hot-plug rule): the device stays fully usable until the driver's
 * {@code unregisterDevice} has completed, including inside every client's {@code remove}; after that
 * every verb fails with {@link DeviceUnregisteredException}.
 */
public final class Device {
  private final String name;
  private final int index;
  private final DeviceOps ops;
  private final ContextChecker contextChecker;
  private final MidlayerSettings settings;
  private final ConcurrentHashMap<ClientId, Object> clientData = new ConcurrentHashMap<>();
  private volatile ActorRef<DeviceActor.Command> actor;
  private volatile DeviceState state = DeviceState.REGISTERING;
  private volatile DeviceAttributes attributes;
  private volatile AtomicReferenceArray<PortAttributes> portCache = new AtomicReferenceArray<>(0);
  private volatile DeviceVerbs verbs;

  /** Marks an open client-data slot that holds no value yet (the map cannot hold null). */
  private static final Object EMPTY_SLOT = new Object();

  Device(String name, int index, DeviceOps ops, ContextChecker contextChecker, MidlayerSettings settings) {
    this.name = name;
    this.index = index;
    this.ops = ops;
    this.contextChecker = contextChecker;
    this.settings = settings;
  }

  /** The device's name, e.g. {@code lo0}. Never blocks; any thread. */
  public String name() {
    return name;
  }

  /** The device's index: unique for the lifetime of the midlayer, growing with registration order. */
  public int index() {
    return index;
  }

  /** The name of the driver that registered the device. Never blocks; any thread. */
  public String driverName() {
    return ops.driverName();
  }

  /** Where the device is in its life. Never blocks; any thread. */
  public DeviceState state() {
    return state;
  }

  /**
   * The attributes read from the driver at registration ({@code ib_device.attrs}). Never blocks; any
   * thread, callbacks included.
   */
  public DeviceAttributes attributes() {
    return attributes;
  }

  /** Number of ports; ports are numbered 1..portCount. Never blocks; any thread. */
  public int portCount() {
    return attributes.physPortCount();
  }

  /**
   * The cached attributes of a port ({@code ib_get_cached_*}): read at registration and refreshed
   * before handlers see each port event. Never blocks; any thread, callbacks included.
   *
   * @throws InvalidArgumentException if {@code portNum} is not 1..portCount
   */
  public PortAttributes cachedPort(int portNum) {
    checkPort(portNum, "portNum");
    return portCache.get(portNum - 1);
  }

  /**
   * Asks the driver for the device's attributes ({@code ib_query_device}). <b>May sleep</b>: must not be
   * called from atomic context. Any thread otherwise.
   */
  public CompletionStage<DeviceAttributes> queryDevice() {
    contextChecker.mightSleep("queryDevice");
    checkUsable("queryDevice");
    CompletableFuture<DeviceAttributes> result = new CompletableFuture<>();
    actor.tell(new DeviceActor.QueryDevice(result));
    return result;
  }

  /**
   * Asks the driver for the current attributes of a port ({@code ib_query_port}) and refreshes the
   * cache. <b>May sleep</b>: must not be called from atomic context. Any thread otherwise.
   *
   * @throws InvalidArgumentException if {@code portNum} is not 1..portCount
   */
  public CompletionStage<PortAttributes> queryPort(int portNum) {
    contextChecker.mightSleep("queryPort");
    checkUsable("queryPort");
    checkPort(portNum, "portNum");
    CompletableFuture<PortAttributes> result = new CompletableFuture<>();
    actor.tell(new DeviceActor.QueryPort(portNum, result));
    return result;
  }

  /**
   * Allocates a protection domain ({@code ib_alloc_pd}). <b>May sleep</b>: must not be called from atomic
   * context. Any thread otherwise.
   */
  public CompletionStage<ProtectionDomain> allocPd() {
    return ProtectionDomain.alloc(this);
  }

  /**
   * Creates a completion queue with a completion handler ({@code ib_create_cq}): the handler runs on the
   * CQ's actor once per arming ({@link CompletionQueue#requestNotify}). <b>May sleep</b>: must not be
   * called from atomic context.
   *
   * @param cqe the minimum number of entries, 1..{@code maxCqe} (rounded up to a power of two)
   * @param handler the completion handler, or null to only poll
   * @param eventHandler receives CQ_ERR for this CQ, or null
   * @param context any object, returned by {@link CompletionQueue#context()}
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code cqe} is out of range
   */
  public CompletionStage<CompletionQueue> createCq(int cqe, CompletionHandler handler, EventHandler eventHandler,
      Object context) {
    return CompletionQueue.create(this, cqe, handler, eventHandler, context);
  }

  /**
   * Creates a completion queue polled per {@code pollContext} ({@code ib_alloc_cq}, the modern API): by
   * the ULP ({@link PollContext#DIRECT}) or by the CQ's actor calling each WR's {@code done}
   * ({@link PollContext#ACTOR}). <b>May sleep</b>: must not be called from atomic context.
   */
  public CompletionStage<CompletionQueue> allocCq(int cqe, PollContext pollContext) {
    return CompletionQueue.alloc(this, cqe, pollContext, null);
  }

  /**
   * Registers a handler for this device's unaffiliated events ({@code ib_register_event_handler}). The
   * handler gets every event dispatched after the returned stage completes, in dispatch order, after
   * the handlers registered before it. <b>May sleep</b>: must not be called from atomic context.
   *
   * @param name a name for logs and error messages (e.g. the client's name)
   */
  public CompletionStage<EventHandlerRegistration> registerEventHandler(String name, EventHandler handler) {
    contextChecker.mightSleep("registerEventHandler");
    InvalidArgumentException.requireNonBlank(name, "name");
    InvalidArgumentException.requireNonNull(handler, "handler");
    checkUsable("registerEventHandler");
    EventHandlerRegistration registration = new EventHandlerRegistration(this, name, handler);
    CompletableFuture<EventHandlerRegistration> result = new CompletableFuture<>();
    actor.tell(new DeviceActor.RegisterEventHandler(registration, result));
    return result;
  }

  /**
   * Unregisters an event handler ({@code ib_unregister_event_handler}). When the returned stage
   * completes, the handler is not running and will never run again. <b>May sleep</b>: must not be
   * called from atomic context (so not from the handler itself).
   *
   * @throws InvalidArgumentException if the registration belongs to another device; the stage fails
   *     with {@link dev.midlayer.registry.NotRegisteredException} if it is not (or no longer) registered
   */
  public CompletionStage<Done> unregisterEventHandler(EventHandlerRegistration registration) {
    contextChecker.mightSleep("unregisterEventHandler");
    InvalidArgumentException.requireNonNull(registration, "registration");
    if (registration.device() != this) {
      throw new InvalidArgumentException("registration",
          registration + " belongs to device " + registration.device().name() + ", not " + name);
    }
    checkUsable("unregisterEventHandler");
    CompletableFuture<Done> result = new CompletableFuture<>();
    actor.tell(new DeviceActor.UnregisterEventHandler(registration, result));
    return result;
  }

  /**
   * Dispatches an unaffiliated event (device or port) to every handler registered on this device
   * ({@code ib_dispatch_event}); for drivers. <b>Never blocks and is callable from any context</b>,
   * callbacks included: it only enqueues. Handlers are called later by the device actor, events in
   * FIFO order per device (per dispatching thread), handlers in registration order. For port-state
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
    actor.tell(new DeviceActor.Dispatch(event));
  }

  /**
   * Stores the client's data for this device ({@code ib_set_client_data}). Valid from the start of the
   * client's {@code add} until its {@code remove} returns; the midlayer drops the data after that.
   * Never blocks; any thread.
   *
   * @throws IllegalStateException if the client is not added to this device (outside that window)
   */
  public void setClientData(ClientId client, Object data) {
    InvalidArgumentException.requireNonNull(client, "client");
    Object value = data == null ? EMPTY_SLOT : data;
    if (clientData.computeIfPresent(client, (k, old) -> value) == null) {
      throw new IllegalStateException(client + " has no data slot on " + name
          + ": client data is valid only from the client's add until its remove returns");
    }
  }

  /**
   * The client's data for this device ({@code ib_get_client_data}), or null if none was set or the
   * client is not added. Never blocks; any thread, callbacks included.
   */
  public Object getClientData(ClientId client) {
    Object value = clientData.get(client);
    return value == EMPTY_SLOT ? null : value;
  }

  @Override
  public String toString() {
    return "device " + name + " (" + ops.driverName() + ", " + state + ")";
  }

  // ---- package-private: for the device actor and DeviceLifecycle ----

  DeviceOps ops() {
    return ops;
  }

  ActorRef<DeviceActor.Command> actor() {
    return actor;
  }

  void bind(ActorRef<DeviceActor.Command> actorRef) {
    this.actor = actorRef;
  }

  void setState(DeviceState newState) {
    this.state = newState;
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

  void openClientData(ClientId client) {
    clientData.put(client, EMPTY_SLOT);
  }

  void closeClientData(ClientId client) {
    clientData.remove(client);
  }

  DeviceVerbs verbs() {
    return verbs;
  }

  MidlayerSettings settings() {
    return settings;
  }

  ContextChecker contextChecker() {
    return contextChecker;
  }

  void checkUsable(String verb) {
    if (state == DeviceState.UNREGISTERED) {
      throw new DeviceUnregisteredException(name, verb);
    }
  }

  private void checkPort(int portNum, String field) {
    int count = attributes.physPortCount();
    if (portNum < 1 || portNum > count) {
      throw new InvalidArgumentException(field, "port " + portNum + " does not exist on " + name
          + " (ports are 1.." + count + ")");
    }
  }
}
