package dev.midlayer.testkit.conformance;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerTestKit;

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

  /** Whether {@link #linkDown} and {@link #linkUp} work: contracts that need them are skipped otherwise. */
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

  /** Whether the driver can inject faults (lost or corrupted packets); no contract needs it yet. */
  default boolean supportsFaultInjection() {
    return false;
  }

  /** The loopback driver: devices {@code lo0}, {@code lo1}, ... on the kit's in-JVM fabric, with link control. */
  static DriverUnderTest loopback() {
    return new DriverUnderTest() {
      @Override
      public String name() {
        return "loopback";
      }

      @Override
      public Config config() {
        return ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001");
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
