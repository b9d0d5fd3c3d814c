package dev.midlayer.internal;

/**
 * Internal API. Which throwables a midlayer actor catches around code it does not own (consumer
 * callbacks, driver ops): everything except errors the JVM cannot recover from. A handler that throws
 * an {@code AssertionError} or a sneaky checked exception must not stop the actor that called it,
 * which would leave the registry waiting for a reply that never comes.
 */
public final class NonFatal {
  private NonFatal() {}

  /** True unless {@code t} is a {@link VirtualMachineError} (out of memory, stack overflow, ...) or a {@link LinkageError}. */
  public static boolean isNonFatal(Throwable t) {
    return !(t instanceof VirtualMachineError || t instanceof LinkageError);
  }

  /** Rethrows {@code t} if it is fatal; returns it otherwise, for use in a catch block. */
  public static Throwable rethrowIfFatal(Throwable t) {
    if (t instanceof VirtualMachineError e) {
      throw e;
    }
    if (t instanceof LinkageError e) {
      throw e;
    }
    return t;
  }
}
