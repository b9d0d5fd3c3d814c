package dev.midlayer.ulp.portmonitor;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.ib.PortState;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A template upper-level protocol: it watches the ports of every device. Copy it to start a client.
 *
 * <p>It shows the client contract of the midlayer:
 * <ul>
 *   <li>{@link #add} sets up per-device state and keeps it as <em>client data</em> on the device; it may
 *       sleep, so it can wait for may-sleep verbs (here: registering an event handler);
 *   <li>the event handler runs in atomic context: it only records and reports, it never blocks and
 *       never calls a may-sleep verb;
 *   <li>{@link #remove} undoes everything {@code add} did before it returns (here: unregisters the
 *       handler), using the client data the midlayer hands back.
 * </ul>
 *
 * <p>Thread safety: the midlayer calls add/remove one at a time; the handler may run concurrently with
 * them (on a device actor), so shared state is concurrent.
 */
public final class PortMonitor implements Client {
  /** How long add/remove wait for the midlayer's may-sleep verbs. */
  private static final Duration VERB_TIMEOUT = Duration.ofSeconds(10);

  /** What the monitor keeps per device, as client data. */
  private record PerDevice(EventHandlerRegistration handler) {}

  private final String name;
  private final Consumer<String> report;
  /** Last known state per "device/port". */
  private final Map<String, PortState> portStates = new ConcurrentHashMap<>();

  /**
   * @param name the client name
   * @param report where the monitor reports what it sees, one line per callback or event; called from
   *     midlayer threads, so it must not block
   */
  public PortMonitor(String name, Consumer<String> report) {
    this.name = name;
    this.report = report;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean add(Device device, ClientId self) throws Exception {
    for (int port = 1; port <= device.portCount(); port++) {
      portStates.put(key(device, port), device.cachedPort(port).state());
    }
    // May sleep: fine in add. Waiting is safe because the device actor, not the registry, serves it.
    EventHandlerRegistration handler = device.registerEventHandler(name, this::onEvent)
        .toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    device.setClientData(self, new PerDevice(handler));
    report.accept(name + ": add " + device.name() + " (" + device.portCount() + " port(s), "
        + describePorts(device) + ")");
    return true;
  }

  @Override
  public void remove(Device device, ClientId self, Object clientData) throws Exception {
    PerDevice state = (PerDevice) clientData;
    // Undo everything add did before returning: after remove the handler must never run again.
    state.handler().unregister().toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    for (int port = 1; port <= device.portCount(); port++) {
      portStates.remove(key(device, port));
    }
    report.accept(name + ": remove " + device.name());
  }

  /** Atomic context: record and report only. */
  private void onEvent(AsyncEvent event) {
    switch (event.type()) {
      case PORT_ACTIVE, PORT_ERR -> {
        int port = event.portNum();
        PortState now = event.device().cachedPort(port).state();
        PortState before = portStates.put(key(event.device(), port), now);
        report.accept(name + ": " + event + ": " + before + " -> " + now);
      }
      default -> report.accept(name + ": " + event);
    }
  }

  /** The last state seen for a port, or null if the device is not added. Never blocks. */
  public PortState portState(Device device, int port) {
    return portStates.get(key(device, port));
  }

  private static String key(Device device, int port) {
    return device.index() + "/" + port;
  }

  private static String describePorts(Device device) {
    StringBuilder sb = new StringBuilder();
    for (int port = 1; port <= device.portCount(); port++) {
      if (port > 1) {
        sb.append(", ");
      }
      sb.append("port ").append(port).append(' ').append(device.cachedPort(port).state());
    }
    return sb.toString();
  }
}
