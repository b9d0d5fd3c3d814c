package dev.midlayer.drivers.cluster;

import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.drivers.engine.EngineDevice;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.drivers.engine.SoftLimits;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.LinkLayer;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.PhysPortState;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortState;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.Spawner;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One device of a {@link ClusterFabric}: RoCE-like ports (link layer Ethernet, GID addressing, no LIDs, max MTU
 * 4096, active MTU {@code midlayer.cluster.active-mtu}) whose state follows this node's membership. Where the
 * transport engine plugs in: its {@link QpFactory} makes each QP's {@link #link(QpContext) link} and
 * {@link #bind(int, PacketSink) binds} the QP's inbound sink.
 *
 * <p>Threading: every method is safe from any thread and never blocks.
 */
public final class ClusterDevice implements EngineDevice {
  /**
   * The device's {@code create_qp}: the transport engine's side of a new QP. Called on the midlayer's device
   * actor, <b>may sleep</b>; typically spawns the QP's engine actor with {@code spawner}, gives it
   * {@code device.link(qp)} and binds its sink with {@code device.bind(qp.qpNum(), sink)} (unbind it when the
   * QP is destroyed).
   */
  @FunctionalInterface
  public interface QpFactory {
    /**
     * Makes the driver side of {@code qp} on {@code device}. Called in the midlayer's device actor's turn,
     * not in atomic context: it <b>may sleep</b>.
     */
    DriverQp create(ClusterDevice device, QpContext qp, Spawner spawner) throws Exception;
  }

  private final ClusterFabric fabric;
  private final int number;
  private final Gid[] gids;
  private final AtomicReferenceArray<PortState> portStates;
  private final Map<Integer, PacketSink> sinks = new ConcurrentHashMap<>();
  private volatile Device device;
  private volatile DriverDevice driverDevice;
  /** Per port, the state the midlayer was last told (its cache at registration, then each event); null before. */
  private final AtomicReferenceArray<PortState> reported;

  ClusterDevice(ClusterFabric fabric, int number, int ports) {
    this.fabric = fabric;
    this.number = number;
    this.gids = new Gid[ports];
    this.portStates = new AtomicReferenceArray<>(ports);
    this.reported = new AtomicReferenceArray<>(ports);
    // DOWN until the fabric, once the device is listed, sets the node's state (ClusterFabric.newDevice).
    for (int p = 1; p <= ports; p++) {
      gids[p - 1] = ClusterGids.gid(fabric.selfUid(), number, p);
      portStates.set(p - 1, PortState.DOWN);
    }
  }

  /** The midlayer's handle (set once the registration completed). Never blocks; any thread. */
  public Device device() {
    return device;
  }

  void registered(Device handle) {
    this.device = handle;
  }

  /** The midlayer's side of the device (set by enable_driver, before any client's add), or null before. */
  public DriverDevice driverDevice() {
    return driverDevice;
  }

  /** The device name the midlayer gave it. Never blocks; any thread. */
  public String name() {
    return driverDevice == null ? "(registering)" : driverDevice.name();
  }

  /** The fabric the device is on. Never blocks; any thread. */
  public ClusterFabric fabric() {
    return fabric;
  }

  /** The device's number on its node (from 0), part of its GIDs. Never blocks; any thread. */
  public int number() {
    return number;
  }

  /** Number of ports. Never blocks; any thread. */
  public int portCount() {
    return gids.length;
  }

  /** The port's GID at index 0 ({@link ClusterGids}). Never blocks; any thread. */
  @Override
  public Gid gid(int portNum) {
    checkPort(portNum);
    return gids[portNum - 1];
  }

  /** 0: RoCE-like ports have no LID (UD completions report SLID 0). Never blocks; any thread. */
  @Override
  public int lid(int portNum) {
    return 0;
  }

  /** The ports' active MTU. Never blocks; any thread. */
  public Mtu activeMtu() {
    return fabric.settings().activeMtu();
  }

  /**
   * The node GUID: a SplitMix64 hash of (node uid, device number), unique in the cluster with overwhelming
   * probability (the GIDs, not the GUID, address the ports). Never blocks; any thread.
   */
  public long nodeGuid() {
    long z = fabric.selfUid() + 0x9E3779B97F4A7C15L * (number + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The port's state as the driver sees it: ACTIVE while this node is Up; DOWN for a port that does not exist. */
  @Override
  public PortState portState(int portNum) {
    if (portNum < 1 || portNum > gids.length) {
      return PortState.DOWN;
    }
    return portStates.get(portNum - 1);
  }

  /**
   * Sets a port's state; once the device is enabled, a change from what the midlayer was last told raises
   * PORT_ACTIVE / PORT_ERR, exactly once per change. Never blocks; the node's actor (and enable_driver).
   */
  void portState(int portNum, PortState to) {
    portStates.set(portNum - 1, to);
    report(portNum);
  }

  /**
   * Tells the midlayer the port's state if it differs from what it was last told ({@link #reported}): a
   * compare-and-set on that, so of two threads reporting the same change only one raises the event.
   */
  private void report(int portNum) {
    DriverDevice d = driverDevice;
    if (d == null || fabric.localDevice(number) != this) {
      return;
    }
    while (true) {
      PortState told = reported.get(portNum - 1);
      PortState now = portStates.get(portNum - 1);
      if (told == null || told == now) {
        return;
      }
      if (reported.compareAndSet(portNum - 1, told, now)) {
        try {
          d.dispatchPortEvent(now == PortState.ACTIVE ? AsyncEventType.PORT_ACTIVE : AsyncEventType.PORT_ERR,
              portNum);
        } catch (DeviceUnregisteredException | IllegalStateException unregistered) {
          // The device's unregistration completed meanwhile (the system is shutting down, say): nobody to tell.
        }
        return;
      }
    }
  }

  /**
   * A new link for {@code qp} (a QP of this device): what the QP's engine sends through. One per QP; used from
   * the engine's actor only. Never blocks; any thread.
   */
  public ClusterLink link(QpContext qp) {
    InvalidArgumentException.requireNonNull(qp, "qp");
    return new ClusterLink(this, qp);
  }

  /**
   * Binds {@code sink} to QP number {@code qpn} of this device: the packets for it are delivered there (on the
   * node's inbound actor). Replaces an earlier binding. Never blocks; any thread.
   */
  public void bind(int qpn, PacketSink sink) {
    sinks.put(qpn, InvalidArgumentException.requireNonNull(sink, "sink"));
  }

  /** Removes the binding of {@code qpn} if it is {@code sink}: later packets for it are dropped. Never blocks. */
  public boolean unbind(int qpn, PacketSink sink) {
    return sinks.remove(qpn, sink);
  }

  PacketSink sink(int qpn) {
    return sinks.get(qpn);
  }

  DeviceOps ops(QpFactory qps) {
    DeviceOps.Builder b = DeviceOps.builder("cluster")
        .queryDevice(this::queryDevice)
        .queryPort(this::queryPort)
        .enableDriver(d -> {
          // The midlayer read the ports before this call: a change since (the node came Up while the device
          // registered) is reported now, or the midlayer's port cache would keep the old state for good.
          for (int p = 1; p <= gids.length; p++) {
            reported.set(p - 1, d.cachedPort(p).state());
          }
          this.driverDevice = d;
          for (int p = 1; p <= gids.length; p++) {
            report(p);
          }
          fabric.devicesChanged(); // routable, and in the directory, before any client's add
        })
        .memoryFence(fabric::awaitTransfers);
    if (qps != null) {
      b.createQp((qp, spawner) -> qps.create(this, qp, spawner));
    }
    return b.build();
  }

  private DeviceAttributes queryDevice() {
    return SoftLimits.device()
        .firmwareVersion("midlayer-cluster 0.1")
        .vendorId(ClusterFabric.VENDOR_ID)
        .nodeGuid(nodeGuid())
        .systemImageGuid(nodeGuid())
        .physPortCount(gids.length)
        .build();
  }

  private PortAttributes queryPort(int portNum) {
    PortState state = portStates.get(portNum - 1);
    return SoftLimits.port()
        .state(state)
        .physState(physState(state))
        .maxMtu(Mtu.MTU_4096)
        .activeMtu(activeMtu())
        .linkLayer(LinkLayer.ETHERNET)
        .gids(List.of(gids[portNum - 1]))
        .build();
  }

  /**
   * The physical state that goes with the port's state: LINK_UP while ACTIVE (this node is Up); POLLING while
   * the node is joining (the ports come up when it is Up); DISABLED once it left, was downed or removed, since
   * Pekko never lets that incarnation join again.
   */
  private PhysPortState physState(PortState state) {
    if (state == PortState.ACTIVE) {
      return PhysPortState.LINK_UP;
    }
    return fabric.selfGoneNow() ? PhysPortState.DISABLED : PhysPortState.POLLING;
  }

  private void checkPort(int portNum) {
    if (portNum < 1 || portNum > gids.length) {
      throw new InvalidArgumentException("portNum",
          "port " + portNum + " does not exist (ports are 1.." + gids.length + ")");
    }
  }

  @Override
  public String toString() {
    return "cluster device " + name() + " #" + number;
  }
}
