package dev.midlayer.testkit;

import dev.midlayer.monitor.Check;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test (or class) that breaks a rule on purpose: violations of these checks do not fail it under
 * {@link MonitorVerdictExtension}. The test should assert what it provokes itself ({@code monitor.violations(check)}).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface ExpectViolations {
  /** The checks whose violations the test provokes on purpose. Never blocks; read from any thread. */
  Check[] value();
}
