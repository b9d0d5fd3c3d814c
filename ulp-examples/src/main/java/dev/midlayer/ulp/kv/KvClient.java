package dev.midlayer.ulp.kv;

import static dev.midlayer.ulp.kv.KvEndpoint.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import dev.midlayer.ib.Gid;
import dev.midlayer.verbs.ProtectionDomain;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The key-value client, a registered client: from every device it is added to (whose server the function names),
 * it connects to a {@link KvServer} through the CM and offers a {@link KvStore}. {@code add} may sleep: it makes
 * the endpoint, posts the receives for PUT replies, and connects (the REQ carries the PUT window, the REP the
 * table's address and key). {@code remove} fails what is in flight, disconnects, drains and destroys.
 */
public final class KvClient implements Client {
  private static final Logger log = LoggerFactory.getLogger(KvClient.class);
  /** The most operations a store may have in flight. */
  public static final int MAX_WINDOW = KvAcceptor.MAX_WINDOW;

  private final String name;
  private final Function<Device, Optional<CmDestination>> server;
  private final long serviceId;
  private final int window;
  private final ConnectionManager cm;
  private final Map<Device, KvStore> stores = new ConcurrentHashMap<>();
  private final Map<Device, Gid> servers = new ConcurrentHashMap<>();

  private record PerDevice(ProtectionDomain pd, KvEndpoint ep, KvStore store, CmConnection connection) {}

  /**
   * A client named {@code name} on {@code midlayer}, with up to {@code window} operations in flight per store
   * (1..{@link #MAX_WINDOW}), connecting from each device to the server {@code server} names for it, on
   * {@code serviceId}. Never blocks (it starts the CM on first use without waiting for it); any thread.
   */
  public KvClient(Midlayer midlayer, String name, Function<Device, Optional<CmDestination>> server, long serviceId,
      int window) {
    if (window < 1 || window > KvAcceptor.MAX_WINDOW) {
      throw new IllegalArgumentException("window must be 1.." + KvAcceptor.MAX_WINDOW + ", was " + window);
    }
    this.name = name;
    this.server = server;
    this.serviceId = serviceId;
    this.window = window;
    this.cm = midlayer.connectionManager();
  }

  @Override
  public String name() {
    return name;
  }

  /** The store connected from {@code device}, while it is. Never blocks; any thread. */
  public Optional<KvStore> store(Device device) {
    return Optional.ofNullable(stores.get(device));
  }

  /**
   * The GID of the server port the store of {@code device} is connected to, while it is: on a fabric that
   * discovers routes (the cluster driver's {@code whenRoutable}), what to wait for before the first operation.
   * Never blocks; any thread.
   */
  public Optional<Gid> serverGid(Device device) {
    return Optional.ofNullable(servers.get(device));
  }

  /** <b>May sleep</b>. A device whose server cannot be reached is left alone (logged, false). */
  @Override
  public boolean add(Device device, ClientId self) {
    Optional<CmDestination> destination = server.apply(device);
    if (destination.isEmpty()) {
      return false;
    }
    ProtectionDomain pd = await(device.allocPd(), "allocPd on " + device.name());
    KvEndpoint ep = null;
    try {
      ep = KvEndpoint.open(device, pd, window, window, 0);
      await(cm.initQp(ep.qp, 1), "initQp on " + device.name());
      CmConnection c = await(cm.connect(device, 1, destination.get(), serviceId, ep.qp, KvProtocol.req(window)),
          "connect from " + device.name() + " to " + destination.get());
      // The REP told the table's shape, which sizes the buffers. No PUT is out yet, so the receives for the
      // replies are in place before the server can answer one.
      KvProtocol.Table table = KvProtocol.Table.of(c.remotePrivateData());
      ep.registerBuffer(KvStore.bufferBytes(table.layout(), window));
      KvStore store = new KvStore(ep, table, window);
      store.postReceives();
      device.setClientData(self, new PerDevice(pd, ep, store, c));
      servers.put(device, c.remoteGid());
      stores.put(device, store);
      return true;
    } catch (RuntimeException e) {
      log.warn("{}: {}; {} is left alone", name, e.getMessage(), device.name());
      if (ep != null) {
        ep.close();
      }
      await(pd.dealloc(), "dealloc of the PD on " + device.name());
      return false;
    }
  }

  /** <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    PerDevice d = (PerDevice) clientData;
    stores.remove(device);
    servers.remove(device);
    d.store().close("the device " + device.name() + " went away or the client unregistered");
    try {
      await(d.connection().disconnect(), "disconnect on " + device.name());
    } catch (KvException e) {
      log.debug("{}: {}", name, e.getMessage()); // the server disconnected first
    }
    d.ep().close();
    await(d.pd().dealloc(), "dealloc of the PD on " + device.name());
  }
}
