package dev.midlayer.internal;

import dev.midlayer.client.ClientId;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.context.AtomicContext;
import org.slf4j.Logger;

/**
 * Internal API. How the midlayer's actors call consumer code (completion handlers, {@code Cqe} callbacks,
 * event handlers): in atomic context, watched by the {@link CallbackWatchdog}, and guarded, so that whatever
 * the callback throws is logged naming the callback (its object and its client) and the actor goes on. No
 * consumer callback can stop or wedge a midlayer actor.
 */
public final class CallbackGuard {
  private CallbackGuard() {}

  /**
   * Runs {@code body}, a call into consumer code named {@code callback} (e.g. "completion handler of CQ #3 on
   * lo0 (client 'ipoib')"). Returns false if it threw (logged on {@code log}); a fatal JVM error is rethrown.
   */
  public static boolean call(CallbackWatch watch, String callback, Logger log, Runnable body) {
    return call(watch, callback, null, log, body);
  }

  /** As {@link #call(CallbackWatch, String, Logger, Runnable)}; {@code what} (e.g. the event) is named in the log. */
  public static boolean call(CallbackWatch watch, String callback, Object what, Logger log, Runnable body) {
    return call(null, null, null, null, watch, callback, what, log, body);
  }

  /**
   * As {@link #call(CallbackWatch, String, Object, Logger, Runnable)}, reported to {@code monitor} (may be null)
   * as a callback of {@code owner} on {@code device}; {@code cq} is the CQ if the callback is a CQ's completion
   * handler or done callbacks, else null.
   */
  public static boolean call(ContractMonitor monitor, Object cq, Object device, ClientId owner, CallbackWatch watch,
      String callback, Object what, Logger log, Runnable body) {
    if (monitor != null) {
      monitor.callbackBegins(callback, cq, device, owner);
    }
    try {
      return guarded(watch, callback, what, log, body);
    } finally {
      if (monitor != null) {
        monitor.callbackEnded(cq);
      }
    }
  }

  private static boolean guarded(CallbackWatch watch, String callback, Object what, Logger log, Runnable body) {
    watch.begin(callback);
    try {
      AtomicContext.run(callback, body);
      return true;
    } catch (Throwable e) {
      if (what == null) {
        log.error("{} threw; the midlayer goes on", callback, NonFatal.rethrowIfFatal(e));
      } else {
        log.error("{} threw on {}; the midlayer goes on", callback, what, NonFatal.rethrowIfFatal(e));
      }
      return false;
    } finally {
      watch.end();
    }
  }
}
