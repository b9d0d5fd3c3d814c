package dev.midlayer.monitor;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * Check 4 of the {@link ContractMonitor}: BlockHound reports every blocking call (sleep, park, wait, join,
 * socket and file I/O, and, added here, {@code Thread.start}) made while the thread must not block, that is in
 * atomic context (a consumer callback) or inside a non-sleeping verb ({@link ContractMonitor#mustNotBlock()}).
 * Each becomes a {@link Check#BLOCKING} violation in every attached monitor; the call itself goes on, so that a
 * test of a deliberately hostile consumer still sees the behaviour it provokes, and fails at its end unless it
 * expected the violation.
 *
 * <p>Found by BlockHound's {@code ServiceLoader} when BlockHound is installed ({@code BlockHound.install()}, or
 * the {@code blockhound-junit-platform} listener in a test run; on Java 17 and later the JVM needs
 * {@code -XX:+AllowRedefinitionToAddDeleteMethods}). BlockHound is an optional dependency of the core.
 *
 * <p>Allowed, with the reason: {@code Thread.onSpinWait} (a pause hint, never a wait), logback's appenders (logging in a callback writes to the console or a file in
 * tests; production configurations put an async appender in front), and class loading (the first use of a class
 * in a callback reads its jar once; nothing a consumer can avoid).
 */
public final class MidlayerBlockHoundIntegration implements BlockHoundIntegration {
  @Override
  public void applyTo(BlockHound.Builder builder) {
    // Whether a thread may block changes from call to call (it enters and leaves callbacks and verbs), so the
    // predicate is evaluated at each blocking call, on the calling thread.
    builder.addDynamicThreadPredicate(t -> true);
    builder.nonBlockingThreadPredicate(p -> p.or(t -> t == Thread.currentThread() && ContractMonitor.mustNotBlock()));
    builder.markAsBlocking(Thread.class, "start", "()V");
    builder.allowBlockingCallsInside("ch.qos.logback.core.UnsynchronizedAppenderBase", "doAppend");
    builder.allowBlockingCallsInside("ch.qos.logback.core.AppenderBase", "doAppend");
    builder.allowBlockingCallsInside("java.lang.ClassLoader", "loadClass");
    builder.blockingMethodCallback(m -> {
      // Thread.onSpinWait is the CPU's pause hint (the kernel's cpu_relax, allowed in atomic context); BlockHound
      // lists it with yield, which does give up the CPU (the kernel's "scheduling while atomic") and stays a
      // violation.
      if (!(m.getClassName().equals("java.lang.Thread") && m.getName().equals("onSpinWait"))) {
        ContractMonitor.blockingCall(m.toString());
      }
    });
  }
}
