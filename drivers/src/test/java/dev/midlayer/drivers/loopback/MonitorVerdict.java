package dev.midlayer.drivers.loopback;

import dev.midlayer.Midlayer;
import dev.midlayer.monitor.ContractMonitor;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The contract monitor's verdict for the drivers' tests (attached by {@code midlayer.monitor.attach = on} in the
 * test configuration): after the actor system terminated, any violation fails the test, but leftovers of objects
 * no client made (these tests create objects directly and leave them to the unregistration to reclaim).
 */
final class MonitorVerdict {
  private MonitorVerdict() {}

  /** Fails if the monitor of {@code system}'s midlayer saw a violation; call after the system terminated. */
  static void assertNone(ActorSystem<?> system) {
    ContractMonitor m = Midlayer.get(system).monitor();
    if (m == null) {
      throw new AssertionError("no contract monitor is attached: midlayer.monitor.attach should be on in tests");
    }
    m.assertNone(system.name(), java.util.Set.of(), true);
  }
}
