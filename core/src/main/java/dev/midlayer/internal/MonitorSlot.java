package dev.midlayer.internal;

import dev.midlayer.monitor.ContractMonitor;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Internal API. Where a midlayer's {@link ContractMonitor} is, once attached: shared by the registry, the devices
 * and the verbs objects. Reading it is one volatile read, the whole cost of the monitor's hooks while none is
 * attached. Lock-free; any thread.
 */
public final class MonitorSlot {
  private final AtomicReference<ContractMonitor> monitor = new AtomicReference<>();

  /** The attached monitor, or null. */
  public ContractMonitor get() {
    return monitor.get();
  }

  /** Attaches {@code fresh} unless one is attached already; returns the one attached. */
  ContractMonitor attach(ContractMonitor fresh) {
    if (monitor.compareAndSet(null, fresh)) {
      fresh.attached();
      return fresh;
    }
    return monitor.get();
  }
}
