package dev.midlayer.drivers.loopback;

import com.typesafe.config.Config;
import dev.midlayer.Midlayer;
import dev.midlayer.drivers.engine.EngineQp;
import dev.midlayer.drivers.engine.EngineSettings;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.spi.DeviceOps;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * An InfiniBand fabric inside one JVM: any number of loopback devices, each with ports, every port
 * reachable from every other. The fabric plays the subnet manager: it hands out LIDs (from 1) and node
 * GUIDs, so every port has a unique LID and GID.
 *
 * <p>Thread safety: every method is safe from any thread. {@link #addDevice} and {@link #removeDevice}
 * register and unregister with the midlayer and so <b>may sleep</b> (not from atomic context); the
 * other methods never block.
 */
public final class LoopbackFabric {
  /** The vendor id the loopback devices report: 0xFFFFFF, as Linux rxe does (no IEEE OUI: a software device). */
  public static final int VENDOR_ID = 0xFFFFFF;
  /**
   * The high bits of every loopback node GUID. A node GUID is this, the device's number shifted by 8, and 0 in
   * the low byte; port {@code p}'s GUID (its GID's interface id) puts {@code p} in the low byte, so every port
   * of every device has its own GID.
   */
  static final long GUID_PREFIX = 0x0200_0000_0000_0000L;

  private final Midlayer midlayer;
  private final AtomicInteger nextLid = new AtomicInteger(1);
  private final AtomicLong nextNode = new AtomicLong(1);
  private final List<LoopbackDevice> devices = new CopyOnWriteArrayList<>();
  /** The routing table: LID and GID of every port of every registered device. */
  private final Map<Integer, LoopbackDevice> byLid = new ConcurrentHashMap<>();
  private final Map<Gid, LoopbackDevice> byGid = new ConcurrentHashMap<>();
  private final double timerScale;
  private final int maxBatch;
  private final boolean shareMemory;
  /**
   * The fault plan every QP of the fabric applies to the packets it sends, or null (no faults). Read once per
   * outgoing message: the whole cost of fault injection when no plan is installed.
   */
  private volatile FaultPlan faultPlan;
  private final EngineSettings engineSettings;

  /**
   * A fabric attached to {@code midlayer}, configured by {@code midlayer.loopback} of its actor system's
   * config. Never blocks; any thread.
   *
   * @throws IllegalArgumentException if {@code timer-scale} is not positive or {@code max-batch} is below 1
   */
  public LoopbackFabric(Midlayer midlayer) {
    this.midlayer = InvalidArgumentException.requireNonNull(midlayer, "midlayer");
    Config c = midlayer.system().settings().config().getConfig("midlayer.loopback");
    this.timerScale = c.getDouble("timer-scale");
    this.maxBatch = c.getInt("max-batch");
    this.shareMemory = c.getBoolean("share-memory");
    if (timerScale <= 0 || maxBatch < 1) {
      throw new IllegalArgumentException("midlayer.loopback: timer-scale must be > 0 and max-batch >= 1");
    }
    this.engineSettings = new EngineSettings(timerScale, maxBatch, this::faultPlan);
  }

  /** What every QP engine on the fabric is told: its timer scale, batch size and the fabric's fault plan. */
  EngineSettings engineSettings() {
    return engineSettings;
  }

  boolean shareMemory() {
    return shareMemory;
  }

  double timerScale() {
    return timerScale;
  }

  int maxBatch() {
    return maxBatch;
  }

  /** The device that owns the port {@code ah} leads to, or null. Lock-free; any thread. */
  LoopbackDevice route(AhAttr ah) {
    return ah.grh() ? byGid.get(ah.dgid()) : byLid.get(ah.dlid());
  }

  /**
   * A fabric attached to the midlayer of {@code system}. Never blocks once the midlayer exists; the first
   * {@link Midlayer#get} of a system creates it and may block (not from an actor's turn or a midlayer callback).
   */
  public static LoopbackFabric create(ActorSystem<?> system) {
    return new LoopbackFabric(Midlayer.get(system));
  }

  /** The midlayer the fabric's devices register with. */
  public Midlayer midlayer() {
    return midlayer;
  }

  /**
   * Builds a device with {@code ports} ports (all links up) and registers it with the midlayer. The stage
   * completes once every client has been added (see {@link Midlayer#registerDevice}). <b>May sleep</b>.
   *
   * @param name a device name or a pattern such as {@code "lo%d"}
   * @param ports 1..255
   */
  public CompletionStage<LoopbackDevice> addDevice(String name, int ports) {
    return addDevice(name, ports, UnaryOperator.identity());
  }

  /**
   * As {@link #addDevice(String, int)}, registering the driver ops {@code decorate} makes of the loopback
   * driver's: for a driver layered on the loopback engine, and for the testkit's deliberately broken drivers
   * (each breaks one rule of the contract, to prove that the conformance suite catches it). <b>May sleep</b>.
   */
  public CompletionStage<LoopbackDevice> addDevice(String name, int ports, UnaryOperator<DeviceOps> decorate) {
    InvalidArgumentException.requireNonNull(decorate, "decorate");
    if (ports < 1 || ports > 255) {
      throw new InvalidArgumentException("ports", "must be 1..255, was " + ports);
    }
    int[] lids = new int[ports];
    for (int i = 0; i < ports; i++) {
      lids[i] = nextLid.getAndIncrement();
    }
    LoopbackDevice device = new LoopbackDevice(this, GUID_PREFIX | nextNode.getAndIncrement() << 8, lids);
    // Routable from the start: clients may connect QPs inside their add.
    for (int p = 1; p <= ports; p++) {
      byLid.put(device.lid(p), device);
      byGid.put(device.gid(p), device);
    }
    CompletionStage<dev.midlayer.device.Device> registration;
    try {
      registration = midlayer.registerDevice(name, decorate.apply(device.ops()));
    } catch (RuntimeException refused) {
      unroute(device); // a name refused at once (InvalidArgumentException): nothing of it stays on the fabric
      throw refused;
    }
    return registration.whenComplete((d, failure) -> {
      if (failure != null) {
        unroute(device);
      }
    }).thenApply(d -> {
      device.registered(d);
      devices.add(device);
      return device;
    });
  }

  /** Unregisters the device from the midlayer and takes it off the fabric. <b>May sleep</b>. */
  public CompletionStage<Done> removeDevice(LoopbackDevice device) {
    InvalidArgumentException.requireNonNull(device, "device");
    return midlayer.unregisterDevice(device.device()).thenApply(done -> {
      devices.remove(device);
      unroute(device);
      return done;
    });
  }

  private void unroute(LoopbackDevice device) {
    for (int p = 1; p <= device.portCount(); p++) {
      byLid.remove(device.lid(p), device);
      byGid.remove(device.gid(p), device);
    }
  }

  /**
   * The memory fence of every loopback device ({@code DeviceOps.MemoryFence}): returns once each QP actor on
   * the fabric that was in a step that may copy registered memory has left it. Any QP may copy a device's
   * memory (a responder writes a peer's READ results, reads a peer's SEND payload), so it looks at all of
   * them. Keys that stopped resolving before the call are never resolved by a later step. May sleep:
   * it parks briefly between looks, for as long as a copy takes (at most a max_msg_sz transfer).
   */
  void awaitTransfers() {
    for (LoopbackDevice d : devices) {
      EngineQp.awaitTransfers(d.driverDevice());
    }
  }

  /**
   * Installs {@code plan} on every link of the fabric, replacing the plan before: from now on each QP asks it
   * about every packet it sends (requests, ACKs and NAKs) and drops, duplicates, delays or reorders the packet
   * as told. Packets already on their way (delayed, held for reordering) are not recalled. See the "Fault
   * injection" section of the module's README for what each fault does to RC, UC and UD.
   *
   * <p><b>Never blocks</b> (one volatile write); any thread and any context, callbacks included.
   */
  public void faults(FaultPlan plan) {
    this.faultPlan = InvalidArgumentException.requireNonNull(plan, "plan");
  }

  /** Removes the fault plan: packets pass unchanged again. <b>Never blocks</b>; any thread and any context. */
  public void clearFaults() {
    this.faultPlan = null;
  }

  /** The installed fault plan (for its counts), or null. <b>Never blocks</b> (one volatile read); any thread. */
  public FaultPlan faultPlan() {
    return faultPlan;
  }

  /** The fabric's registered devices, in the order they were added. Never blocks; any thread. */
  public List<LoopbackDevice> devices() {
    return List.copyOf(devices);
  }
}
