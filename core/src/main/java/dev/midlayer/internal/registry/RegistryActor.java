package dev.midlayer.internal.registry;

import dev.midlayer.Midlayer;
import dev.midlayer.MidlayerSettings;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.client.ClientMessage.AddReply;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.LogMdc;
import dev.midlayer.internal.MonitorSlot;
import dev.midlayer.internal.Replies;
import dev.midlayer.internal.device.DeviceActor;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.jfr.MidlayerEvents;
import dev.midlayer.registry.NameTakenException;
import dev.midlayer.registry.NotRegisteredException;
import dev.midlayer.registry.RegistrySnapshot;
import dev.midlayer.spi.DeviceOps;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
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
 * Internal API. The registry actor: one per {@link Midlayer}. It runs device and client registration and
 * unregistration <b>one at a time per device and per client</b> (what the kernel's per-device
 * unregistration lock and per-client callback order give), and within an operation one client callback at
 * a time:
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
 * <p>Scheduling: each operation claims, when it starts, the device names and clients it may call back for
 * (a device registration: its name and every client; a client registration: its name and every device; an
 * unregistration: its object and the pairs it was added in). An operation starts as soon as nothing it
 * claims is claimed by a running operation or by one that arrived before it (so conflicting operations run
 * in arrival order, and the others run at once). A client stuck in a callback therefore holds up only the
 * operations that need that client or its device; an operation makes callbacks only for what it claimed,
 * so one client never has two callbacks at once, and one device never gets two clients' callbacks at once.
 *
 * <p>The set of (client, device) pairs whose add succeeded is the single source of truth: a pair gets an
 * add only if it is not in the set, and a remove only if it is, which gives exactly one add per pair and
 * never a remove without a successful add. Unregistration marks the device or client at once when the
 * request arrives (so no operation adds it anywhere new), and concurrent unregistrations of the same
 * object join the one in progress.
 *
 * <p>Readers never ask this actor: it publishes an immutable {@link RegistrySnapshot} after each change.
 * It never blocks: client callbacks run in client actors and driver ops in device actors, and it waits
 * for their replies as messages; while a reply is overdue it logs a warning, repeatedly, and waits on.
 *
 * <p>Supervision: resume. Every reply it waits for comes as a message and its state is plain fields, so
 * after a bug in it (the only way it throws) resuming keeps every other operation going, where a restart
 * would forget every device and client.
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

  private record SetupDone(long step, DeviceActor.SetupResult result) implements Command {}

  private record ShutdownDone(long step) implements Command {}

  private record AddReplied(long step, AddReply reply) implements Command {}

  private record RemoveReplied(long step) implements Command {}

  private record ReclaimDone(long step) implements Command {}

  private record ClientTerminated(ClientId client) implements Command {}

  private record DeviceTerminated(Device device) implements Command {}

  private record ReplyOverdue(long step) implements Command {}

  /** The registry behaviour; it publishes snapshots into {@code snapshot}. */
  public static Behavior<Command> create(MidlayerSettings settings, ContextChecker contextChecker,
      AtomicReference<RegistrySnapshot> snapshot, CallbackWatchdog watchdog, MonitorSlot monitor) {
    return Behaviors.supervise(Behaviors.setup((ActorContext<Command> ctx) -> Behaviors.withTimers(
        (TimerScheduler<Command> timers) -> (Behavior<Command>) new RegistryActor(ctx, timers, settings,
            contextChecker, snapshot, watchdog, monitor))))
        .onFailure(org.apache.pekko.actor.typed.SupervisorStrategy.resume());
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

  /** One client callback an operation still has to make. Re-checked when its turn comes. */
  private record PairStep(boolean add, ClientEntry client, DeviceEntry device) {}

  /** The kinds of reply an operation can wait for. */
  private enum Wait {
    SETUP("set-up"), SHUTDOWN("shutdown"), ADD("add"), REMOVE("remove"), RECLAIM("reclaim");

    final String label;

    Wait(String label) {
      this.label = label;
    }
  }

  /** What an operation is waiting for. {@code client} is null for the device's own steps. */
  private record Awaiting(long step, Wait what, ClientEntry client, DeviceEntry device, ActorRef<?> replyForwarder,
      long sinceNanos) {}

  /** An operation in progress or waiting to start: its request, what it claims, and where it is. */
  private static final class Operation {
    final Command request;
    final Set<String> claims = new HashSet<>();
    final ArrayDeque<PairStep> steps = new ArrayDeque<>();
    Runnable afterSteps;
    Awaiting awaiting;
    /** RegisterDevice: the name it resolved; the device entry once it exists. */
    String deviceName;
    DeviceEntry device;

    /** When it started ({@link System#nanoTime}), for its JFR event. */
    long startedNanos;

    Operation(Command request) {
      this.request = request;
    }
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final MidlayerSettings settings;
  private final ContextChecker contextChecker;
  private final AtomicReference<RegistrySnapshot> snapshot;
  private final Executor replyExecutor;
  private final CallbackWatchdog watchdog;
  private final MonitorSlot monitor;

  /** Devices by name, in registration order (including ones being set up or unregistered). */
  private final LinkedHashMap<String, DeviceEntry> devices = new LinkedHashMap<>();
  /** Clients by id, which is registration order. */
  private final TreeMap<Integer, ClientEntry> clients = new TreeMap<>();
  private final Set<Pair> added = new HashSet<>();
  private int nextDeviceIndex;
  private int nextClientId;
  private long nextStep;

  /** Operations that have not started, in arrival order. */
  private final List<Operation> pending = new ArrayList<>();
  /** Operations that started and have not finished. */
  private final List<Operation> running = new ArrayList<>();

  private RegistryActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, MidlayerSettings settings,
      ContextChecker contextChecker, AtomicReference<RegistrySnapshot> snapshot, CallbackWatchdog watchdog,
      MonitorSlot monitor) {
    super(ctx);
    this.watchdog = watchdog;
    this.monitor = monitor;
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.contextChecker = contextChecker;
    this.snapshot = snapshot;
    this.replyExecutor = ctx.getSystem().executionContext();
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
        .onMessage(ReclaimDone.class, this::onReclaimDone)
        .onMessage(ClientTerminated.class, this::onClientTerminated)
        .onMessage(DeviceTerminated.class, this::onDeviceTerminated)
        .onMessage(ReplyOverdue.class, this::onReplyOverdue)
        .build();
  }

  // ---- arrival of requests ----

  private Behavior<Command> enqueue(Command request) {
    pending.add(new Operation(request));
    return schedule();
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
      pending.add(new Operation(msg));
    }
    return schedule();
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
      pending.add(new Operation(msg));
    }
    return schedule();
  }

  // ---- scheduling: one at a time per device and per client ----

  /**
   * Starts every waiting operation whose claims meet neither a running operation's nor an earlier waiting
   * one's, in arrival order.
   */
  private Behavior<Command> schedule() {
    boolean started = true;
    while (started) {
      started = false;
      Set<String> claimed = new HashSet<>();
      for (Operation op : running) {
        claimed.addAll(op.claims);
      }
      for (Iterator<Operation> it = pending.iterator(); it.hasNext(); ) {
        Operation op = it.next();
        Set<String> wants = claimsOf(op);
        if (disjoint(wants, claimed)) {
          it.remove();
          op.claims.addAll(wants);
          running.add(op);
          start(op);
          started = true;
          break; // starting changes the registry (names, lists): look again from the first
        }
        claimed.addAll(wants);
      }
    }
    return this;
  }

  private static boolean disjoint(Set<String> a, Set<String> b) {
    for (String s : a) {
      if (b.contains(s)) {
        return false;
      }
    }
    return true;
  }

  private static String deviceClaim(String name) {
    return "device " + name;
  }

  private static String clientClaim(ClientEntry c) {
    return "client #" + c.id.id();
  }

  /** What an operation would claim if it started now. */
  private Set<String> claimsOf(Operation op) {
    Set<String> claims = new HashSet<>();
    if (op.request instanceof RegisterDevice r) {
      claims.add(deviceClaim(resolveName(r.name())));
      for (ClientEntry c : clients.values()) {
        if (c.status == Status.REGISTERED) {
          claims.add(clientClaim(c));
        }
      }
    } else if (op.request instanceof UnregisterDevice u) {
      DeviceEntry d = devices.get(u.device().name());
      claims.add(deviceClaim(u.device().name()));
      if (d != null && d.device == u.device()) {
        for (ClientEntry c : clients.values()) {
          if (added.contains(new Pair(c.id.id(), d.device.index()))) {
            claims.add(clientClaim(c));
          }
        }
      }
    } else if (op.request instanceof RegisterClient r) {
      claims.add("client name " + r.name());
      for (DeviceEntry d : devices.values()) {
        if (d.status != Status.UNREGISTERING) {
          claims.add(deviceClaim(d.device.name()));
        }
      }
    } else if (op.request instanceof UnregisterClient u) {
      ClientEntry c = clients.get(u.client().id());
      claims.add("client #" + u.client().id());
      claims.add("client name " + u.client().name());
      for (DeviceEntry d : devices.values()) {
        if (c != null && added.contains(new Pair(c.id.id(), d.device.index()))) {
          claims.add(deviceClaim(d.device.name()));
        }
      }
    }
    return claims;
  }

  private void start(Operation op) {
    op.startedNanos = System.nanoTime();
    if (op.request instanceof RegisterDevice r) {
      startRegisterDevice(op, r);
    } else if (op.request instanceof UnregisterDevice u) {
      startUnregisterDevice(op, u);
    } else if (op.request instanceof RegisterClient r) {
      startRegisterClient(op, r);
    } else if (op.request instanceof UnregisterClient u) {
      startUnregisterClient(op, u);
    }
  }

  /** The client's MDC on every line its actor logs, and on the client's own logging in add and remove. */
  private static Behavior<ClientMessage> withClientMdc(ClientId id, Behavior<ClientMessage> behavior) {
    return Behaviors.withMdc(ClientMessage.class, java.util.Map.of(LogMdc.CLIENT, id.toString()),
        LogMdc::forClientMessage, behavior);
  }

  private void finish(Operation op) {
    running.remove(op);
    op.afterSteps = null;
    String device = null;
    String client = null;
    if (op.request instanceof RegisterDevice r) {
      device = op.device != null ? op.device.device.name() : r.name();
    } else if (op.request instanceof UnregisterDevice u) {
      device = u.device().name();
    } else if (op.request instanceof RegisterClient r) {
      client = r.name();
    } else if (op.request instanceof UnregisterClient u) {
      client = u.client().toString();
    }
    String step = op.request.getClass().getSimpleName();
    MidlayerEvents.registration(Character.toLowerCase(step.charAt(0)) + step.substring(1), device, client,
        "finished", op.startedNanos);
  }

  // ---- the four operations ----

  private void startRegisterDevice(Operation op, RegisterDevice r) {
    String name = resolveName(r.name());
    if (devices.containsKey(name)) {
      Replies.fail(replyExecutor, r.result(), new NameTakenException("device", r.name()));
      finish(op);
      return;
    }
    if (name.length() > Midlayer.MAX_DEVICE_NAME_LENGTH) {
      // The pattern fit, but its lowest free index makes the name too long (the kernel's -ENFILE).
      Replies.fail(replyExecutor, r.result(), new InvalidArgumentException("name", "pattern '" + r.name()
          + "' has no free name of at most " + Midlayer.MAX_DEVICE_NAME_LENGTH + " characters (next: " + name + ")"));
      finish(op);
      return;
    }
    DeviceImpl device = DeviceActor.spawn(ctx, name, nextDeviceIndex++, r.ops(), contextChecker, settings, watchdog,
        monitor);
    DeviceEntry entry = new DeviceEntry(device);
    devices.put(name, entry);
    op.device = entry;
    // A device actor that dies (a bug) must not leave the registry waiting for a reply forever.
    ctx.watchWith(device.actor(), new DeviceTerminated(device));
    long s = await(op, Wait.SETUP, null, entry, null);
    device.actor().tell(new DeviceActor.Setup(forwarder(result -> new SetupDone(s, result))));
  }

  private Behavior<Command> onSetupDone(SetupDone msg) {
    Operation op = awaitingStep(msg.step(), Wait.SETUP);
    if (op == null) {
      return this;
    }
    DeviceEntry entry = op.awaiting.device();
    endAwait(op);
    RegisterDevice r = (RegisterDevice) op.request;
    Throwable failure = msg.result().failure();
    if (failure != null) {
      ctx.getLog().warn("device {} of driver '{}' refused: set-up failed", entry.device.name(),
          entry.device.driverName(), failure);
      devices.remove(entry.device.name());
      ctx.stop(entry.device.actor());
      Replies.fail(replyExecutor, r.result(), failure);
      // An unregistration that joined during set-up has nothing left to do.
      completeAll(entry.unregisterWaiters);
      entry.device.setState(DeviceState.UNREGISTERED);
      finish(op);
      return schedule();
    }
    if (entry.status == Status.REGISTERING) {
      entry.status = Status.REGISTERED;
      entry.device.setState(DeviceState.REGISTERED);
      publish();
      ctx.getLog().info("device {} registered (driver '{}', {} port(s))", entry.device.name(),
          entry.device.driverName(), entry.device.portCount());
    }
    for (ClientEntry client : clients.values()) {
      if (op.claims.contains(clientClaim(client))) {
        op.steps.add(new PairStep(true, client, entry));
      }
    }
    op.afterSteps = () -> {
      Replies.complete(replyExecutor, r.result(), entry.device);
      finish(op);
    };
    runSteps(op);
    return schedule();
  }

  private void startUnregisterDevice(Operation op, UnregisterDevice u) {
    DeviceEntry entry = devices.get(u.device().name());
    if (entry == null || entry.device != u.device()) {
      // Its registration failed after this request joined; the waiters were completed then.
      finish(op);
      return;
    }
    op.device = entry;
    for (ClientEntry client : clients.descendingMap().values()) {
      if (op.claims.contains(clientClaim(client))) {
        op.steps.add(new PairStep(false, client, entry));
      }
    }
    op.afterSteps = () -> {
      long s = await(op, Wait.SHUTDOWN, null, entry, null);
      entry.device.actor().tell(new DeviceActor.Shutdown(forwarder(d -> new ShutdownDone(s))));
    };
    runSteps(op);
  }

  private Behavior<Command> onShutdownDone(ShutdownDone msg) {
    Operation op = awaitingStep(msg.step(), Wait.SHUTDOWN);
    if (op == null) {
      return this;
    }
    DeviceEntry entry = op.awaiting.device();
    endAwait(op);
    devices.remove(entry.device.name());
    ctx.getLog().info("device {} unregistered", entry.device.name());
    completeAll(entry.unregisterWaiters);
    finish(op);
    return schedule();
  }

  private void startRegisterClient(Operation op, RegisterClient r) {
    for (ClientEntry c : clients.values()) {
      if (c.id.name().equals(r.name())) {
        Replies.fail(replyExecutor, r.result(), new NameTakenException("client", r.name()));
        finish(op);
        return;
      }
    }
    ClientId id = new ClientId(nextClientId++, r.name());
    ClientEntry entry;
    DispatcherSelector clientDispatcher = DispatcherSelector.fromConfig(settings.clientDispatcher());
    if (r.source() instanceof ClientSource.Plain p) {
      entry = new ClientEntry(id,
          ctx.spawn(withClientMdc(id, InterfaceClientActor.create(p.client())), "client-" + id.id(), clientDispatcher),
          true);
    } else if (r.source() instanceof ClientSource.Spawned s) {
      entry = new ClientEntry(id, ctx.spawn(withClientMdc(id, InterfaceClientActor.actingAs(id, s.behavior())),
          "client-" + id.id(), clientDispatcher), true);
    } else {
      entry = new ClientEntry(id, ((ClientSource.Existing) r.source()).ref(), false);
    }
    op.claims.add(clientClaim(entry));
    ctx.watchWith(entry.ref, new ClientTerminated(id));
    clients.put(id.id(), entry);
    publish();
    ctx.getLog().info("{} registered", id);
    for (DeviceEntry device : devices.values()) {
      if (op.claims.contains(deviceClaim(device.device.name()))) {
        op.steps.add(new PairStep(true, entry, device));
      }
    }
    op.afterSteps = () -> {
      Replies.complete(replyExecutor, r.result(), id);
      finish(op);
    };
    runSteps(op);
  }

  private void startUnregisterClient(Operation op, UnregisterClient u) {
    ClientEntry entry = clients.get(u.client().id());
    for (DeviceEntry device : devices.values()) {
      if (op.claims.contains(deviceClaim(device.device.name()))) {
        op.steps.add(new PairStep(false, entry, device));
      }
    }
    op.afterSteps = () -> {
      ctx.unwatch(entry.ref);
      if (entry.owned) {
        ctx.stop(entry.ref);
      }
      clients.remove(entry.id.id());
      ctx.getLog().info("{} unregistered", entry.id);
      completeAll(entry.unregisterWaiters);
      finish(op);
    };
    runSteps(op);
  }

  /** Makes the operation's next client callback, or finishes it when none is left. */
  private void runSteps(Operation op) {
    while (op.awaiting == null) {
      PairStep s = op.steps.poll();
      if (s == null) {
        Runnable then = op.afterSteps;
        op.afterSteps = null;
        if (then != null) {
          then.run();
        }
        return;
      }
      if (s.add()) {
        tryAdd(op, s.client(), s.device());
      } else {
        tryRemove(op, s.client(), s.device());
      }
    }
  }

  private void tryAdd(Operation op, ClientEntry client, DeviceEntry device) {
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
    if (monitor.get() != null) {
      monitor.get().clientAdding(client.id, device.device);
    }
    long s = nextStep;
    ActorRef<AddReply> replyTo = forwarder(r -> new AddReplied(s, r));
    await(op, Wait.ADD, client, device, replyTo);
    client.ref.tell(new ClientMessage.DeviceAdded(device.device, client.id, replyTo));
  }

  private void tryRemove(Operation op, ClientEntry client, DeviceEntry device) {
    Pair pair = new Pair(client.id.id(), device.device.index());
    if (!added.contains(pair)) {
      return;
    }
    if (client.terminated) {
      ctx.getLog().error("{} cannot remove {}: its actor has terminated; dropping its data",
          client.id, device.device.name());
      added.remove(pair);
      device.device.closeClientData(client.id);
      clientGone(client, device);
      reclaim(op, client, device);
      return;
    }
    Object data = device.device.getClientData(client.id);
    long s = nextStep;
    ActorRef<Done> replyTo = forwarder(d -> new RemoveReplied(s));
    await(op, Wait.REMOVE, client, device, replyTo);
    client.ref.tell(new ClientMessage.DeviceRemoved(device.device, client.id, data, replyTo));
  }

  private Behavior<Command> onAddReplied(AddReplied msg) {
    Operation op = awaitingStep(msg.step(), Wait.ADD);
    if (op == null) {
      return this;
    }
    ClientEntry client = op.awaiting.client();
    DeviceEntry device = op.awaiting.device();
    long awaitedSince = op.awaiting.sinceNanos();
    endAwait(op);
    AddReply reply = msg.reply();
    MidlayerEvents.registration("add", device.device.name(), client.id.toString(),
        reply == ClientMessage.AddReply.added() ? "added"
            : reply instanceof ClientMessage.Failed ? "failed" : "declined", awaitedSince);
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
      // No remove will come: whatever the add created is a leftover now.
      clientGone(client, device);
      reclaim(op, client, device);
    }
    runSteps(op);
    return schedule();
  }

  private Behavior<Command> onRemoveReplied(RemoveReplied msg) {
    Operation op = awaitingStep(msg.step(), Wait.REMOVE);
    if (op == null) {
      return this;
    }
    ClientEntry client = op.awaiting.client();
    DeviceEntry device = op.awaiting.device();
    long awaitedSince = op.awaiting.sinceNanos();
    endAwait(op);
    MidlayerEvents.registration("remove", device.device.name(), client.id.toString(), "removed", awaitedSince);
    added.remove(new Pair(client.id.id(), device.device.index()));
    device.device.closeClientData(client.id);
    ctx.getLog().debug("{} removed {}", client.id, device.device.name());
    // The seed's C15: the client's cleanup is finished when remove returns; what it left is reclaimed now,
    // before anything else happens on the device, so none of its callbacks runs afterwards.
    clientGone(client, device);
    reclaim(op, client, device);
    runSteps(op);
    return schedule();
  }

  /** Tells the contract monitor, if any, that the client is done with the device (its remove returned). */
  private void clientGone(ClientEntry client, DeviceEntry device) {
    if (monitor.get() != null) {
      monitor.get().clientGone(client.id, device.device);
    }
  }

  /** Asks the device to reclaim what the client left on it; the operation goes on once that is done. */
  private void reclaim(Operation op, ClientEntry client, DeviceEntry device) {
    long s = nextStep;
    ActorRef<Done> replyTo = forwarder(d -> new ReclaimDone(s));
    await(op, Wait.RECLAIM, client, device, replyTo);
    device.device.actor().tell(new DeviceActor.ReclaimClient(client.id, replyTo));
  }

  private Behavior<Command> onReclaimDone(ReclaimDone msg) {
    Operation op = awaitingStep(msg.step(), Wait.RECLAIM);
    if (op == null) {
      return this;
    }
    endAwait(op);
    runSteps(op);
    return schedule();
  }

  private Behavior<Command> onClientTerminated(ClientTerminated msg) {
    ClientEntry client = clients.get(msg.client().id());
    if (client == null) {
      return this;
    }
    client.terminated = true;
    for (Operation op : List.copyOf(running)) {
      Awaiting a = op.awaiting;
      if (a != null && a.client() == client && (a.what() == Wait.ADD || a.what() == Wait.REMOVE)) {
        ctx.getLog().error("{} terminated during {} of {}", client.id, a.what().label, a.device().device.name());
        // Treat it as the reply it can no longer send: a failed add, or a finished remove.
        if (a.what() == Wait.ADD) {
          return onAddReplied(new AddReplied(a.step(),
              ClientMessage.AddReply.failed(new IllegalStateException("client actor terminated"))));
        }
        return onRemoveReplied(new RemoveReplied(a.step()));
      }
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
    for (Operation op : List.copyOf(running)) {
      Awaiting a = op.awaiting;
      if (a != null && a.device() == entry && a.what() == Wait.SETUP) {
        return onSetupDone(new SetupDone(a.step(), new DeviceActor.SetupResult(
            new IllegalStateException("the device actor of " + entry.device.name() + " terminated during set-up"))));
      }
      if (a != null && a.device() == entry && a.what() == Wait.SHUTDOWN) {
        entry.device.setState(DeviceState.UNREGISTERED);
        return onShutdownDone(new ShutdownDone(a.step()));
      }
    }
    return this;
  }

  private Behavior<Command> onReplyOverdue(ReplyOverdue msg) {
    for (Operation op : running) {
      Awaiting a = op.awaiting;
      if (a != null && a.step() == msg.step()) {
        long seconds = (System.nanoTime() - a.sinceNanos()) / 1_000_000_000L;
        if (a.client() != null) {
          ctx.getLog().warn("{} has not finished {} of device {} after {} s; the operations that need this "
              + "client or device wait for it", a.client().id, a.what().label, a.device().device.name(), seconds);
        } else {
          ctx.getLog().warn("device {} has not finished {} after {} s", a.device().device.name(),
              a.what().label, seconds);
        }
      }
    }
    return this;
  }

  // ---- helpers ----

  /** Starts waiting for a reply; returns the step number the reply must carry. */
  private long await(Operation op, Wait what, ClientEntry client, DeviceEntry device, ActorRef<?> forwarder) {
    long s = nextStep++;
    op.awaiting = new Awaiting(s, what, client, device, forwarder, System.nanoTime());
    timers.startTimerWithFixedDelay(s, new ReplyOverdue(s), settings.clientAckWarningInterval());
    return s;
  }

  /** The running operation waiting for step {@code step} of kind {@code what}, or null (a late reply). */
  private Operation awaitingStep(long step, Wait what) {
    for (Operation op : running) {
      if (op.awaiting != null && op.awaiting.step() == step && op.awaiting.what() == what) {
        return op;
      }
    }
    return null;
  }

  private void endAwait(Operation op) {
    if (op.awaiting.replyForwarder() != null) {
      ctx.stop(op.awaiting.replyForwarder());
    }
    timers.cancel(op.awaiting.step());
    op.awaiting = null;
  }

  /**
   * A one-shot reply address for one callback or driver step. Tagging each reply with its step means a late
   * reply (from a client that terminated, after the registry moved on) can never be taken for the reply to
   * a later callback.
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
      return requested;
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
    for (ClientEntry e : clients.values()) {
      if (e.status == Status.REGISTERED) {
        listedClients.add(e.id);
      }
    }
    snapshot.set(new RegistrySnapshot(listed, listedClients));
  }
}
