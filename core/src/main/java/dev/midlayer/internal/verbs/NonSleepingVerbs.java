package dev.midlayer.internal.verbs;

import dev.midlayer.client.ClientId;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.monitor.NonSleepingVerb;
import java.util.function.Supplier;

/**
 * Internal API. Runs the body of a non-sleeping verb inside the contract monitor's mark (the thread is inside
 * {@code verb}: it must not block, and no completion may be produced in its call chain). Only for verbs off the
 * hottest path (AH and FMR verbs): the posts and polls inline the same steps to allocate nothing.
 */
final class NonSleepingVerbs {
  private NonSleepingVerbs() {}

  static <T> T watched(ContractMonitor m, NonSleepingVerb verb, Object subject, Object device, ClientId owner,
      Supplier<T> body) {
    m.verbEntered(verb, subject, device, owner);
    try {
      return body.get();
    } finally {
      m.verbExited(verb);
    }
  }
}
