package dev.midlayer.internal.device;

import dev.midlayer.device.DeviceResourceInfo;
import dev.midlayer.internal.MonitorSlot;
import dev.midlayer.MidlayerSettings;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.DeviceState;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.device.DriverOpFailedException;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.registry.LeftoverReclaimed;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.ClientFuture;
import dev.midlayer.internal.NonFatal;
import dev.midlayer.internal.Replies;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverOp;
import dev.midlayer.spi.Spawner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Internal API. The actor behind one device: sets the device up from its driver, calls the driver's
 * may-sleep ops, serialises the creation and destruction of the objects made on the device (its record of
 * resources), and on shutdown reclaims what clients left behind. Its child {@link EventActor} delivers the
 * device's events on the consumer-callback dispatcher.
 *
 * <p>It runs on the control dispatcher, where the driver's may-sleep ops are allowed to block. After
 * shutdown it lingers in a "gone" behaviour that fails late requests with
 * {@link DeviceUnregisteredException} (rather than letting them fall into dead letters with their
 * futures never completed), then stops.
 *
 * <p>Supervision (chosen by the registry, which spawns it): resume. Driver ops and object bodies run inside
 * try/catch; what escapes is a midlayer bug, and resuming keeps the record of resources, where a restart would
 * forget every object of the device.
 */
public final class DeviceActor extends AbstractBehavior<DeviceActor.Command> {

  /** Messages of the device actor. */
  public sealed interface Command {}

  /** From the registry: read attributes and ports from the driver, then call enable_driver. */
  public record Setup(ActorRef<SetupResult> replyTo) implements Command {}

  /** Reply to {@link Setup}: {@code failure} is null on success. */
  public record SetupResult(Throwable failure) {}

  /**
   * From the registry, after a client's remove for this device returned (or its add failed or declined):
   * report and reclaim what the client still owns here, then reply. The objects' actors have stopped, the
   * memory fence passed and the client's event handlers are gone when it replies.
   */
  public record ReclaimClient(ClientId client, ActorRef<Done> replyTo) implements Command {}

  /** From the registry, after every client's remove: reclaim leftovers, dealloc the driver, go away. */
  public record Shutdown(ActorRef<Done> replyTo) implements Command {}

  record QueryDevice(CompletableFuture<DeviceAttributes> result) implements Command {}

  record QueryPort(int portNum, CompletableFuture<PortAttributes> result) implements Command {}

  /** {@code Device.listResources}: what {@link #resources} holds now. */
  record ListResources(CompletableFuture<List<DeviceResourceInfo>> result) implements Command {}

  record RegisterEventHandler(EventHandlerRegistrationImpl registration,
      CompletableFuture<EventHandlerRegistration> result) implements Command {}

  record UnregisterEventHandler(EventHandlerRegistrationImpl registration, CompletableFuture<Done> result)
      implements Command {}

  /** From the event actor: refresh the port cache for a port event before handlers see it. */
  record RefreshPort(AsyncEvent event, ActorRef<EventActor.Command> replyTo) implements Command {}

  record Create<T>(String verb, DeviceResources.CreateBody<? extends T> body, CompletableFuture<T> result)
      implements Command {}

  record Run<T>(String verb, Callable<T> body, CompletableFuture<T> result) implements Command {}

  record Destroy(String verb, DeviceResource resource, Callable<Void> body, CompletableFuture<Done> result)
      implements Command {}

  private record LingerOver() implements Command {}

  /** An object's fence actor stopped: its destroy completes once the events before it were delivered. */
  private record Fenced(CompletableFuture<Done> result) implements Command {}

  /** One thing a client's reclaim waits for is done (an object's actor stopped, its handlers dropped). */
  private record ReclaimStep() implements Command {}

  /** One of the leftovers' fence actors (or the event actor) stopped during shutdown. */
  private record ShutdownFenced() implements Command {}

  /**
   * The two places the objects of a device spawn actors: the data-path dispatcher (driver engines) and the
   * consumer-callback dispatcher (CQ actors). Both wrap the actor in resume supervision.
   */
  public record Spawners(Spawner dataPath, Spawner callbacks) {}

  /**
   * Creates a device handle in state REGISTERING and spawns its actor as a child of {@code parent}, on
   * the control dispatcher. Called by the registry only.
   */
  public static DeviceImpl spawn(ActorContext<?> parent, String name, int index, DeviceOps ops,
      ContextChecker contextChecker, MidlayerSettings settings, CallbackWatchdog watchdog, MonitorSlot monitor) {
    DeviceImpl device = new DeviceImpl(name, index, ops, contextChecker, settings, watchdog, monitor);
    Behavior<Command> actor = Behaviors.withMdc(Command.class, java.util.Map.of(dev.midlayer.internal.LogMdc.DEVICE, name),
        Behaviors.setup(ctx -> new DeviceActor(ctx, device, settings, watchdog)));
    ActorRef<Command> ref = parent.spawn(
        Behaviors.supervise(Behaviors.intercept(() -> new MarkThread(device), actor))
            .onFailure(SupervisorStrategy.resume()),
        "device-" + index,
        DispatcherSelector.fromConfig(settings.controlDispatcher()));
    device.bind(ref);
    return device;
  }

  private final DeviceImpl device;
  private final Duration linger;
  private final Executor replyExecutor;
  /** The objects created on the device and not destroyed yet, oldest first: the record for reclaim. */
  private final LinkedHashSet<DeviceResource> resources = new LinkedHashSet<>();
  private final Spawners spawners;
  private final ActorRef<EventActor.Command> events;
  private final ActorRef<Done> reclaimSteps;
  /** The client reclaim in progress (the registry asks for one at a time per device), or null. */
  private ReclaimClient reclaiming;
  private int reclaimWaiting;

  private DeviceActor(ActorContext<Command> context, DeviceImpl device, MidlayerSettings settings,
      CallbackWatchdog watchdog) {
    super(context);
    this.device = device;
    this.linger = settings.unregisteredDeviceLinger();
    this.replyExecutor = context.getSystem().executionContext();
    // Driver actors and CQ actors resume after an exception that escapes them (a bug: consumer code is
    // guarded): stopping would leave posted work requests without completions and waiters without replies.
    this.spawners = new Spawners(spawnerOn(context, settings.dataPathDispatcher()),
        spawnerOn(context, settings.callbackDispatcher()));
    this.events = context.spawn(
        Behaviors.supervise(Behaviors.withMdc(EventActor.Command.class,
            java.util.Map.of(dev.midlayer.internal.LogMdc.DEVICE, device.name()),
            EventActor.create(device, context.getSelf(), watchdog))).onFailure(SupervisorStrategy.resume()),
        "events", DispatcherSelector.fromConfig(settings.callbackDispatcher()));
    device.bindEvents(events);
    device.bindExecutors(context.getSystem().dispatchers().lookup(
        DispatcherSelector.fromConfig(settings.callbackDispatcher())), replyExecutor, context.getSystem().scheduler());
    this.reclaimSteps = context.messageAdapter(Done.class, d -> new ReclaimStep());
  }

  /** Marks the thread as this device's actor while it handles a message ({@link DeviceActorThread}). */
  private static final class MarkThread extends BehaviorInterceptor<Command, Command> {
    private final DeviceImpl device;

    MarkThread(DeviceImpl device) {
      super(Command.class);
      this.device = device;
    }

    @Override
    public Behavior<Command> aroundReceive(TypedActorContext<Command> ctx, Command msg, ReceiveTarget<Command> target) {
      DeviceActorThread.Mark outer = DeviceActorThread.enter(device);
      try {
        return target.apply(ctx, msg);
      } finally {
        DeviceActorThread.leave(outer);
      }
    }
  }

  private static Spawner spawnerOn(ActorContext<Command> context, String dispatcherPath) {
    DispatcherSelector dispatcher = DispatcherSelector.fromConfig(dispatcherPath);
    return new Spawner() {
      @Override
      public <M> ActorRef<M> spawn(Behavior<M> behavior, String childName) {
        return context.spawn(Behaviors.supervise(behavior).onFailure(SupervisorStrategy.resume()), childName,
            dispatcher);
      }
    };
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Setup.class, this::onSetup)
        .onMessage(QueryDevice.class, this::onQueryDevice)
        .onMessage(QueryPort.class, this::onQueryPort)
        .onMessage(ListResources.class, this::onListResources)
        .onMessage(RefreshPort.class, this::onRefreshPort)
        .onMessage(RegisterEventHandler.class, m -> {
          events.tell(new EventActor.Register(m.registration(), m.result()));
          return Behaviors.same();
        })
        .onMessage(UnregisterEventHandler.class, m -> {
          events.tell(new EventActor.Unregister(m.registration(), m.result()));
          return Behaviors.same();
        })
        .onMessage(Create.class, this::onCreate)
        .onMessage(Destroy.class, this::onDestroy)
        .onMessage(Run.class, this::onRun)
        .onMessage(Fenced.class, m -> {
          // Nothing of the object is left in its actor; the event actor delivers what was raised before.
          events.tell(new EventActor.Barrier(m.result()));
          return Behaviors.same();
        })
        .onMessage(ReclaimClient.class, this::onReclaimClient)
        .onMessage(ReclaimStep.class, m -> reclaimStepDone())
        .onMessage(Shutdown.class, this::onShutdown)
        .build();
  }

  private Behavior<Command> onReclaimClient(ReclaimClient msg) {
    List<DeviceResource> mine = new ArrayList<>();
    for (DeviceResource r : resources) {
      if (msg.client().equals(r.owner())) {
        mine.add(r);
      }
    }
    reclaiming = msg;
    reclaimWaiting = 1 + reclaimNewestFirst(mine, " of " + msg.client() + " on " + device.name()
        + " was left after its remove returned: reclaimed by the midlayer (a client must destroy what it "
        + "created before its remove returns)", new ReclaimStep());
    // Its handlers go after its objects' events: the event actor answers once it dropped them.
    events.tell(new EventActor.DropHandlers(msg.client(), reclaimSteps));
    return Behaviors.same();
  }

  private Behavior<Command> reclaimStepDone() {
    if (reclaiming != null && --reclaimWaiting == 0) {
      reclaiming.replyTo().tell(Done.getInstance());
      reclaiming = null;
    }
    return Behaviors.same();
  }

  /**
   * Reports and reclaims {@code leftovers}, newest first (a QP before its CQ and PD), each with a warning
   * "{object}{why}" and a {@link LeftoverReclaimed} on the event stream; waits for the memory fence if a
   * region was among them; watches each object's actor with {@code fenced}. Returns how many it watches.
   */
  private void reportLeftover(ClientId owner, String what) {
    dev.midlayer.monitor.ContractMonitor m = device.monitor();
    if (m != null) {
      m.leftover(owner, device.name(), what);
    }
  }

  private int reclaimNewestFirst(List<DeviceResource> leftovers, String why, Command fenced) {
    return reclaimNewestFirst(leftovers, false, why, fenced);
  }

  /** As above; {@code nameOwner}: each warning ends with who made the object ({@code why} does not say). */
  private int reclaimNewestFirst(List<DeviceResource> leftovers, boolean nameOwner, String why, Command fenced) {
    int fences = 0;
    boolean memory = false;
    for (int i = leftovers.size() - 1; i >= 0; i--) {
      DeviceResource r = leftovers.get(i);
      String by = !nameOwner ? ""
          : r.owner() != null ? " (made by " + r.owner() + ")" : " (made outside any client's add, remove or context)";
      getContext().getLog().warn("{}{}{}", r.describe(), why, by);
      getContext().getSystem().eventStream().tell(new EventStream.Publish<>(
          new LeftoverReclaimed(r.owner(), device.name(), r.describe())));
      reportLeftover(r.owner(), r.describe());
      try {
        for (String dependent : r.reclaimDependents()) {
          getContext().getLog().warn("{} (of {}){}{}", dependent, r.describe(), why, by);
          getContext().getSystem().eventStream().tell(new EventStream.Publish<>(
              new LeftoverReclaimed(r.owner(), device.name(), dependent)));
          reportLeftover(r.owner(), dependent);
        }
        r.reclaim();
        memory |= r.holdsMemory();
        if (r.fence() != null) {
          getContext().watchWith(r.fence(), fenced);
          fences++;
        }
      } catch (Throwable e) {
        getContext().getLog().error("reclaiming {} failed", r.describe(), NonFatal.rethrowIfFatal(e));
      }
      resources.remove(r);
    }
    if (memory && device.ops().memoryFence() != null) {
      // As deregistering does: the reclaim completes only once no transfer touches the old memory.
      try {
        call(DriverOp.MEMORY_FENCE, () -> {
          device.ops().memoryFence().await();
          return null;
        });
      } catch (RuntimeException e) {
        getContext().getLog().error("the memory fence of {} failed after a reclaim", device.name(), e);
      }
    }
    return fences;
  }

  private Behavior<Command> onSetup(Setup msg) {
    DeviceOps ops = device.ops();
    try {
      DeviceAttributes attrs = call(DriverOp.QUERY_DEVICE, () -> ops.queryDevice().queryDevice());
      PortAttributes[] ports = new PortAttributes[attrs.physPortCount()];
      for (int p = 1; p <= ports.length; p++) {
        int portNum = p;
        ports[p - 1] = call(DriverOp.QUERY_PORT, () -> ops.queryPort().queryPort(portNum));
      }
      device.setAttributes(attrs, ports);
      if (ops.enableDriver() != null) {
        call(DriverOp.ENABLE_DRIVER, () -> {
          ops.enableDriver().enable(device.driverView());
          return null;
        });
      }
      msg.replyTo().tell(new SetupResult(null));
    } catch (DriverOpFailedException e) {
      msg.replyTo().tell(new SetupResult(e));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onQueryDevice(QueryDevice msg) {
    try {
      DeviceAttributes attrs = call(DriverOp.QUERY_DEVICE, () -> device.ops().queryDevice().queryDevice());
      Replies.complete(replyExecutor, msg.result(), attrs);
    } catch (RuntimeException e) {
      Replies.fail(replyExecutor, msg.result(), e);
    }
    return Behaviors.same();
  }

  private Behavior<Command> onQueryPort(QueryPort msg) {
    try {
      PortAttributes attrs = refreshPort(msg.portNum());
      Replies.complete(replyExecutor, msg.result(), attrs);
    } catch (RuntimeException e) {
      Replies.fail(replyExecutor, msg.result(), e);
    }
    return Behaviors.same();
  }

  private Behavior<Command> onListResources(ListResources msg) {
    List<DeviceResourceInfo> list = new ArrayList<>(resources.size());
    for (DeviceResource r : resources) {
      list.add(new DeviceResourceInfo(r.describe(), r.owner(), r.qpInfo()));
    }
    Replies.complete(replyExecutor, msg.result(), List.copyOf(list));
    return Behaviors.same();
  }

  private Behavior<Command> onRefreshPort(RefreshPort msg) {
    boolean ok = true;
    try {
      refreshPort(msg.event().portNum());
    } catch (RuntimeException e) {
      // As the kernel's cache does: handlers are not told about a port whose state could not be read.
      getContext().getLog().warn("{} not delivered: refreshing the port cache failed", msg.event(), e);
      ok = false;
    }
    msg.replyTo().tell(new EventActor.PortRefreshed(msg.event(), ok));
    return Behaviors.same();
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Behavior<Command> onCreate(Create msg) {
    try {
      DeviceResource created = (DeviceResource) ClientContext.callAs(ClientFuture.ownerOf(msg.result()),
          () -> uncheckedCreate(msg.body()));
      resources.add(created);
      Replies.complete(replyExecutor, msg.result(), created);
    } catch (Throwable e) {
      Replies.fail(replyExecutor, msg.result(), unwrap(NonFatal.rethrowIfFatal(e)));
    }
    return Behaviors.same();
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Behavior<Command> onRun(Run msg) {
    try {
      Replies.complete(replyExecutor, msg.result(), ClientContext.callAs(ClientFuture.ownerOf(msg.result()),
          () -> uncheckedCall(msg.body())));
    } catch (Throwable e) {
      Replies.fail(replyExecutor, msg.result(), unwrap(NonFatal.rethrowIfFatal(e)));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onDestroy(Destroy msg) {
    if (!resources.contains(msg.resource())) {
      Replies.fail(replyExecutor, msg.result(),
          new dev.midlayer.registry.NotRegisteredException(msg.verb() + ": " + msg.resource().describe()
              + " does not exist on " + device.name() + " (destroyed already?)"));
      return Behaviors.same();
    }
    try {
      msg.body().call();
      resources.remove(msg.resource());
      ActorRef<?> fence = msg.resource().fence();
      if (fence == null) {
        events.tell(new EventActor.Barrier(msg.result()));
      } else {
        // Complete only when the object's actor has stopped: no callback of it runs after the stage.
        getContext().watchWith(fence, new Fenced(msg.result()));
      }
    } catch (Throwable e) {
      Replies.fail(replyExecutor, msg.result(), NonFatal.rethrowIfFatal(e));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onShutdown(Shutdown msg) {
    // After every client's remove returned, anything still recorded was left behind by a client.
    int fences = reclaimNewestFirst(new ArrayList<>(resources), true, " on " + device.name() + " was left after every "
        + "client's remove: reclaimed by the midlayer (a client must destroy what it created in its remove)",
        new ShutdownFenced());
    resources.clear();
    // The event actor goes last: it reports the handlers left registered, and no event runs after it.
    getContext().watchWith(events, new ShutdownFenced());
    events.tell(new EventActor.Stop());
    fences++;
    // Unregistration is a fence: wait until the leftovers' actors and the event actor stopped, so none of
    // their callbacks runs after it completes.
    int[] waiting = {fences};
    return refusingRequests()
        .onMessage(ShutdownFenced.class, m -> --waiting[0] == 0 ? finishShutdown(msg) : Behaviors.same())
        .onMessage(RefreshPort.class, m -> Behaviors.same())
        .build();
  }

  private Behavior<Command> finishShutdown(Shutdown msg) {
    if (device.ops().deallocDriver() != null) {
      try {
        call(DriverOp.DEALLOC_DRIVER, () -> {
          device.ops().deallocDriver().dealloc(device.driverView());
          return null;
        });
      } catch (RuntimeException e) {
        getContext().getLog().error("dealloc_driver failed for {}", device.name(), e);
      }
    }
    device.setState(DeviceState.UNREGISTERED);
    msg.replyTo().tell(Done.getInstance());
    getContext().setReceiveTimeout(linger, new LingerOver());
    return gone();
  }

  /**
   * Once every client is removed: requests fail with {@link DeviceUnregisteredException} (rather than
   * falling into dead letters with their futures never completed); destroy fences still complete.
   */
  private BehaviorBuilder<Command> refusingRequests() {
    return Behaviors.receive(Command.class)
        .onMessage(QueryDevice.class, m -> failGone(m.result(), "queryDevice"))
        .onMessage(QueryPort.class, m -> failGone(m.result(), "queryPort"))
        .onMessage(ListResources.class, m -> failGone(m.result(), "listResources"))
        .onMessage(RegisterEventHandler.class, m -> failGone(m.result(), "registerEventHandler"))
        .onMessage(UnregisterEventHandler.class, m -> failGone(m.result(), "unregisterEventHandler"))
        .onMessage(Create.class, m -> failGone(m.result(), m.verb()))
        .onMessage(Destroy.class, m -> failGone(m.result(), m.verb()))
        .onMessage(Run.class, m -> failGone(m.result(), m.verb()))
        .onMessage(ReclaimClient.class, m -> {
          m.replyTo().tell(Done.getInstance()); // the device's own reclaim takes everything
          return Behaviors.same();
        })
        .onMessage(Fenced.class, m -> {
          Replies.complete(replyExecutor, m.result(), Done.getInstance());
          return Behaviors.same();
        });
  }

  /** After unregistration: fail late requests with a clear error, stop when idle. */
  private Behavior<Command> gone() {
    return refusingRequests()
        .onMessage(ShutdownFenced.class, m -> Behaviors.same())
        .onMessage(RefreshPort.class, m -> Behaviors.same())
        .onMessage(Setup.class, m -> {
          m.replyTo().tell(new SetupResult(new DeviceUnregisteredException(device.name(), "setup")));
          return Behaviors.same();
        })
        .onMessage(Shutdown.class, m -> {
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(LingerOver.class, m -> Behaviors.stopped())
        .build();
  }

  private Behavior<Command> failGone(CompletableFuture<?> result, String verb) {
    Replies.fail(replyExecutor, result, new DeviceUnregisteredException(device.name(), verb));
    return Behaviors.same();
  }

  private PortAttributes refreshPort(int portNum) {
    PortAttributes attrs = call(DriverOp.QUERY_PORT, () -> device.ops().queryPort().queryPort(portNum));
    device.updatePortCache(portNum, attrs);
    return attrs;
  }

  private Object uncheckedCreate(DeviceResources.CreateBody<?> body) {
    DeviceActorThread.running("the body of a create verb (create_qp and the like)");
    try {
      return body.create(spawners);
    } catch (Exception e) {
      throw new Wrapped(e);
    }
  }

  private static Object uncheckedCall(Callable<?> body) {
    try {
      return body.call();
    } catch (Exception e) {
      throw new Wrapped(e);
    }
  }

  /** Carries a body's checked exception through {@link ClientContext#callAs}; unwrapped before it is reported. */
  private static final class Wrapped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Wrapped(Exception cause) {
      super(cause);
    }
  }

  private static Throwable unwrap(Throwable e) {
    return e instanceof Wrapped w ? w.getCause() : e;
  }

  @FunctionalInterface
  private interface DriverCall<T> {
    T call() throws Exception;
  }

  private <T> T call(DriverOp op, DriverCall<T> body) {
    T value;
    DeviceActorThread.running("its driver op " + op.kernelName());
    try {
      value = body.call();
    } catch (Throwable e) {
      throw new DriverOpFailedException(op, device.name(), NonFatal.rethrowIfFatal(e));
    }
    if (value == null && (op == DriverOp.QUERY_DEVICE || op == DriverOp.QUERY_PORT)) {
      throw new DriverOpFailedException(op, device.name(), new NullPointerException("the op returned null"));
    }
    return value;
  }
}
