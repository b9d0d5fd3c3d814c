package dev.midlayer.ulp.datagram;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The datagram service, a registered client: a {@link DatagramEndpoint} on port 1 of every device it is added to
 * (and its filter accepts), made in {@code add} and closed (drained, destroyed) in {@code remove}. Threading:
 * {@code add} and {@code remove} run one at a time; the lookups may be called from any thread.
 */
public final class DatagramService implements Client {
  /** Receives posted per endpoint. */
  public static final int RECEIVES = 64;
  /** Send buffers per endpoint: datagrams in flight at once. */
  public static final int SENDS = 64;

  private final String name;
  private final Predicate<Device> devices;
  private final int qkey;
  private final Function<Device, DatagramHandler> handlers;
  private final Map<Device, DatagramEndpoint> endpoints = new ConcurrentHashMap<>();

  /**
   * A service named {@code name} on the devices {@code devices} accepts, with Q_Key {@code qkey}; each device's
   * endpoint hands what it receives to {@code handlers.apply(device)} (called in {@code add}). Never blocks; any
   * thread.
   */
  public DatagramService(String name, Predicate<Device> devices, int qkey, Function<Device, DatagramHandler> handlers) {
    this.name = name;
    this.devices = devices;
    this.qkey = qkey;
    this.handlers = handlers;
  }

  @Override
  public String name() {
    return name;
  }

  /** The endpoint on {@code device}, if the service runs there. Never blocks; any thread. */
  public Optional<DatagramEndpoint> endpoint(Device device) {
    return Optional.ofNullable(endpoints.get(device));
  }

  /** Sets the endpoint up. <b>May sleep</b> (the midlayer's client dispatcher). */
  @Override
  public boolean add(Device device, ClientId self) {
    if (!devices.test(device)) {
      return false;
    }
    DatagramEndpoint ep = DatagramEndpoint.open(device, qkey, RECEIVES, SENDS, handlers.apply(device));
    device.setClientData(self, ep);
    endpoints.put(device, ep);
    return true;
  }

  /** Closes the endpoint: drained, then destroyed. <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    endpoints.remove(device);
    ((DatagramEndpoint) clientData).close();
  }
}
