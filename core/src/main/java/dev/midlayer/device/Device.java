package dev.midlayer.device;

import dev.midlayer.client.ClientId;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.verbs.ProtectionDomain;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A registered RDMA device as consumers see it ({@code struct ib_device}). Clients receive it in their
 * {@code add}; drivers receive it from {@link dev.midlayer.Midlayer#registerDevice}. Each device is served by
 * its own device actor, which owns the record of resources created on it, and its async events are
 * delivered by an event actor of its own on the consumer-callback dispatcher.
 *
 * <p>Threading: every method is safe from any thread. Methods documented "may sleep" return a
 * {@link CompletionStage} and must not be called from atomic context (inside a midlayer callback); the
 * others never block and may be called from anywhere, callbacks included.
 *
 * <p>Lifetime (the seed's hot-plug rule): the device stays fully usable until the driver's
 * {@code unregisterDevice} has completed, including inside every client's {@code remove}; after that
 * every verb fails with {@link DeviceUnregisteredException}.
 *
 * <p>Ownership: an object created from a client's {@code add} (or later on that client's behalf, see
 * {@link dev.midlayer.client.ClientContext}) belongs to that (client, device) pair. Whatever the client
 * left when its {@code remove} for the device returns is reported and reclaimed.
 */
public interface Device {
  /** The device's name, e.g. {@code lo0}. Never blocks; any thread. */
  String name();

  /** The device's index: unique for the lifetime of the midlayer, growing with registration order. */
  int index();

  /** The name of the driver that registered the device. Never blocks; any thread. */
  String driverName();

  /** Where the device is in its life. Never blocks; any thread. */
  DeviceState state();

  /**
   * The attributes read from the driver at registration ({@code ib_device.attrs}). Never blocks; any
   * thread, callbacks included.
   */
  DeviceAttributes attributes();

  /** Number of ports; ports are numbered 1..portCount. Never blocks; any thread. */
  default int portCount() {
    return attributes().physPortCount();
  }

  /**
   * The cached attributes of a port ({@code ib_get_cached_*}): read at registration and refreshed
   * before handlers see each port event. Never blocks; any thread, callbacks included.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code portNum} is not 1..portCount
   */
  PortAttributes cachedPort(int portNum);

  /**
   * The transport counters of a port ({@code rdma statistic} per port): the sum over the QPs bound to it
   * (their {@code portNum}), the destroyed ones included as they were when destroyed. <b>Never blocks; any
   * thread</b>, callbacks included; weakly consistent while QPs come and go.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code portNum} is not 1..portCount
   */
  TransportCounters portCounters(int portNum);

  /**
   * The objects that exist on the device now, oldest first, each with its owner ({@code rdma res}): what the
   * device actor records to reclaim what a client leaves behind. Address handles, which are created without the
   * device actor (creating one must not sleep), are not among them. <b>May sleep</b>, as {@code rdma res} is a
   * process-context query: not from atomic context (a midlayer callback); any thread otherwise. The call itself
   * does not wait: the stage completes once the device actor has taken its turn; it fails with
   * {@link DeviceUnregisteredException} once the device is unregistered.
   */
  CompletionStage<List<DeviceResourceInfo>> listResources();

  /**
   * Asks the driver for the device's attributes ({@code ib_query_device}). <b>May sleep</b>: must not be
   * called from atomic context. Any thread otherwise.
   */
  CompletionStage<DeviceAttributes> queryDevice();

  /**
   * Asks the driver for the current attributes of a port ({@code ib_query_port}) and refreshes the
   * cache. <b>May sleep</b>: must not be called from atomic context. Any thread otherwise.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code portNum} is not 1..portCount
   */
  CompletionStage<PortAttributes> queryPort(int portNum);

  /**
   * Allocates a protection domain ({@code ib_alloc_pd}). <b>May sleep</b>: must not be called from atomic
   * context. Any thread otherwise.
   */
  CompletionStage<ProtectionDomain> allocPd();

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
  CompletionStage<CompletionQueue> createCq(int cqe, CompletionHandler handler, EventHandler eventHandler,
      Object context);

  /**
   * Creates a completion queue with a completion handler and nothing else ({@code ib_create_cq} with no
   * event handler and no context): {@link #createCq(int, CompletionHandler, EventHandler, Object)} with
   * {@code eventHandler} and {@code context} null. The handler runs on the CQ's actor once per arming
   * ({@link CompletionQueue#requestNotify}). <b>May sleep</b>: must not be called from atomic context (inside
   * a midlayer callback); any thread otherwise.
   *
   * @param cqe the minimum number of entries, 1..{@code maxCqe} (rounded up to a power of two)
   * @param handler the completion handler; for a CQ that is only polled use {@link #createCq(int)}
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code handler} is null or {@code cqe} is out of
   *     range
   */
  default CompletionStage<CompletionQueue> createCq(int cqe, CompletionHandler handler) {
    if (handler == null) {
      throw new InvalidArgumentException("handler",
          "must not be null: createCq(cqe) for a CQ that is only polled");
    }
    return createCq(cqe, handler, null, null);
  }

  /**
   * Creates a completion queue that is only polled ({@code ib_create_cq} with no handler, no event handler
   * and no context): {@link #createCq(int, CompletionHandler, EventHandler, Object)} with the three null.
   * <b>May sleep</b>: must not be called from atomic context (inside a midlayer callback); any thread
   * otherwise.
   *
   * @param cqe the minimum number of entries, 1..{@code maxCqe} (rounded up to a power of two)
   * @throws dev.midlayer.ib.InvalidArgumentException if {@code cqe} is out of range
   */
  default CompletionStage<CompletionQueue> createCq(int cqe) {
    return createCq(cqe, null, null, null);
  }

  /**
   * Creates a completion queue polled per {@code pollContext} ({@code ib_alloc_cq}, the modern API): by
   * the ULP ({@link PollContext#DIRECT}) or by the CQ's actor calling each WR's {@code done}
   * ({@link PollContext#ACTOR}). <b>May sleep</b>: must not be called from atomic context.
   */
  CompletionStage<CompletionQueue> allocCq(int cqe, PollContext pollContext);

  /**
   * Registers a handler for this device's unaffiliated events ({@code ib_register_event_handler}). The
   * handler gets every event dispatched after the returned stage completes, in dispatch order, after
   * the handlers registered before it. <b>May sleep</b>: must not be called from atomic context.
   *
   * @param name a name for logs and error messages (e.g. the client's name)
   */
  CompletionStage<EventHandlerRegistration> registerEventHandler(String name, EventHandler handler);

  /**
   * Unregisters an event handler ({@code ib_unregister_event_handler}). When the returned stage
   * completes, the handler is not running and will never run again. <b>May sleep</b>: must not be
   * called from atomic context (so not from the handler itself).
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the registration belongs to another device; the
   *     stage fails with {@link dev.midlayer.registry.NotRegisteredException} if it is not (or no longer)
   *     registered
   */
  CompletionStage<Done> unregisterEventHandler(EventHandlerRegistration registration);

  /**
   * Stores the client's data for this device ({@code ib_set_client_data}). Valid from the start of the
   * client's {@code add} until its {@code remove} returns; the midlayer drops the data after that.
   * Never blocks; any thread.
   *
   * @throws IllegalStateException if the client is not added to this device (outside that window)
   */
  void setClientData(ClientId client, Object data);

  /**
   * The client's data for this device ({@code ib_get_client_data}), or null if none was set or the
   * client is not added. Never blocks; any thread, callbacks included.
   */
  Object getClientData(ClientId client);
}
