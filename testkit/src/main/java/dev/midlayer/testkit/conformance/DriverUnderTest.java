package dev.midlayer.testkit.conformance;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerTestKit;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * What a conformance contract needs of a driver: how to make its devices, and what it can do. A driver author
 * implements it once and returns it from {@link DriverContract#driver()} in a subclass of each contract.
 *
 * <p>Every method is called from the test's thread only, never from a midlayer callback.
 */
public interface DriverUnderTest {
  /** A short name for reports, e.g. {@code "loopback"}. Never sleeps. */
  String name();

  /**
   * Extra configuration for the test's actor system, on top of the testkit's defaults (for the loopback driver
   * {@code midlayer.loopback.timer-scale = 0.001}, so ACK and RNR timers take micro- to milliseconds). Never
   * sleeps.
   */
  Config config();

  /**
   * Registers one new device with {@code ports} ports on {@code kit}'s midlayer and returns it once every
   * client has been added (C11: the device is announced only when initialised). May sleep.
   */
  Device addDevice(MidlayerTestKit kit, int ports);

  /** Unregisters {@code device} and returns once every client's remove finished (C15). May sleep. */
  void removeDevice(MidlayerTestKit kit, Device device);

  /**
   * The factor the driver's transport timers (ACK timeout, RNR NAK delay) run at under {@link #config()}: 0.001
   * for the loopback driver. Contracts that lose packets on purpose pick their ACK timeout code from it, so a
   * retransmission waits about as long on every driver. Never sleeps.
   */
  default double timerScale() {
    return 0.001;
  }

  /**
   * Whether {@link #linkDown} and {@link #linkUp} work: contracts that need them are skipped otherwise. Never
   * sleeps.
   */
  default boolean supportsLinkControl() {
    return false;
  }

  /**
   * Takes port {@code port} of {@code d} down, as a cable pull would: the driver raises PORT_ERR and its QPs
   * stop reaching their peers through it. May sleep.
   */
  default void linkDown(MidlayerTestKit kit, Device d, int port) {
    throw new UnsupportedOperationException(name() + " has no link control");
  }

  /** Brings port {@code port} of {@code d} up again (PORT_ACTIVE). May sleep. */
  default void linkUp(MidlayerTestKit kit, Device d, int port) {
    throw new UnsupportedOperationException(name() + " has no link control");
  }

  /**
   * Whether the driver applies a {@link FaultPlan} at its links ({@link #faults}, {@link #clearFaults}):
   * {@link FaultContract}'s packet-level tests are skipped otherwise. Never sleeps.
   */
  default boolean supportsFaultInjection() {
    return false;
  }

  /**
   * From now on every link of {@code kit}'s devices applies {@code plan} (drops, duplicates, reorders, delays,
   * decided by the plan's pure function and counted in it), replacing any plan before. A driver applies it where
   * it hands a request, ACK or NAK to the peer, with the packet's PSN and attempt as the plan defines them.
   * <b>Never blocks</b>; test thread.
   */
  default void faults(MidlayerTestKit kit, FaultPlan plan) {
    throw new UnsupportedOperationException(name() + " has no fault injection");
  }

  /** Removes the fault plan: packets pass unchanged and are no longer counted. <b>Never blocks</b>; test thread. */
  default void clearFaults(MidlayerTestKit kit) {
    throw new UnsupportedOperationException(name() + " has no fault injection");
  }

  /** Whether {@link #raiseFatal} works: the DEVICE_FATAL tests are skipped otherwise. Never sleeps. */
  default boolean supportsFatalError() {
    return false;
  }

  /**
   * Raises a catastrophic error of {@code d}, as a NIC's fatal-error interrupt would: DEVICE_FATAL to the
   * device's event handlers, its ports DOWN, every QP not in RESET to ERR and flushed. The device stays
   * registered and dead until removed; only the first call does anything. <b>Never blocks</b>; test thread.
   */
  default void raiseFatal(MidlayerTestKit kit, Device d) {
    throw new UnsupportedOperationException(name() + " cannot raise a fatal error");
  }

  /**
   * Takes port {@code port} of {@code d} down and brings it up again {@code downFor} later (in real IB time:
   * a driver scales it like its transport timers); the stage completes once the link is up. The default is
   * {@link #linkDown} then {@link #linkUp} at once. Needs {@link #supportsLinkControl}. May sleep; test thread.
   */
  default CompletionStage<?> flap(MidlayerTestKit kit, Device d, int port, Duration downFor) {
    linkDown(kit, d, port);
    linkUp(kit, d, port);
    return CompletableFuture.completedFuture(null);
  }

  /**
   * True while {@code d} (made by {@link #addDevice}) is registered. The default asks the kit's midlayer; a
   * driver that puts devices on other nodes asks theirs. May sleep: test thread.
   */
  default boolean isRegistered(MidlayerTestKit kit, Device d) {
    return kit.midlayer().devices().contains(d);
  }

  /**
   * True if an unreliable (UC, UD) send's completion comes after the responder took the message, as in the
   * loopback driver's one JVM, and its ports are InfiniBand (LID addressing). False for a driver over a wire with
   * RoCE-like ports: a few UC/UD contract tests that order delivery after the send completion are skipped.
   * Never sleeps.
   */
  default boolean sendCompletionMeansDelivered() {
    return true;
  }

  /**
   * True if a fresh fixture's devices get the same GIDs again (the loopback fabric numbers them), so that a
   * fault plan, which decides by the ports' GIDs, replays across fixtures. False for the cluster driver, whose
   * GIDs hold the node incarnation's random uid. Never sleeps.
   */
  default boolean stableAddresses() {
    return true;
  }

  /**
   * The midlayer {@code d} is registered with: the kit's, unless the driver put it on another node. Never
   * sleeps.
   */
  default dev.midlayer.Midlayer midlayerOf(MidlayerTestKit kit, Device d) {
    return kit.midlayer();
  }

  /**
   * The fixture is done with {@code kit}: stop whatever the driver started for it (peer nodes). May sleep (the
   * cluster driver waits for its peer node to terminate); test thread.
   */
  default void close(MidlayerTestKit kit) {}

  /**
   * The cluster driver ({@code dev.midlayer.drivers.cluster}) with two nodes: the kit's actor system is a
   * cluster node on Artery TCP at 127.0.0.1, and a second actor system in this JVM joins it. Devices alternate
   * between the nodes (the first on the kit's, the second on the peer's, ...), so traffic between a contract's
   * first two devices crosses Artery. Fault injection applies the plan on both nodes. No link control or fatal
   * errors (ports follow membership). Data-path contracts only: the peer's devices are not registered with the
   * kit's midlayer, so its clients do not see them. Never sleeps (the nodes start with the first device).
   */
  static DriverUnderTest cluster() {
    return ClusterUnderTest.TWO_NODES;
  }

  /**
   * The cluster driver on one node: every device on the kit's node, frames through the wire codec. Never
   * sleeps.
   */
  static DriverUnderTest clusterOneNode() {
    return ClusterUnderTest.ONE_NODE;
  }

  /**
   * The loopback driver: devices {@code lo0}, {@code lo1}, ... on the kit's in-JVM fabric, with link control,
   * flaps, fault injection ({@code kit.fabric().faults(plan)}) and fatal errors ({@code LoopbackDevice.raiseFatal}).
   * Never sleeps.
   */
  static DriverUnderTest loopback() {
    return loopback("loopback", "");
  }

  /**
   * The loopback driver with {@code midlayer.loopback.share-memory = off}: its link behaves as a wire (payloads
   * copied as they leave, READ responses and atomic acknowledgements carrying the data), the engine's path for
   * drivers that cross JVMs. Never sleeps.
   */
  static DriverUnderTest loopbackWire() {
    return loopback("loopback-wire", "midlayer.loopback.share-memory = off");
  }

  private static DriverUnderTest loopback(String name, String extra) {
    return new DriverUnderTest() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public Config config() {
        return ConfigFactory.parseString(extra + "\nmidlayer.loopback.timer-scale = 0.001");
      }

      @Override
      public Device addDevice(MidlayerTestKit kit, int ports) {
        return kit.addDevice("lo%d", ports).device();
      }

      @Override
      public void removeDevice(MidlayerTestKit kit, Device device) {
        kit.removeDevice(of(kit, device));
      }

      @Override
      public boolean supportsLinkControl() {
        return true;
      }

      @Override
      public void linkDown(MidlayerTestKit kit, Device d, int port) {
        of(kit, d).linkDown(port);
      }

      @Override
      public void linkUp(MidlayerTestKit kit, Device d, int port) {
        of(kit, d).linkUp(port);
      }

      @Override
      public CompletionStage<?> flap(MidlayerTestKit kit, Device d, int port, Duration downFor) {
        return of(kit, d).flap(port, downFor);
      }

      @Override
      public boolean supportsFaultInjection() {
        return true;
      }

      @Override
      public void faults(MidlayerTestKit kit, FaultPlan plan) {
        kit.fabric().faults(plan);
      }

      @Override
      public void clearFaults(MidlayerTestKit kit) {
        kit.fabric().clearFaults();
      }

      @Override
      public boolean supportsFatalError() {
        return true;
      }

      @Override
      public void raiseFatal(MidlayerTestKit kit, Device d) {
        of(kit, d).raiseFatal();
      }

      private LoopbackDevice of(MidlayerTestKit kit, Device d) {
        return kit.fabric().devices().stream().filter(l -> l.device() == d).findFirst()
            .orElseThrow(() -> new IllegalArgumentException(d + " is not a loopback device of this kit"));
      }

      @Override
      public String toString() {
        return name();
      }
    };
  }
}
