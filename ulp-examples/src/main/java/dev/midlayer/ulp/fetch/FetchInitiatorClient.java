package dev.midlayer.ulp.fetch;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fetch initiator as a registered client: on every device it is added to (and for which its destination
 * function names a target), it makes a {@link FetchInitiator} and connects it through the connection manager to a
 * {@link FetchTargetClient} (or any target listening on the service ID). The application gets each device's
 * initiator from {@link #initiator(Device)}, or from the {@code connected} callback as soon as it is connected, and
 * fetches with it from any thread.
 *
 * <p>{@link #add} may sleep: it makes the initiator and connects. {@link #remove} takes the initiator away from
 * {@link #initiator(Device)}, then closes it: every fetch in flight or waiting fails with {@link FetchException},
 * the connection is disconnected, the QP drained, and everything destroyed before it returns. If the target goes
 * away instead (its device unplugged, or it disconnected), the initiator's QP is flushed and the initiator is
 * broken: its fetches fail with {@link FetchException}, and the client keeps it (and works on its other devices)
 * until the device is removed or the client unregistered. A device that comes back gets a new initiator.
 *
 * <p>Threading: {@code add} and {@code remove} run one at a time on the midlayer's client dispatcher and may
 * sleep; the accessors never block and may be called from any thread.
 */
public final class FetchInitiatorClient implements Client {
  private static final Logger log = LoggerFactory.getLogger(FetchInitiatorClient.class);

  private final String name;
  private final Function<Device, Optional<CmDestination>> target;
  private final long serviceId;
  private final int depth;
  private final int pagesPerSlot;
  private final BiConsumer<Device, FetchInitiator> connected;
  private final ConnectionManager cm;
  private final Map<Device, FetchInitiator> initiators = new ConcurrentHashMap<>();

  /**
   * An initiator client named {@code name} on {@code midlayer}. Never blocks (it starts the CM on first use
   * without waiting for it); any thread.
   *
   * @param target for each device added, where its target is (a GID, or a node and device name), or empty to
   *     leave the device alone; called in {@code add}, may sleep
   * @param serviceId the target's service ID
   * @param depth fetches in flight per device (slots)
   * @param pagesPerSlot pages of each slot: the largest fetch is this times {@code Page.SIZE}
   * @param connected gets each device's initiator once it is connected; called from {@code add} on the
   *     midlayer's client dispatcher, so it may start fetches but must not block for long
   */
  public FetchInitiatorClient(Midlayer midlayer, String name, Function<Device, Optional<CmDestination>> target,
      long serviceId, int depth, int pagesPerSlot, BiConsumer<Device, FetchInitiator> connected) {
    this.name = name;
    this.target = target;
    this.serviceId = serviceId;
    this.depth = depth;
    this.pagesPerSlot = pagesPerSlot;
    this.connected = connected;
    this.cm = midlayer.connectionManager();
  }

  /** As the full constructor, without a {@code connected} callback. Never blocks; any thread. */
  public FetchInitiatorClient(Midlayer midlayer, String name, Function<Device, Optional<CmDestination>> target,
      long serviceId, int depth, int pagesPerSlot) {
    this(midlayer, name, target, serviceId, depth, pagesPerSlot, (d, i) -> { });
  }

  @Override
  public String name() {
    return name;
  }

  /**
   * The connected initiator of {@code device}, or empty if the client does not use the device (or it is being
   * removed). Never blocks; any thread.
   */
  public Optional<FetchInitiator> initiator(Device device) {
    return Optional.ofNullable(initiators.get(device));
  }

  /** The devices it has an initiator on now. Never blocks; any thread. */
  public List<Device> devices() {
    return List.copyOf(initiators.keySet());
  }

  /**
   * Makes the device's initiator and connects it to the device's target. <b>May sleep</b> (the midlayer's client
   * dispatcher). A device whose target cannot be reached is left alone (logged, false).
   */
  @Override
  public boolean add(Device device, ClientId self) {
    Optional<CmDestination> destination = target.apply(device);
    if (destination.isEmpty()) {
      return false;
    }
    FetchInitiator initiator = new FetchInitiator(device, depth, pagesPerSlot);
    try {
      initiator.connect(cm, destination.get(), serviceId);
    } catch (FetchException e) {
      log.warn("{}: connect from {} to {}: {}; {} is left alone", name, device.name(), destination.get(),
          e.getMessage(), device.name());
      initiator.close();
      return false;
    }
    device.setClientData(self, initiator);
    initiators.put(device, initiator);
    log.info("{}: {} connected to {}", name, device.name(), destination.get());
    connected.accept(device, initiator);
    return true;
  }

  /**
   * Fails the device's fetches in flight, disconnects, drains and destroys its initiator before returning.
   * <b>May sleep</b> (the midlayer's client dispatcher).
   */
  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    initiators.remove(device);
    ((FetchInitiator) clientData).close();
  }
}
