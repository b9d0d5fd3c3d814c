package dev.midlayer;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.device.Device;
import dev.midlayer.registry.RegistrySnapshot;
import dev.midlayer.spi.DeviceOps;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Extension;

/**
 * The midlayer: the entry point for drivers (register and unregister devices) and for upper-level
 * protocols (register and unregister clients, list devices). One per actor system, as a Pekko
 * extension: {@code Midlayer.get(system)}.
 *
 * <p>Behind it a registry actor runs registrations one at a time per device and per client: an
 * operation waits only for the operations before it that share a device or a client with it. Clients get
 * {@code add} in client registration order and {@code remove} in reverse; a new client gets {@code add}
 * for every registered device in device registration order. Registration verbs return a
 * {@link CompletionStage} that completes when the whole operation (every client callback) is done;
 * continuations never run on a midlayer actor.
 *
 * <p>Threading: every method is safe from any thread. Register/unregister verbs <b>may sleep</b> (the
 * kernel's rule): they must not be called from atomic context (inside a completion or event handler)
 * and fail there with {@link dev.midlayer.context.IllegalContextException}; they may be called from a
 * client's {@code add}/{@code remove}, but waiting there for the result of an operation that needs the
 * same client deadlocks. Listing verbs never block and may be called from anywhere.
 *
 * <p>Argument errors are thrown at once ({@link dev.midlayer.ib.InvalidArgumentException},
 * {@link dev.midlayer.spi.MissingDriverOpException}); errors that depend on what is registered fail the
 * returned stage ({@link dev.midlayer.registry.NameTakenException},
 * {@link dev.midlayer.registry.NotRegisteredException}) and change nothing.
 *
 * <p>On actor-system termination the midlayer runs in Pekko's CoordinatedShutdown: every device is
 * unregistered (so every client gets its {@code remove}) within {@code midlayer.shutdown.timeout}.
 */
public interface Midlayer extends Extension {
  /** Longest device name, as the kernel's {@code IB_DEVICE_NAME_MAX} (64 with the terminating NUL). */
  int MAX_DEVICE_NAME_LENGTH = 63;

  /** The midlayer of {@code system}, created on first use. Never blocks after the first call; any thread. */
  static Midlayer get(ActorSystem<?> system) {
    return MidlayerId.getInstance().apply(system);
  }

  /** The actor system the midlayer runs in. */
  ActorSystem<?> system();

  /** The settings read from {@code midlayer { }}. */
  MidlayerSettings settings();

  /** The context checker every may-sleep verb of this midlayer goes through. */
  ContextChecker contextChecker();

  /** The attached contract monitor, or null if none is. Never blocks; any thread. */
  dev.midlayer.monitor.ContractMonitor monitor();

  /**
   * The contract monitor of this midlayer, attached now if none was ({@code midlayer.monitor.attach = on}
   * attaches one at start). Never blocks; any thread.
   */
  dev.midlayer.monitor.ContractMonitor attachMonitor();

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
   * @throws dev.midlayer.ib.InvalidArgumentException for a null, blank or malformed name, or null ops
   * @throws dev.midlayer.spi.MissingDriverOpException if the ops table lacks a mandatory op (named in the
   *     message)
   * @return a stage that fails with {@link dev.midlayer.registry.NameTakenException} if an explicit name
   *     is taken, with {@link dev.midlayer.ib.InvalidArgumentException} if a pattern's lowest free name is
   *     too long, or with {@link dev.midlayer.device.DriverOpFailedException} if the driver's set-up ops
   *     failed
   */
  CompletionStage<Device> registerDevice(String name, DeviceOps ops);

  /**
   * Unregisters a device ({@code ib_unregister_device}): it is no longer listed, every client that added
   * it gets {@code remove} in reverse client registration order (each finishing before the next
   * starts), the resources clients left on it are reclaimed, and the device is marked unregistered.
   * The device stays fully usable until then. The stage completes after all of that; concurrent calls
   * for the same device all complete at that point.
   *
   * <p><b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code device} is null
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if the device's
   *     unregistration already completed
   */
  CompletionStage<Done> unregisterDevice(Device device);

  // ---- consumer side ----

  /**
   * Registers a plain Java client ({@code ib_register_client}); the midlayer runs it in a client actor
   * on the client dispatcher. It gets {@code add} for every registered device, in device registration
   * order; the stage completes with its id after the last one.
   *
   * <p><b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code client} is null or its name is null or blank
   * @return a stage that fails with {@link dev.midlayer.registry.NameTakenException} if a client with the
   *     same name is registered
   */
  CompletionStage<ClientId> registerClient(Client client);

  /**
   * Registers a client written as a typed behaviour; the midlayer spawns it on the client dispatcher
   * and stops it after its unregistration. Otherwise as {@link #registerClient(Client)}.
   */
  CompletionStage<ClientId> registerClient(String name, Behavior<ClientMessage> behavior);

  /**
   * Registers an actor the application already runs as a client (e.g. through a message adapter). The
   * midlayer watches it (if it terminates, it gets no more callbacks) but never stops it. Otherwise as
   * {@link #registerClient(Client)}.
   */
  CompletionStage<ClientId> registerClient(String name, ActorRef<ClientMessage> clientActor);

  /**
   * Unregisters a client ({@code ib_unregister_client}): it is no longer listed and gets {@code remove}
   * for every device it was added to, in device registration order. The stage completes after the last
   * one; from then on no callback of the client runs or will run.
   *
   * <p><b>May sleep</b>: not from atomic context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code client} is null
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if the client is
   *     not registered
   */
  CompletionStage<Done> unregisterClient(ClientId client);

  // ---- connection manager ----

  /**
   * The connection manager of this midlayer ({@code rdma_cm}), started on first use: it then registers as the
   * client {@code "midlayer-cm"} (to learn of devices and deliver DEVICE_REMOVAL) and joins the other CMs
   * through the Receptionist. The registration is sent before this returns, so a client registered afterwards
   * comes after the CM in every device's adds and may listen or connect from its {@code add} (as a kernel ULP
   * loads after {@code rdma_cm}); a client registered before the CM's first use must not wait for the CM in its
   * {@code add}, since the CM learns of the device only after that add. Never blocks; any thread, callbacks
   * included.
   */
  dev.midlayer.cm.ConnectionManager connectionManager();

  // ---- lookups: never wait on the registry ----

  /** What is registered now. Never blocks; any thread, callbacks included. */
  RegistrySnapshot snapshot();

  /** Registered devices in registration order. Never blocks; any thread, callbacks included. */
  default List<Device> devices() {
    return snapshot().devices();
  }

  /** The registered device named {@code name} ({@code ib_device_get_by_name}). Never blocks; any thread. */
  default Optional<Device> device(String name) {
    return snapshot().device(name);
  }

  /** Registered clients in registration order. Never blocks; any thread, callbacks included. */
  default List<ClientId> clients() {
    return snapshot().clients();
  }
}
