package dev.midlayer.ulp.rpc;

import static dev.midlayer.ulp.rpc.RpcWire.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import dev.midlayer.ib.Gid;
import dev.midlayer.verbs.ProtectionDomain;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rpc client, a registered client: from every device it is added to (whose server the function names), it
 * connects to an {@link RpcServer} through the CM and offers an {@link RpcChannel}. It connects with an RNR retry
 * count of 0: with credits there is never an RNR NAK, and if there were one the call would fail at once
 * ({@code RNR_RETRY_EXC_ERR}) rather than be hidden by retries. {@code remove} fails what is in flight,
 * disconnects, drains and destroys.
 */
public final class RpcClient implements Client {
  private static final Logger log = LoggerFactory.getLogger(RpcClient.class);
  /** The most credits a client takes. */
  public static final int MAX_CREDITS = 256;

  private final String name;
  private final Function<Device, Optional<CmDestination>> server;
  private final long serviceId;
  private final ConnectionManager cm;
  private final Map<Device, RpcChannel> channels = new ConcurrentHashMap<>();
  private final Map<Device, Gid> servers = new ConcurrentHashMap<>();

  private record PerDevice(ProtectionDomain pd, RpcChannel channel, CmConnection connection) {}

  /**
   * A client named {@code name} on {@code midlayer}, connecting from each device to the server {@code server}
   * names for it, on {@code serviceId}. Never blocks (it starts the CM on first use without waiting for it); any
   * thread.
   */
  public RpcClient(Midlayer midlayer, String name, Function<Device, Optional<CmDestination>> server, long serviceId) {
    this.name = name;
    this.server = server;
    this.serviceId = serviceId;
    this.cm = midlayer.connectionManager();
  }

  @Override
  public String name() {
    return name;
  }

  /** The channel from {@code device}, while it is connected. Never blocks; any thread. */
  public Optional<RpcChannel> channel(Device device) {
    return Optional.ofNullable(channels.get(device));
  }

  /**
   * The GID of the server port the channel of {@code device} is connected to, while it is: on a fabric that
   * discovers routes (the cluster driver's {@code whenRoutable}), what to wait for before the first call.
   * Never blocks; any thread.
   */
  public Optional<Gid> serverGid(Device device) {
    return Optional.ofNullable(servers.get(device));
  }

  /** <b>May sleep</b>. A device whose server refuses or cannot be reached is left alone (logged, false). */
  @Override
  public boolean add(Device device, ClientId self) {
    Optional<CmDestination> destination = server.apply(device);
    if (destination.isEmpty()) {
      return false;
    }
    ProtectionDomain pd = await(device.allocPd(), "allocPd on " + device.name());
    RpcChannel channel = null;
    try {
      channel = new RpcChannel(device, pd, MAX_CREDITS);
      await(cm.initQp(channel.qp(), 1), "initQp on " + device.name());
      CmConnection c = await(cm.connect(device, 1, destination.get(), serviceId, channel.qp(), null,
          ConnectOptions.defaults().withRetries(0, 7, 14)), "connect from " + device.name());
      byte[] rep = c.remotePrivateData();
      int credits = rep != null && rep.length >= 4 ? ByteBuffer.wrap(rep).getInt() : 0;
      if (credits < 1 || credits > MAX_CREDITS) {
        throw new RpcException("the server granted " + credits + " credits (1.." + MAX_CREDITS + ")");
      }
      // No call is out yet: a receive per credit is posted before the server can answer one.
      channel.granted(credits);
      device.setClientData(self, new PerDevice(pd, channel, c));
      servers.put(device, c.remoteGid());
      channels.put(device, channel);
      return true;
    } catch (RpcException e) {
      log.warn("{}: {}; {} is left alone", name, e.getMessage(), device.name());
      if (channel != null) {
        channel.close("the set-up failed");
      }
      await(pd.dealloc(), "dealloc of the PD on " + device.name());
      return false;
    }
  }

  /** <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    PerDevice d = (PerDevice) clientData;
    channels.remove(device);
    servers.remove(device);
    String why = "the device " + device.name() + " went away or the client unregistered";
    d.channel().abort(why); // before the disconnect's flushes, so that calls fail with the reason
    try {
      await(d.connection().disconnect(), "disconnect on " + device.name());
    } catch (RpcException e) {
      log.debug("{}: {}", name, e.getMessage());
    }
    d.channel().close(why);
    await(d.pd().dealloc(), "dealloc of the PD on " + device.name());
  }
}
