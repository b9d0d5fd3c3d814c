package dev.midlayer;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.registry.ClientSource;
import dev.midlayer.registry.RegistryActor;
import dev.midlayer.registry.RegistrySnapshot;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.MissingDriverOpException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Extension;

/**
 * The midlayer: the entry point for drivers (register and unregister devices) and for upper-level
 * protocols (register and unregister clients, list devices). One per actor system, as a Pekko
 * extension: {@code Midlayer.get(system)}.
 *
 * <p>Behind it a registry actor runs registrations one at a time; see {@link RegistryActor} for the
 * ordering it guarantees. Registration verbs return a {@link CompletionStage} that completes when the
 * whole operation (every client callback) is done; continuations never run on a midlayer actor.
 *
 * <p>Threading: every method is safe from any thread. Register/unregister verbs <b>may sleep</b> (the
 * kernel's rule): they must not be called from atomic context (inside a completion or event handler)
 * and fail there with {@link dev.midlayer.context.IllegalContextException}; they may be called from a
 * client's {@code add}/{@code remove}, but waiting there for their result deadlocks, since the registry
 * runs one operation at a time. Listing verbs never block and may be called from anywhere.
 *
 * <p>Argument errors are thrown at once ({@link InvalidArgumentException},
 * {@link MissingDriverOpException}); errors that depend on what is registered fail the returned stage
 * ({@link dev.midlayer.registry.NameTakenException}, {@link dev.midlayer.registry.NotRegisteredException})
 * and change nothing.
 */
public final class Midlayer implements Extension {
  /** Longest device name, as the kernel's {@code IB_DEVICE_NAME_MAX} (64 with the terminating NUL). */
  public static final int MAX_DEVICE_NAME_LENGTH = 63;

  private final ActorSystem<?> system;
  private final MidlayerSettings settings;
  private final ContextChecker contextChecker;
  private final AtomicReference<RegistrySnapshot> snapshot = new AtomicReference<>(RegistrySnapshot.EMPTY);
  private final ActorRef<RegistryActor.Command> registry;

  Midlayer(ActorSystem<?> system) {
    this.system = system;
    this.settings = MidlayerSettings.fromConfig(system.settings().config());
    this.contextChecker = new ContextChecker(settings.contextCheck());
    this.registry = system.systemActorOf(
        RegistryActor.create(settings, contextChecker, snapshot),
        "midlayer-registry",
        DispatcherSelector.fromConfig(settings.controlDispatcher()));
  }

  /** The midlayer of {@code system}, created on first use. Never blocks after the first call; any thread. */
  public static Midlayer get(ActorSystem<?> system) {
    return MidlayerId.getInstance().apply(system);
  }

  /** The actor system the midlayer runs in. */
  public ActorSystem<?> system() {
    return system;
  }

  /** The settings read from {@code midlayer { }}. */
  public MidlayerSettings settings() {
    return settings;
  }

  /** The context checker every may-sleep verb of this midlayer goes through. */
  public ContextChecker contextChecker() {
    return contextChecker;
  }

  // ---- driver side ----

  /**
   * Registers a device ({@code ib_register_device}) for a driver that has finished initialising it. The
   * midlayer reads its attributes and ports through the ops table, calls {@code enable_driver}, lists
   * the device, and calls every registered client's {@code add} in client registration order. The
   * stage completes with the device after the last {@code add} finished (or failed, which is logged).
   *
   * <p><b>May sleep</b>: not from atomic context. The caller must not hold anything a client's
   * {@code add} might need (the seed: no semaphores that could deadlock a consumer calling back).
   *
   * @param name the device name, or a pattern with one {@code %d} (e.g. {@code "lo%d"}) which takes the
   *     lowest free index; at most {@value #MAX_DEVICE_NAME_LENGTH} characters (after the index is
   *     filled in), no whitespace or '/'
   * @param ops the driver's ops table; every {@linkplain dev.midlayer.spi.DriverOp#mandatory() mandatory}
   *     op must be present
   * @throws InvalidArgumentException for a null, blank or malformed name, or null ops
   * @throws MissingDriverOpException if the ops table lacks a mandatory op (named in the message)
   * @return a stage that fails with {@link dev.midlayer.registry.NameTakenException} if an explicit name
   *     is taken, with {@link InvalidArgumentException} if a pattern's lowest free name is too long, or with {@link dev.midlayer.device.DriverOpFailedException} if the driver's set-up ops
   *     failed
   */
  public CompletionStage<Device> registerDevice(String name, DeviceOps ops) {
    contextChecker.mightSleep("registerDevice");
    checkDeviceName(name);
    InvalidArgumentException.requireNonNull(ops, "ops");
    if (!ops.missingMandatoryOps().isEmpty()) {
      throw new MissingDriverOpException(ops.driverName(), ops.missingMandatoryOps());
    }
    CompletableFuture<Device> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.RegisterDevice(name, ops, result));
    return result;
  }

  /**
   * Unregisters a device ({@code ib_unregister_device}): it is no longer listed, every client that added
   * it gets {@code remove} in reverse client registration order (each finishing before the next
   * starts), the resources clients left on it are reclaimed, and the device is marked unregistered.
   * The device stays fully usable until then. The stage completes after all of that; concurrent calls
   * for the same device all complete at that point.
   *
   * <p><b>May sleep</b>: not from atomic context.
   *
   * @throws InvalidArgumentException if {@code device} is null
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if the device's
   *     unregistration already completed
   */
  public CompletionStage<Done> unregisterDevice(Device device) {
    contextChecker.mightSleep("unregisterDevice");
    InvalidArgumentException.requireNonNull(device, "device");
    CompletableFuture<Done> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.UnregisterDevice(device, result));
    return result;
  }

  // ---- consumer side ----

  /**
   * Registers a plain Java client ({@code ib_register_client}); the midlayer runs it in a client actor
   * on the client dispatcher. It gets {@code add} for every registered device, in device registration
   * order; the stage completes with its id after the last one.
   *
   * <p><b>May sleep</b>: not from atomic context.
   *
   * @throws InvalidArgumentException if {@code client} is null or its name is null or blank
   * @return a stage that fails with {@link dev.midlayer.registry.NameTakenException} if a client with the
   *     same name is registered
   */
  public CompletionStage<ClientId> registerClient(Client client) {
    contextChecker.mightSleep("registerClient");
    InvalidArgumentException.requireNonNull(client, "client");
    String name = InvalidArgumentException.requireNonBlank(client.name(), "client.name");
    return register(name, new ClientSource.Plain(client));
  }

  /**
   * Registers a client written as a typed behaviour; the midlayer spawns it on the client dispatcher
   * and stops it after its unregistration. Otherwise as {@link #registerClient(Client)}.
   */
  public CompletionStage<ClientId> registerClient(String name, Behavior<ClientMessage> behavior) {
    contextChecker.mightSleep("registerClient");
    InvalidArgumentException.requireNonBlank(name, "name");
    InvalidArgumentException.requireNonNull(behavior, "behavior");
    return register(name, new ClientSource.Spawned(behavior));
  }

  /**
   * Registers an actor the application already runs as a client (e.g. through a message adapter). The
   * midlayer watches it (if it terminates, it gets no more callbacks) but never stops it. Otherwise as
   * {@link #registerClient(Client)}.
   */
  public CompletionStage<ClientId> registerClient(String name, ActorRef<ClientMessage> clientActor) {
    contextChecker.mightSleep("registerClient");
    InvalidArgumentException.requireNonBlank(name, "name");
    InvalidArgumentException.requireNonNull(clientActor, "clientActor");
    return register(name, new ClientSource.Existing(clientActor));
  }

  private CompletionStage<ClientId> register(String name, ClientSource source) {
    CompletableFuture<ClientId> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.RegisterClient(name, source, result));
    return result;
  }

  /**
   * Unregisters a client ({@code ib_unregister_client}): it is no longer listed and gets {@code remove}
   * for every device it was added to, in device registration order. The stage completes after the last
   * one; from then on no callback of the client runs or will run.
   *
   * <p><b>May sleep</b>: not from atomic context.
   *
   * @throws InvalidArgumentException if {@code client} is null
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if the client is
   *     not registered
   */
  public CompletionStage<Done> unregisterClient(ClientId client) {
    contextChecker.mightSleep("unregisterClient");
    InvalidArgumentException.requireNonNull(client, "client");
    CompletableFuture<Done> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.UnregisterClient(client, result));
    return result;
  }

  // ---- lookups: never wait on the registry ----

  /** What is registered now. Never blocks; any thread, callbacks included. */
  public RegistrySnapshot snapshot() {
    return snapshot.get();
  }

  /** Registered devices in registration order. Never blocks; any thread, callbacks included. */
  public List<Device> devices() {
    return snapshot.get().devices();
  }

  /** The registered device named {@code name} ({@code ib_device_get_by_name}). Never blocks; any thread. */
  public Optional<Device> device(String name) {
    return snapshot.get().device(name);
  }

  /** Registered clients in registration order. Never blocks; any thread, callbacks included. */
  public List<ClientId> clients() {
    return snapshot.get().clients();
  }

  private static void checkDeviceName(String name) {
    InvalidArgumentException.requireNonBlank(name, "name");
    if (name.length() > MAX_DEVICE_NAME_LENGTH) {
      throw new InvalidArgumentException("name",
          "'" + name + "' is longer than " + MAX_DEVICE_NAME_LENGTH + " characters");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '/' || Character.isISOControl(c)) {
        throw new InvalidArgumentException("name", "'" + name + "' contains whitespace, '/' or a control character");
      }
    }
    int percent = name.indexOf('%');
    if (percent >= 0 && (!name.startsWith("%d", percent) || name.indexOf('%', percent + 1) >= 0)) {
      throw new InvalidArgumentException("name", "'" + name + "': the only pattern allowed is one %d");
    }
  }
}
