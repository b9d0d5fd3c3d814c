package dev.midlayer.cli.perftest;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;

/**
 * SIGINT (Ctrl-C) and SIGTERM while a perftest measures: the first asks the run to stop ({@code onStop}), so
 * that it completes what it posted and prints what it measured, as perftest's own handler does; a second one
 * gets the JVM's default (shutdown). Outside a measurement ({@link #close}d) the JVM's handlers are in place, so
 * a Ctrl-C while connecting exits at once.
 *
 * <p>Through {@code sun.misc.Signal} (module {@code jdk.unsupported}, the JDK's supported way to handle a
 * signal), by reflection so that the build has no internal-API warning; where it is missing, signals keep their
 * default (the JVM exits without the partial result). Installing and closing never block; the command's thread.
 * {@code onStop} runs on the JVM's signal thread: it must only set a flag.
 */
final class StopSignals implements AutoCloseable {
  private static final String[] SIGNALS = {"INT", "TERM"};

  private final List<Object[]> previous = new ArrayList<>(); // {signal, its handler before ours}

  private StopSignals() {}

  /** Installs the handlers; {@code onStop} is told the signal's name ({@code INT} or {@code TERM}). */
  static StopSignals install(java.util.function.Consumer<String> onStop) {
    StopSignals s = new StopSignals();
    try {
      Class<?> signalType = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      Method handle = signalType.getMethod("handle", signalType, handlerType);
      Method raise = signalType.getMethod("raise", signalType);
      Method name = signalType.getMethod("getName");
      for (String n : SIGNALS) {
        Object signal = signalType.getConstructor(String.class).newInstance(n);
        Object[] entry = new Object[2];
        Object ours = Proxy.newProxyInstance(handlerType.getClassLoader(), new Class<?>[] {handlerType},
            (proxy, method, args) -> {
              if (method.getName().equals("handle")) {
                if (!s.restored) {
                  onStop.accept((String) name.invoke(args[0]));
                  s.restore(handle); // the next one is the JVM's again
                } else {
                  raise.invoke(null, args[0]);
                }
                return null;
              }
              return method.getName().equals("hashCode") ? System.identityHashCode(proxy)
                  : method.getName().equals("equals") ? proxy == args[0] : "perftest stop handler";
            });
        entry[0] = signal;
        entry[1] = handle.invoke(null, signal, ours);
        s.previous.add(entry);
      }
      s.handle = handle;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError unavailable) {
      // No sun.misc.Signal here (or the signal is reserved): the defaults stay.
      s.restore(s.handle);
    }
    return s;
  }

  private Method handle;
  private volatile boolean restored;

  private synchronized void restore(Method handle) {
    if (restored || handle == null) {
      return;
    }
    restored = true;
    for (Object[] entry : previous) {
      try {
        handle.invoke(null, entry[0], entry[1]);
      } catch (ReflectiveOperationException | RuntimeException e) {
        // leave it: the process is stopping or the handler was never ours
      }
    }
  }

  /** Puts the JVM's handlers back. */
  @Override
  public void close() {
    restore(handle);
  }
}
