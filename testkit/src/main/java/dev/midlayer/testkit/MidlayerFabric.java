package dev.midlayer.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that starts a midlayer ({@link MidlayerTestKit}) with a fabric of N devices of P ports
 * before each test (or once per class), and afterwards removes the devices and shuts the kit down, which fails the
 * test if a client left anything behind or the kit's contract monitor saw a violation of the seed's rules.
 *
 * <pre>{@code
 * @RegisterExtension final MidlayerFabric fabric = MidlayerFabric.loopback().devices(2).ports(2).build();
 *
 * @Test void twoDevices() {
 *   Device lo0 = fabric.device(0);
 *   fabric.loopback(1).linkDown(1);
 * }
 * }</pre>
 *
 * <p>Per test by default; {@link Builder#perClass()} shares one fabric among a class's tests (register it on a
 * static field). Devices come from a {@link DeviceFactory}, the loopback driver unless {@link Builder#driver}
 * says otherwise. Accessors never block and may be called from any thread while a test runs; {@link #unplug}
 * and {@link #replug} may sleep (test thread).
 */
public final class MidlayerFabric implements BeforeEachCallback, AfterEachCallback, BeforeAllCallback,
    AfterAllCallback {
  /** Where the fabric's devices come from: the loopback driver, or any driver's registration. */
  public interface DeviceFactory {
    /** Registers a device with {@code ports} ports on {@code kit}'s midlayer. May sleep (test thread). */
    Device add(MidlayerTestKit kit, int index, int ports);

    /** Unregisters it again. May sleep (test thread). */
    void remove(MidlayerTestKit kit, Device device);
  }

  /** The loopback driver: devices {@code lo0}, {@code lo1}, ... on the kit's in-JVM fabric. */
  public static final DeviceFactory LOOPBACK = new DeviceFactory() {
    @Override
    public Device add(MidlayerTestKit kit, int index, int ports) {
      return kit.addDevice("lo%d", ports).device();
    }

    @Override
    public void remove(MidlayerTestKit kit, Device device) {
      kit.fabric().devices().stream().filter(d -> d.device() == device).findFirst().ifPresent(kit::removeDevice);
    }
  };

  private final int devices;
  private final int ports;
  private final boolean perClass;
  private final Config config;
  private final DeviceFactory factory;
  private final boolean manualTime;
  private volatile MidlayerTestKit kit;
  private volatile List<Device> started = List.of();

  private MidlayerFabric(Builder b) {
    this.devices = b.devices;
    this.ports = b.ports;
    this.perClass = b.perClass;
    this.config = b.config;
    this.factory = b.factory;
    this.manualTime = b.manualTime;
  }

  /** A builder for a fabric of loopback devices (1 device of 1 port unless told otherwise). Never blocks; any thread. */
  public static Builder loopback() {
    return new Builder();
  }

  /** The running kit. */
  public MidlayerTestKit kit() {
    MidlayerTestKit k = kit;
    if (k == null) {
      throw new IllegalStateException("the fabric is not running: use it inside a test (or, perClass, in the "
          + "class's tests and @BeforeEach/@AfterEach)");
    }
    return k;
  }

  /** Device {@code i} of the fabric, as the consumer API sees it. */
  public Device device(int i) {
    kit();
    return started.get(i);
  }

  /** Every device of the fabric, in order. */
  public List<Device> devices() {
    kit();
    return started;
  }

  /** Device {@code i} as a loopback device (link down/up), for a fabric built on the loopback driver. */
  public LoopbackDevice loopback(int i) {
    Device d = device(i);
    return kit().fabric().devices().stream().filter(l -> l.device() == d).findFirst()
        .orElseThrow(() -> new IllegalStateException(d.name() + " is not a loopback device"));
  }

  /**
   * Hot-unplug: unregisters device {@code i} (every client gets its remove) and waits for it. The index stays
   * taken until {@link #replug}. May sleep (test thread).
   */
  public void unplug(int i) {
    MidlayerTestKit k = kit();
    Device d = started.get(i);
    if (!k.midlayer().devices().contains(d)) {
      throw new IllegalStateException("device " + i + " (" + d.name() + ") is unplugged already");
    }
    factory.remove(k, d);
  }

  /**
   * Plugs a fresh device in at index {@code i} (after {@link #unplug}): registered, every client added, returned.
   * May sleep (test thread).
   */
  public Device replug(int i) {
    MidlayerTestKit k = kit();
    if (k.midlayer().devices().contains(started.get(i))) {
      throw new IllegalStateException("device " + i + " (" + started.get(i).name() + ") is still plugged in");
    }
    Device fresh = factory.add(k, i, ports);
    List<Device> now = new ArrayList<>(started);
    now.set(i, fresh);
    started = List.copyOf(now);
    return fresh;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    if (perClass) {
      start();
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (perClass) {
      stop();
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    if (!perClass) {
      start();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    if (!perClass) {
      stop();
    }
  }

  private void start() {
    MidlayerTestKit k = manualTime ? MidlayerTestKit.createWithManualTime(config) : MidlayerTestKit.create(config);
    kit = k;
    List<Device> made = new ArrayList<>();
    for (int i = 0; i < devices; i++) {
      made.add(factory.add(k, i, ports));
    }
    started = List.copyOf(made);
  }

  private void stop() {
    MidlayerTestKit k = kit;
    if (k == null) {
      return;
    }
    try {
      for (Device d : started) {
        if (k.midlayer().devices().contains(d)) {
          factory.remove(k, d);
        }
      }
    } finally {
      kit = null;
      started = List.of();
      k.shutdown(); // fails the test on leftovers
    }
  }

  /**
   * Builds a {@link MidlayerFabric}. Not thread-safe: confine it to one thread (the test class's initializer);
   * every method never blocks.
   */
  public static final class Builder {
    private int devices = 1;
    private int ports = 1;
    private boolean perClass;
    private Config config = ConfigFactory.empty();
    private DeviceFactory factory = LOOPBACK;
    private boolean manualTime;

    private Builder() {}

    /** Runs on Pekko's manual clock: timers fire only as the test advances {@code kit().manualTime()}. */
    public Builder manualTime() {
      this.manualTime = true;
      return this;
    }

    /** How many devices (at least 0). */
    public Builder devices(int n) {
      if (n < 0) {
        throw new IllegalArgumentException("devices must be >= 0, was " + n);
      }
      this.devices = n;
      return this;
    }

    /** Ports per device (at least 1). */
    public Builder ports(int p) {
      if (p < 1) {
        throw new IllegalArgumentException("ports must be >= 1, was " + p);
      }
      this.ports = p;
      return this;
    }

    /** One fabric for the whole class (register the extension on a static field). */
    public Builder perClass() {
      this.perClass = true;
      return this;
    }

    /** Configuration on top of the testkit's (e.g. {@code midlayer.callback-warning-after}). */
    public Builder config(Config config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    /** Another driver's devices. */
    public Builder driver(DeviceFactory factory) {
      this.factory = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /** The extension, as configured; it starts nothing until JUnit calls it. */
    public MidlayerFabric build() {
      return new MidlayerFabric(this);
    }
  }
}
