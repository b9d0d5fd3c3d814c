package dev.midlayer.drivers.loopback;

import dev.midlayer.device.Device;
import dev.midlayer.drivers.engine.EngineDevice;
import dev.midlayer.drivers.engine.EngineQp;
import dev.midlayer.ib.AhAttr;
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
import dev.midlayer.spi.QpContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.apache.pekko.Done;

/**
 * One device on a {@link LoopbackFabric}: the driver side of a registered {@link Device}. Its ports have
 * a LID and a GID each; {@link #linkDown}/{@link #linkUp} change a port's state and raise PORT_ERR /
 * PORT_ACTIVE through the midlayer, as a link interrupt would on hardware.
 *
 * <p>Thread safety: every method is safe from any thread and never blocks (the link changes only
 * enqueue the event), so they may be called from callbacks too.
 */
public final class LoopbackDevice implements EngineDevice {
  private final LoopbackFabric fabric;
  private final long nodeGuid;
  private final int[] lids;
  private final AtomicReferenceArray<PortState> portStates;
  /** The consumer's handle, from the registration's result. */
  private volatile Device device;
  /** The midlayer's side of the device, from enable_driver: events, QPs, keys. */
  private volatile DriverDevice driverDevice;
  /** Set once by {@link #raiseFatal}: the device is dead until it is removed. */
  private final AtomicBoolean fatal = new AtomicBoolean();

  LoopbackDevice(LoopbackFabric fabric, long nodeGuid, int[] lids) {
    this.fabric = fabric;
    this.nodeGuid = nodeGuid;
    this.lids = lids.clone();
    this.portStates = new AtomicReferenceArray<>(lids.length);
    for (int i = 0; i < lids.length; i++) {
      portStates.set(i, PortState.ACTIVE);
    }
  }

  /** The midlayer's handle for this device (set once its registration completed). */
  public Device device() {
    return device;
  }

  /** The midlayer's side of the device for this driver (set by enable_driver, before any client's add). */
  DriverDevice driverDevice() {
    return driverDevice;
  }

  void registered(Device handle) {
    this.device = handle;
  }

  /** The device name the midlayer gave it (e.g. {@code lo0}). */
  public String name() {
    return driverDevice.name();
  }

  /** The fabric the device is on. */
  public LoopbackFabric fabric() {
    return fabric;
  }

  /** The node GUID. */
  public long nodeGuid() {
    return nodeGuid;
  }

  /** Number of ports. */
  public int portCount() {
    return lids.length;
  }

  /** The LID of a port. */
  @Override
  public int lid(int portNum) {
    checkPort(portNum);
    return lids[portNum - 1];
  }

  /** The GID at index 0 of a port: the default subnet prefix and the port GUID (the node GUID with the port number in its low byte). */
  @Override
  public Gid gid(int portNum) {
    checkPort(portNum);
    return Gid.linkLocal(nodeGuid | portNum);
  }

  /** The port's current state as the driver sees it; DOWN for a port number that does not exist. */
  @Override
  public PortState portState(int portNum) {
    if (portNum < 1 || portNum > lids.length) {
      return PortState.DOWN;
    }
    return portStates.get(portNum - 1);
  }

  /** Takes a port's link down (ACTIVE to DOWN) and raises PORT_ERR. A port already down is left alone. */
  public void linkDown(int portNum) {
    checkPort(portNum);
    if (portStates.compareAndSet(portNum - 1, PortState.ACTIVE, PortState.DOWN)) {
      driverDevice.dispatchPortEvent(AsyncEventType.PORT_ERR, portNum);
    }
  }

  /**
   * Brings a port's link up (DOWN to ACTIVE) and raises PORT_ACTIVE. A port already up is left alone, and so
   * is every port of a device after {@link #raiseFatal}.
   */
  public void linkUp(int portNum) {
    checkPort(portNum);
    if (!fatal.get() && portStates.compareAndSet(portNum - 1, PortState.DOWN, PortState.ACTIVE)) {
      driverDevice.dispatchPortEvent(AsyncEventType.PORT_ACTIVE, portNum);
    }
  }

  /**
   * Flaps a port's link: {@link #linkDown} now (PORT_ERR), {@link #linkUp} once {@code downFor} has passed
   * (PORT_ACTIVE), on the actor system's scheduler. {@code downFor} is in real IB time and is scaled by
   * {@code midlayer.loopback.timer-scale} like the transport timers (so Pekko's manual clock drives it too).
   * Packets sent while the link is down are lost: RC retries them after its ACK timeout, UC and UD lose them.
   * If the port was already down it is still brought up at the end. The stage completes after the link came
   * back up (or stayed down because the device had a fatal error).
   *
   * <p><b>Never blocks</b>; any thread and any context.
   */
  public CompletionStage<Done> flap(int portNum, Duration downFor) {
    checkPort(portNum);
    InvalidArgumentException.requireNonNull(downFor, "downFor");
    long nanos = Math.max(1, (long) (downFor.toNanos() * fabric.timerScale()));
    CompletableFuture<Done> up = new CompletableFuture<>();
    linkDown(portNum);
    var system = fabric.midlayer().system();
    system.scheduler().scheduleOnce(Duration.ofNanos(nanos), () -> {
      try {
        linkUp(portNum);
        up.complete(Done.getInstance());
      } catch (RuntimeException e) {
        up.completeExceptionally(e);
      }
    }, system.executionContext());
    return up;
  }

  /**
   * Raises a fatal error of the device, as a NIC's catastrophic-error interrupt would: its ports go DOWN (no
   * port events: the device event says it all), DEVICE_FATAL is dispatched through the midlayer to every
   * event handler of the device, and each of its QPs that is not in RESET moves to ERR and is flushed by its
   * driver actor, so every WR posted to it ends in exactly one completion (WR_FLUSH_ERR for those not
   * finished yet, WRs posted later included). The device stays registered and dead: {@link #linkUp} does
   * nothing any more, and packets to and from it are lost. Only the first call does anything.
   *
   * <p><b>Never blocks</b> (it only enqueues the event and tells the QP actors); any thread and any context.
   *
   * @throws IllegalStateException if the device is not registered (or its unregistration completed)
   */
  public void raiseFatal() {
    DriverDevice d = driverDevice;
    if (d == null) {
      throw new IllegalStateException(this + " is not registered");
    }
    if (!fatal.compareAndSet(false, true)) {
      return;
    }
    for (int i = 0; i < lids.length; i++) {
      portStates.set(i, PortState.DOWN);
    }
    d.dispatchDeviceEvent(AsyncEventType.DEVICE_FATAL);
    for (QpContext qp : d.qps()) {
      if (qp.driver() instanceof EngineQp eq) {
        eq.deviceFatal();
      }
    }
  }

  /** True once {@link #raiseFatal} was called. Never blocks; any thread. */
  public boolean isFatal() {
    return fatal.get();
  }

  DeviceOps ops() {
    return DeviceOps.builder("loopback")
        .queryDevice(this::queryDevice)
        .queryPort(this::queryPort)
        .enableDriver(d -> this.driverDevice = d)
        .createQp((qp, spawner) -> EngineQp.create(qp, this, spawner, fabric.engineSettings(),
            eq -> new LoopbackLink(eq, this, fabric.maxBatch(), fabric.shareMemory())))
        .memoryFence(fabric::awaitTransfers)
        .build();
  }

  /** The port of this device that {@code ah} addresses (by LID, or by GID with a GRH), or 0. */
  int portOf(AhAttr ah) {
    for (int p = 1; p <= lids.length; p++) {
      if (ah.grh() ? gid(p).equals(ah.dgid()) : lids[p - 1] == ah.dlid()) {
        return p;
      }
    }
    return 0;
  }

  private DeviceAttributes queryDevice() {
    return SoftLimits.device()
        .firmwareVersion("midlayer-loopback 0.1")
        .vendorId(LoopbackFabric.VENDOR_ID)
        .nodeGuid(nodeGuid)
        .systemImageGuid(nodeGuid)
        .physPortCount(lids.length)
        .build();
  }

  private PortAttributes queryPort(int portNum) {
    PortState state = portStates.get(portNum - 1);
    return SoftLimits.port()
        .state(state)
        .physState(physState(state))
        .maxMtu(Mtu.MTU_4096)
        .activeMtu(Mtu.MTU_4096)
        .lid(lids[portNum - 1])
        .smLid(1)
        .linkLayer(LinkLayer.INFINIBAND)
        .gids(List.of(gid(portNum)))
        .build();
  }

  /**
   * The physical state that goes with the port's state: LINK_UP while ACTIVE; POLLING for a link taken down
   * ({@link #linkDown}, {@link #flap}: the port waits for its link, which {@link #linkUp} brings back);
   * DISABLED once {@link #raiseFatal} killed the device (its ports never come up again).
   */
  private PhysPortState physState(PortState state) {
    if (state == PortState.ACTIVE) {
      return PhysPortState.LINK_UP;
    }
    return fatal.get() ? PhysPortState.DISABLED : PhysPortState.POLLING;
  }

  private void checkPort(int portNum) {
    if (portNum < 1 || portNum > lids.length) {
      throw new InvalidArgumentException("portNum",
          "port " + portNum + " does not exist (ports are 1.." + lids.length + ")");
    }
  }

  @Override
  public String toString() {
    return "loopback device " + (driverDevice == null ? "(registering)" : driverDevice.name());
  }
}
