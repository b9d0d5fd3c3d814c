package dev.midlayer.internal.registry;

import dev.midlayer.Midlayer;
import dev.midlayer.internal.device.DeviceActor;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.registry.NameTakenException;
import dev.midlayer.registry.NotRegisteredException;
import dev.midlayer.registry.RegistrySnapshot;
import dev.midlayer.MidlayerSettings;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage.AddReply;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.internal.Replies;
import dev.midlayer.spi.DeviceOps;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Internal API. The registry actor: one per {@link dev.midlayer.Midlayer}. It runs device and client
 * registration and unregistration <b>one operation at a time</b>, in arrival order, and within an
 * operation one client callback at a time:
 *
 * <ul>
 *   <li>register device: set up (driver queries, enable_driver), announce, then {@code add} for every
 *       client in client registration order; completes after the last add finished;
 *   <li>unregister device: stop listing it, {@code remove} for every client that added it in reverse
 *       client registration order, reclaim leftovers, mark it UNREGISTERED; completes after that;
 *   <li>register client: list it, then {@code add} for every device in device registration order;
 *   <li>unregister client: stop listing it, then {@code remove} for every device it was added to.
 * </ul>
 *
 * <p>The set of (client, device) pairs whose add succeeded is the single source of truth: a pair gets
 * an add only if it is not in the set, and a remove only if it is, which gives exactly one add per pair
 * and never a remove without a successful add. Unregistration marks the device or client at once when
 * the request arrives (so no operation queued before it adds it anywhere new), and concurrent
 * unregistrations of the same object join the one in progress.
 *
 * <p>Readers never ask this actor: it publishes an immutable {@link RegistrySnapshot} after each change.
 * It never blocks: client callbacks run in client actors and driver ops in device actors, and it waits
 * for their replies as messages; while a reply is overdue it logs a warning, repeatedly, and waits on.
 */
public final class RegistryActor extends AbstractBehavior<RegistryActor.Command> {

  /** Messages of the registry. */
  public sealed interface Command {}

  /** Register a device under {@code name} (a {@code %d} pattern takes the lowest free index). */
  public record RegisterDevice(String name, DeviceOps ops, CompletableFuture<Device> result)
      implements Command {}

  /** Unregister a device; joins an unregistration already in progress. */
  public record UnregisterDevice(Device device, CompletableFuture<Done> result) implements Command {}

  /** Register a client. */
  public record RegisterClient(String name, ClientSource source, CompletableFuture<ClientId> result)
      implements Command {}

  /** Unregister a client; joins an unregistration already in progress. */
  public record UnregisterClient(ClientId client, CompletableFuture<Done> result) implements Command {}

  private record SetupDone(DeviceActor.SetupResult result) implements Command {}

  private record ShutdownDone() implements Command {}

  private record AddReplied(long step, AddReply reply) implements Command {}

  private record RemoveReplied(long step) implements Command {}

  private record ClientTerminated(ClientId client) implements Command {}

  private record DeviceTerminated(Device device) implements Command {}

  private record ReplyOverdue(long step) implements Command {}

  /** The registry behaviour; it publishes snapshots into {@code snapshot}. */
  public static Behavior<Command> create(MidlayerSettings settings, ContextChecker contextChecker,
      AtomicReference<RegistrySnapshot> snapshot) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new RegistryActor(ctx, timers, settings, contextChecker, snapshot)));
  }

  // ---- state ----

  private enum Status { REGISTERING, REGISTERED, UNREGISTERING }

  private static final class DeviceEntry {
    final DeviceImpl device;
    Status status = Status.REGISTERING;
    final List<CompletableFuture<Done>> unregisterWaiters = new ArrayList<>();

    DeviceEntry(DeviceImpl device) {
      this.device = device;
    }
  }

  private static final class ClientEntry {
    final ClientId id;
    final ActorRef<ClientMessage> ref;
    final boolean owned;
    Status status = Status.REGISTERED;
    boolean terminated;
    final List<CompletableFuture<Done>> unregisterWaiters = new ArrayList<>();

    ClientEntry(ClientId id, ActorRef<ClientMessage> ref, boolean owned) {
      this.id = id;
      this.ref = ref;
      this.owned = owned;
    }
  }

  private record Pair(int clientId, int deviceIndex) {}

  /** One client callback the running operation still has to make. Re-checked when its turn comes. */
  private record PairStep(boolean add, ClientEntry client, DeviceEntry device) {}

  /** The kinds of reply the running operation can wait for. */
  private enum Wait {
    SETUP("set-up"), SHUTDOWN("shutdown"), ADD("add"), REMOVE("remove");

    final String label;

    Wait(String label) {
      this.label = label;
    }
  }

  /** What the running operation is waiting for. {@code client} is null for the device's own steps. */
  private record Awaiting(Wait what, ClientEntry client, DeviceEntry device, ActorRef<?> replyForwarder,
      long sinceNanos) {}

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final MidlayerSettings settings;
  private final ContextChecker contextChecker;
  private final AtomicReference<RegistrySnapshot> snapshot;
  private final Executor replyExecutor;
  private final ActorRef<DeviceActor.SetupResult> setupAdapter;
  private final ActorRef<Done> shutdownAdapter;

  /** Devices by name, in registration order (including ones being set up or unregistered). */
  private final LinkedHashMap<String, DeviceEntry> devices = new LinkedHashMap<>();
  /** Clients by id, which is registration order. */
  private final TreeMap<Integer, ClientEntry> clients = new TreeMap<>();
  private final Set<Pair> added = new HashSet<>();
  private int nextDeviceIndex;
  private int nextClientId;

  /** Operations waiting for their turn, in arrival order. */
  private final ArrayDeque<Command> pending = new ArrayDeque<>();
  private Command running;
  private final ArrayDeque<PairStep> steps = new ArrayDeque<>();
  private Runnable afterSteps;
  private Awaiting awaiting;
  private long step;

  private RegistryActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, MidlayerSettings settings,
      ContextChecker contextChecker, AtomicReference<RegistrySnapshot> snapshot) {
    super(ctx);
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.contextChecker = contextChecker;
    this.snapshot = snapshot;
    this.replyExecutor = ctx.getSystem().executionContext();
    this.setupAdapter = ctx.messageAdapter(DeviceActor.SetupResult.class, SetupDone::new);
    this.shutdownAdapter = ctx.messageAdapter(Done.class, d -> new ShutdownDone());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(RegisterDevice.class, this::enqueue)
        .onMessage(RegisterClient.class, this::enqueue)
        .onMessage(UnregisterDevice.class, this::onUnregisterDevice)
        .onMessage(UnregisterClient.class, this::onUnregisterClient)
        .onMessage(SetupDone.class, this::onSetupDone)
        .onMessage(ShutdownDone.class, this::onShutdownDone)
        .onMessage(AddReplied.class, this::onAddReplied)
        .onMessage(RemoveReplied.class, this::onRemoveReplied)
        .onMessage(ClientTerminated.class, this::onClientTerminated)
        .onMessage(DeviceTerminated.class, this::onDeviceTerminated)
        .onMessage(ReplyOverdue.class, this::onReplyOverdue)
        .build();
  }

  // ---- arrival of requests ----

  private Behavior<Command> enqueue(Command op) {
    pending.add(op);
    return drive();
  }

  private Behavior<Command> onUnregisterDevice(UnregisterDevice msg) {
    DeviceEntry entry = devices.get(msg.device().name());
    if (entry == null || entry.device != msg.device()) {
      Replies.fail(replyExecutor, msg.result(),
          new NotRegisteredException("device " + msg.device().name() + " is not registered"));
      return this;
    }
    entry.unregisterWaiters.add(msg.result());
    if (entry.status != Status.UNREGISTERING) {
      // Like clearing DEVICE_REGISTERED: from now on no lookup lists it and no operation adds it.
      entry.status = Status.UNREGISTERING;
      entry.device.setState(DeviceState.UNREGISTERING);
      publish();
      pending.add(msg);
    }
    return drive();
  }

  private Behavior<Command> onUnregisterClient(UnregisterClient msg) {
    ClientEntry entry = clients.get(msg.client().id());
    if (entry == null || !entry.id.equals(msg.client())) {
      Replies.fail(replyExecutor, msg.result(),
          new NotRegisteredException(msg.client() + " is not registered"));
      return this;
    }
    entry.unregisterWaiters.add(msg.result());
    if (entry.status != Status.UNREGISTERING) {
      entry.status = Status.UNREGISTERING;
      publish();
      pending.add(msg);
    }
    return drive();
  }

  // ---- running operations, one at a time ----

  private Behavior<Command> drive() {
    while (running == null && !pending.isEmpty()) {
      running = pending.poll();
      if (running instanceof RegisterDevice op) {
        startRegisterDevice(op);
      } else if (running instanceof UnregisterDevice op) {
        startUnregisterDevice(op);
      } else if (running instanceof RegisterClient op) {
        startRegisterClient(op);
      } else if (running instanceof UnregisterClient op) {
        startUnregisterClient(op);
      } else {
        throw new IllegalStateException("not an operation: " + running);
      }
    }
    return this;
  }

  private void finishOperation() {
    running = null;
    afterSteps = null;
  }

  private void startRegisterDevice(RegisterDevice op) {
    String name = resolveName(op.name());
    if (name == null) {
      Replies.fail(replyExecutor, op.result(), new NameTakenException("device", op.name()));
      finishOperation();
      return;
    }
    if (name.length() > Midlayer.MAX_DEVICE_NAME_LENGTH) {
      // The pattern fit, but its lowest free index makes the name too long (the kernel's -ENFILE).
      Replies.fail(replyExecutor, op.result(), new InvalidArgumentException("name", "pattern '" + op.name()
          + "' has no free name of at most " + Midlayer.MAX_DEVICE_NAME_LENGTH + " characters (next: " + name + ")"));
      finishOperation();
      return;
    }
    DeviceImpl device = DeviceActor.spawn(ctx, name, nextDeviceIndex++, op.ops(), contextChecker, settings);
    DeviceEntry entry = new DeviceEntry(device);
    devices.put(name, entry);
    // A device actor that dies (a bug) must not leave the registry waiting for a reply forever.
    ctx.watchWith(device.actor(), new DeviceTerminated(device));
    await(Wait.SETUP, null, entry, null);
    device.actor().tell(new DeviceActor.Setup(setupAdapter));
  }

  private Behavior<Command> onSetupDone(SetupDone msg) {
    DeviceEntry entry = awaiting.device();
    endAwait();
    RegisterDevice op = (RegisterDevice) running;
    Throwable failure = msg.result().failure();
    if (failure != null) {
      ctx.getLog().warn("device {} of driver '{}' refused: set-up failed", entry.device.name(),
          entry.device.driverName(), failure);
      devices.remove(entry.device.name());
      ctx.stop(entry.device.actor());
      Replies.fail(replyExecutor, op.result(), failure);
      // An unregistration that joined during set-up has nothing left to do.
      completeAll(entry.unregisterWaiters);
      entry.device.setState(DeviceState.UNREGISTERED);
      finishOperation();
      return drive();
    }
    if (entry.status == Status.REGISTERING) {
      entry.status = Status.REGISTERED;
      entry.device.setState(DeviceState.REGISTERED);
      publish();
      ctx.getLog().info("device {} registered (driver '{}', {} port(s))", entry.device.name(),
          entry.device.driverName(), entry.device.portCount());
    }
    for (ClientEntry client : clients.values()) {
      steps.add(new PairStep(true, client, entry));
    }
    afterSteps = () -> {
      Replies.complete(replyExecutor, op.result(), entry.device);
      finishOperation();
    };
    runSteps();
    return drive();
  }

  private void startUnregisterDevice(UnregisterDevice op) {
    DeviceEntry entry = devices.get(op.device().name());
    if (entry == null || entry.device != op.device()) {
      // Its registration failed after this request joined; the waiters were completed then.
      finishOperation();
      return;
    }
    for (ClientEntry client : clients.descendingMap().values()) {
      steps.add(new PairStep(false, client, entry));
    }
    afterSteps = () -> {
      await(Wait.SHUTDOWN, null, entry, null);
      entry.device.actor().tell(new DeviceActor.Shutdown(shutdownAdapter));
    };
    runSteps();
  }

  private Behavior<Command> onShutdownDone(ShutdownDone msg) {
    DeviceEntry entry = awaiting.device();
    endAwait();
    devices.remove(entry.device.name());
    ctx.getLog().info("device {} unregistered", entry.device.name());
    completeAll(entry.unregisterWaiters);
    finishOperation();
    return drive();
  }

  private void startRegisterClient(RegisterClient op) {
    for (ClientEntry c : clients.values()) {
      if (c.id.name().equals(op.name())) {
        Replies.fail(replyExecutor, op.result(), new NameTakenException("client", op.name()));
        finishOperation();
        return;
      }
    }
    ClientId id = new ClientId(nextClientId++, op.name());
    ClientEntry entry;
    DispatcherSelector clientDispatcher = DispatcherSelector.fromConfig(settings.clientDispatcher());
    if (op.source() instanceof ClientSource.Plain p) {
      entry = new ClientEntry(id,
          ctx.spawn(InterfaceClientActor.create(p.client()), "client-" + id.id(), clientDispatcher), true);
    } else if (op.source() instanceof ClientSource.Spawned s) {
      entry = new ClientEntry(id, ctx.spawn(s.behavior(), "client-" + id.id(), clientDispatcher), true);
    } else {
      entry = new ClientEntry(id, ((ClientSource.Existing) op.source()).ref(), false);
    }
    ctx.watchWith(entry.ref, new ClientTerminated(id));
    clients.put(id.id(), entry);
    publish();
    ctx.getLog().info("{} registered", id);
    for (DeviceEntry device : devices.values()) {
      steps.add(new PairStep(true, entry, device));
    }
    afterSteps = () -> {
      Replies.complete(replyExecutor, op.result(), id);
      finishOperation();
    };
    runSteps();
  }

  private void startUnregisterClient(UnregisterClient op) {
    ClientEntry entry = clients.get(op.client().id());
    for (DeviceEntry device : devices.values()) {
      steps.add(new PairStep(false, entry, device));
    }
    afterSteps = () -> {
      ctx.unwatch(entry.ref);
      if (entry.owned) {
        ctx.stop(entry.ref);
      }
      clients.remove(entry.id.id());
      ctx.getLog().info("{} unregistered", entry.id);
      completeAll(entry.unregisterWaiters);
      finishOperation();
    };
    runSteps();
  }

  /** Makes the next client callback of the running operation, or finishes it when none is left. */
  private void runSteps() {
    while (awaiting == null) {
      PairStep s = steps.poll();
      if (s == null) {
        Runnable then = afterSteps;
        afterSteps = null;
        then.run();
        return;
      }
      if (s.add()) {
        tryAdd(s.client(), s.device());
      } else {
        tryRemove(s.client(), s.device());
      }
    }
  }

  private void tryAdd(ClientEntry client, DeviceEntry device) {
    Pair pair = new Pair(client.id.id(), device.device.index());
    // Both must still be registered (not unregistering) and the pair not added yet: exactly one add.
    if (client.status != Status.REGISTERED || device.status != Status.REGISTERED || added.contains(pair)) {
      return;
    }
    if (client.terminated) {
      ctx.getLog().warn("{} not added to {}: its actor has terminated", client.id, device.device.name());
      return;
    }
    device.device.openClientData(client.id);
    long s = step;
    ActorRef<AddReply> replyTo = forwarder(r -> new AddReplied(s, r));
    await(Wait.ADD, client, device, replyTo);
    client.ref.tell(new ClientMessage.DeviceAdded(device.device, client.id, replyTo));
  }

  private void tryRemove(ClientEntry client, DeviceEntry device) {
    Pair pair = new Pair(client.id.id(), device.device.index());
    if (!added.contains(pair)) {
      return;
    }
    if (client.terminated) {
      ctx.getLog().error("{} cannot remove {}: its actor has terminated; dropping its data",
          client.id, device.device.name());
      added.remove(pair);
      device.device.closeClientData(client.id);
      return;
    }
    Object data = device.device.getClientData(client.id);
    long s = step;
    ActorRef<Done> replyTo = forwarder(d -> new RemoveReplied(s));
    await(Wait.REMOVE, client, device, replyTo);
    client.ref.tell(new ClientMessage.DeviceRemoved(device.device, client.id, data, replyTo));
  }

  private Behavior<Command> onAddReplied(AddReplied msg) {
    if (awaiting == null || msg.step() != step || awaiting.what() != Wait.ADD) {
      return this;
    }
    ClientEntry client = awaiting.client();
    DeviceEntry device = awaiting.device();
    endAwait();
    AddReply reply = msg.reply();
    if (reply == ClientMessage.AddReply.added()) {
      added.add(new Pair(client.id.id(), device.device.index()));
      ctx.getLog().debug("{} added {}", client.id, device.device.name());
    } else {
      device.device.closeClientData(client.id);
      if (reply instanceof ClientMessage.Failed f) {
        ctx.getLog().error("{} failed to add {}; it will not get remove for it", client.id,
            device.device.name(), f.cause());
      } else {
        ctx.getLog().info("{} declined {}: {}", client.id, device.device.name(),
            ((ClientMessage.Declined) reply).reason());
      }
    }
    runSteps();
    return drive();
  }

  private Behavior<Command> onRemoveReplied(RemoveReplied msg) {
    if (awaiting == null || msg.step() != step || awaiting.what() != Wait.REMOVE) {
      return this;
    }
    ClientEntry client = awaiting.client();
    DeviceEntry device = awaiting.device();
    endAwait();
    added.remove(new Pair(client.id.id(), device.device.index()));
    device.device.closeClientData(client.id);
    ctx.getLog().debug("{} removed {}", client.id, device.device.name());
    runSteps();
    return drive();
  }

  private Behavior<Command> onClientTerminated(ClientTerminated msg) {
    ClientEntry client = clients.get(msg.client().id());
    if (client == null) {
      return this;
    }
    client.terminated = true;
    if (awaiting != null && awaiting.client() == client) {
      ctx.getLog().error("{} terminated during {} of {}", client.id, awaiting.what().label,
          awaiting.device().device.name());
      // Treat it as the reply it can no longer send: a failed add, or a finished remove.
      if (awaiting.what() == Wait.ADD) {
        return onAddReplied(new AddReplied(step,
            ClientMessage.AddReply.failed(new IllegalStateException("client actor terminated"))));
      }
      return onRemoveReplied(new RemoveReplied(step));
    }
    ctx.getLog().warn("{} terminated while registered; it gets no further add or remove", client.id);
    return this;
  }

  private Behavior<Command> onDeviceTerminated(DeviceTerminated msg) {
    DeviceEntry entry = devices.get(msg.device().name());
    if (entry == null || entry.device != msg.device()) {
      return this; // the normal end of an unregistered device, or of one whose set-up failed
    }
    ctx.getLog().error("the actor of device {} terminated while the device is registered", entry.device.name());
    if (awaiting != null && awaiting.device() == entry && awaiting.what() == Wait.SETUP) {
      return onSetupDone(new SetupDone(new DeviceActor.SetupResult(
          new IllegalStateException("the device actor of " + entry.device.name() + " terminated during set-up"))));
    }
    if (awaiting != null && awaiting.device() == entry && awaiting.what() == Wait.SHUTDOWN) {
      entry.device.setState(DeviceState.UNREGISTERED);
      return onShutdownDone(new ShutdownDone());
    }
    return this;
  }

  private Behavior<Command> onReplyOverdue(ReplyOverdue msg) {
    if (awaiting != null && msg.step() == step) {
      long seconds = (System.nanoTime() - awaiting.sinceNanos()) / 1_000_000_000L;
      if (awaiting.client() != null) {
        ctx.getLog().warn("{} has not finished {} of device {} after {} s; registration of devices and "
            + "clients waits for it", awaiting.client().id, awaiting.what().label,
            awaiting.device().device.name(), seconds);
      } else {
        ctx.getLog().warn("device {} has not finished {} after {} s", awaiting.device().device.name(),
            awaiting.what().label, seconds);
      }
    }
    return this;
  }

  // ---- helpers ----

  private void await(Wait what, ClientEntry client, DeviceEntry device, ActorRef<?> forwarder) {
    awaiting = new Awaiting(what, client, device, forwarder, System.nanoTime());
    timers.startTimerWithFixedDelay("reply-overdue", new ReplyOverdue(step),
        settings.clientAckWarningInterval());
  }

  private void endAwait() {
    if (awaiting.replyForwarder() != null) {
      ctx.stop(awaiting.replyForwarder());
    }
    awaiting = null;
    step++;
    timers.cancel("reply-overdue");
  }

  /**
   * A one-shot reply address for one client callback. Tagging each reply with its step means a late
   * reply (from a client that terminated, after the registry moved on) can never be taken for the reply
   * to a later callback.
   */
  private <T> ActorRef<T> forwarder(Function<T, Command> wrap) {
    ActorRef<Command> self = ctx.getSelf();
    return ctx.spawnAnonymous(Behaviors.receiveMessage(reply -> {
      self.tell(wrap.apply(reply));
      return Behaviors.stopped();
    }));
  }

  private String resolveName(String requested) {
    if (!requested.contains("%d")) {
      return devices.containsKey(requested) ? null : requested;
    }
    for (int i = 0; ; i++) {
      String candidate = requested.replace("%d", Integer.toString(i));
      if (!devices.containsKey(candidate)) {
        return candidate;
      }
    }
  }

  private void completeAll(List<CompletableFuture<Done>> waiters) {
    for (CompletableFuture<Done> w : waiters) {
      Replies.complete(replyExecutor, w, Done.getInstance());
    }
    waiters.clear();
  }

  private void publish() {
    List<Device> listed = new ArrayList<>();
    for (DeviceEntry e : devices.values()) {
      if (e.status == Status.REGISTERED) {
        listed.add(e.device);
      }
    }
    List<ClientId> listedClients = new ArrayList<>();
    for (Map.Entry<Integer, ClientEntry> e : clients.entrySet()) {
      if (e.getValue().status == Status.REGISTERED) {
        listedClients.add(e.getValue().id);
      }
    }
    snapshot.set(new RegistrySnapshot(listed, listedClients));
  }
}
